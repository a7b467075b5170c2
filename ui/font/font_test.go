package font

import (
	"os"
	"strings"
	"testing"

	"linli/ui/i18n"
)

func TestMissing(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"邻里自助服务站", ""},
		{"Linli 0123 °C", ""},
		{"通知：明天停水。", ""}, // GB 2312 text from the network
		{"⟦x⟧", "⟦⟧"},
		{"𠀀", "𠀀"}, // CJK extension B, not bundled
	}
	for _, tt := range tests {
		got, err := Missing(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tt.want {
			t.Errorf("Missing(%q) = %q, want %q", tt.in, string(got), tt.want)
		}
	}
}

// TestTableCovered fails when a translation uses a rune the fonts lack: run
// go generate ./ui/font.
func TestTableCovered(t *testing.T) {
	got, err := Missing(i18n.All()...)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) > 0 {
		t.Errorf("runes missing from the bundled font: %q; run go generate ./ui/font", string(got))
	}
}

// TestRunesFileCurrent fails when runes.txt, the record of what gen.sh
// subsetted for, lags behind the translation table.
func TestRunesFileCurrent(t *testing.T) {
	b, err := os.ReadFile("runes.txt")
	if err != nil {
		t.Fatal(err)
	}
	have := strings.TrimSpace(string(b))
	for _, s := range i18n.All() {
		for _, r := range s {
			if r > 0x7e && !strings.ContainsRune(have, r) {
				t.Errorf("rune %q of %q not in runes.txt; run go generate ./ui/font", r, s)
			}
		}
	}
}

func TestSize(t *testing.T) {
	if n := len(ttf); n > 2<<20 {
		t.Errorf("bundled font is %d bytes, want < 2 MiB", n)
	}
}
