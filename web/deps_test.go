package web

import (
	"go/parser"
	gotoken "go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestImports: the web talks to the grid domain, never to the transport
// (mqtt/ but its contract types) and never up to ui/ or cmd/.
func TestImports(t *testing.T) {
	ents, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		n := e.Name()
		if !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(gotoken.NewFileSet(), n, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if (strings.HasPrefix(p, "linli/mqtt/") && p != "linli/mqtt/contract") || strings.HasPrefix(p, "linli/ui") ||
				strings.HasPrefix(p, "linli/cmd") || strings.HasPrefix(p, "fyne.io/") {
				t.Errorf("%s imports %s", n, p)
			}
		}
	}
}
