// Package cmd_test checks the repository's layout rules: every package has a
// doc.go with a package comment, and the contract packages stay free of
// heavy dependencies (STYLE.md 2 and 25).
package cmd_test

import (
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// TestDocGo checks that every non-main package directory has a doc.go whose
// package comment starts with "Package <name>".
func TestDocGo(t *testing.T) {
	root := repoRoot(t)
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bin" || name == "dist") {
			return filepath.SkipDir
		}
		pkgs, err := packageNames(path)
		if err != nil || len(pkgs) == 0 {
			return nil
		}
		for pkgName := range pkgs {
			if pkgName == "main" {
				return nil
			}
			rel, _ := filepath.Rel(root, path)
			f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(path, "doc.go"), nil, parser.ParseComments|parser.PackageClauseOnly)
			if err != nil {
				t.Errorf("%s: package %s has no doc.go", rel, pkgName)
				continue
			}
			if f.Doc == nil || !strings.HasPrefix(f.Doc.Text(), "Package "+pkgName+" ") {
				t.Errorf("%s/doc.go: package comment must start with %q", rel, "Package "+pkgName+" ")
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// packageNames returns the package clauses of the non-test Go files in dir
// (parser.ParseDir is deprecated).
func packageNames(dir string) (map[string]bool, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	pkgs := map[string]bool{}
	fset := token.NewFileSet()
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.PackageClauseOnly)
		if err != nil {
			return nil, err
		}
		pkgs[f.Name.Name] = true
	}
	return pkgs, nil
}

// TestDeps checks which packages may import what: only ui/ and cmd/kiosk may
// import Fyne, and only cmd/ may import os/exec.
func TestDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps=false", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "linli/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		pkg, imports := fields[0], fields[1:]
		fyneOK := strings.HasPrefix(pkg, "linli/ui") || pkg == "linli/cmd/kiosk"
		execOK := strings.HasPrefix(pkg, "linli/cmd/") || strings.HasSuffix(pkg, "test")
		for _, imp := range imports {
			if strings.HasPrefix(imp, "fyne.io/") && !fyneOK {
				t.Errorf("%s imports %s: only ui/ and cmd/kiosk may import Fyne", pkg, imp)
			}
			if imp == "os/exec" && !execOK {
				t.Errorf("%s imports os/exec: only cmd/ (and test helpers) may", pkg)
			}
		}
	}
	// The device-side contract packages must not pull Fyne in transitively.
	for _, pkg := range []string{"linli/cmd/sensord", "linli/mqtt/contract", "linli/devices/..."} {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			continue // not written yet
		}
		if strings.Contains(string(out), "fyne.io/") {
			t.Errorf("%s depends on Fyne", pkg)
		}
	}
}
