package main

import (
	"strings"
	"testing"
)

// TestHelpFits80Columns: gridctl -h padded every command line to the
// longest synopsis, 120 columns and more (issue 9, item 7).
func TestHelpFits80Columns(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"help"}, {}} {
		r := gridctl(t, "tcp://127.0.0.1:1", args...)
		out := r.stdout + r.stderr
		for _, l := range strings.Split(out, "\n") {
			if w := width(l); w > helpWidth {
				t.Errorf("gridctl %v: line of %d columns: %q", args, w, l)
			}
		}
		for name, c := range commands {
			if !strings.Contains(out, "\n  "+name) || !strings.Contains(out, strings.Fields(c.summary)[0]) {
				t.Errorf("gridctl %v does not list %s", args, name)
			}
		}
	}
}

func TestWrapWords(t *testing.T) {
	tests := []struct {
		s    string
		cols int
		want []string
	}{
		{"a b c", 10, []string{"a b c"}},
		{"aaa bbb ccc", 7, []string{"aaa bbb", "  ccc"}},
		{"toolongword x", 4, []string{"toolongword", "  x"}},
		{"网格 员工 报警", 9, []string{"网格 员工", "  报警"}},
	}
	for _, tt := range tests {
		if got := wrapWords(tt.s, tt.cols, "  "); strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("wrapWords(%q, %d) = %q, want %q", tt.s, tt.cols, got, tt.want)
		}
	}
}
