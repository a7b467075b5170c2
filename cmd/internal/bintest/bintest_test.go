package bintest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"linli/firmware/updater"
)

func TestLdflags(t *testing.T) {
	for _, c := range []struct {
		version string
		extra   []string
		want    string
	}{
		{"", nil, "-s -w"},
		{"v2", nil, "-s -w -X linli/firmware/version.Version=v2"},
		{"v3", []string{"main.x=y", ""}, "-s -w -X linli/firmware/version.Version=v3 -X main.x=y"},
	} {
		if got := Ldflags(c.version, c.extra...); got != c.want {
			t.Errorf("Ldflags(%q, %q) = %q, want %q", c.version, c.extra, got, c.want)
		}
	}
}

func TestFreeAddr(t *testing.T) {
	addr := FreeAddr(t)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on FreeAddr %s: %v", addr, err)
	}
	l.Close()
}

func TestBuffer(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() { fmt.Fprintf(&b, "%d", i%2) })
	}
	wg.Wait()
	if got := len(b.String()); got != 10 {
		t.Errorf("len = %d, want 10", got)
	}
}

func TestProcReaders(t *testing.T) {
	pid := os.Getpid()
	_ = CPUTicks(t, pid) // parses, or fails the test
	if rss := StatusBytes(t, pid, "VmRSS"); rss < 1<<20 {
		t.Errorf("VmRSS = %.0f bytes, want at least 1 MiB", rss)
	}
}

func TestBinaries(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go build")
	}
	src := filepath.Join(t.TempDir(), "hello.go")
	if err := os.WriteFile(src, []byte("package main\n\nfunc main() { println(\"hello\") }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b := &Binaries{Pkgs: []string{src}}
	defer b.Remove()
	p := b.Path(t, "hello")
	if p2 := b.Path(t, "hello"); p2 != p {
		t.Errorf("second Path = %s, want %s", p2, p)
	}
	out, err := exec.Command(p).CombinedOutput()
	if err != nil || string(out) != "hello\n" {
		t.Errorf("%s: %q, %v; want \"hello\\n\"", p, out, err)
	}
	if err := GoBuild(nil, "-o", t.TempDir()+"/", "linli/cmd/no-such-binary"); err == nil {
		t.Error("GoBuild of a missing package: no error")
	}
}

func TestSignerShip(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "prog")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho v1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := NewSigner(t, dir, "prog")
	root := filepath.Join(dir, "opt")
	s.WriteKeys(filepath.Join(root, "roots.pub"))
	s.Ship(root, s.Bundle("v1", 1, bin, ""))
	got, err := os.ReadFile(filepath.Join(root, "current", "prog"))
	if err != nil || string(got) != "#!/bin/sh\necho v1\n" {
		t.Errorf("current/prog = %q, %v; want the shipped file", got, err)
	}
	if keys, err := os.ReadFile(filepath.Join(root, "roots.pub")); err != nil || string(keys) != string(s.PublicPEM) {
		t.Errorf("roots.pub = %q, %v; want the signer's public key", keys, err)
	}

	// A bundle of another signer is refused by an updater trusting s.
	other := NewSigner(t, t.TempDir(), "prog")
	u, err := updater.Open(&updater.Options{Root: root, Roots: s.Keys})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if _, err := u.Install(other.Bundle("v2", 2, bin, "")); err == nil {
		t.Error("a bundle signed by another key was installed")
	}
}
