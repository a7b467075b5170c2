package i18n

import (
	"strings"
	"testing"
)

func TestTable(t *testing.T) {
	for _, k := range Keys() {
		zh, en := ZH.T(k), EN.T(k)
		if zh == "" || en == "" {
			t.Errorf("%s: empty text (zh %q, en %q)", k, zh, en)
		}
		if strings.Count(zh, "%") != strings.Count(en, "%") {
			t.Errorf("%s: format verbs differ: %q / %q", k, zh, en)
		}
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Lang
		ok   bool
	}{{"zh", ZH, true}, {"en_GB.UTF-8", EN, true}, {"fr", ZH, false}, {"", ZH, false}}
	for _, tt := range tests {
		if got, ok := Parse(tt.in); got != tt.want || ok != tt.ok {
			t.Errorf("Parse(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
