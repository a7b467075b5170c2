package bintest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

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

func TestWaitReady(t *testing.T) {
	var calls int
	WaitReady(t, "proc", time.Minute, nil, new(Buffer), func(ctx context.Context) error {
		if calls++; calls < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if calls != 3 {
		t.Errorf("try called %d times, want 3", calls)
	}
}

// fatalTB records a Fatalf and ends the goroutine, as testing.T does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestWaitReadyFails(t *testing.T) {
	exited := make(chan struct{})
	close(exited)
	var out Buffer
	out.Write([]byte("boom"))
	for _, c := range []struct {
		name   string
		exited chan struct{}
		want   string
	}{
		{"exited", exited, "proc exited: boom"},
		{"timeout", nil, "proc did not answer within 10ms: not yet\nboom"},
	} {
		f := &fatalTB{TB: t}
		done := make(chan struct{})
		go func() {
			defer close(done)
			WaitReady(f, "proc", 10*time.Millisecond, c.exited, &out, func(context.Context) error { return errors.New("not yet") })
		}()
		<-done
		if f.msg != c.want {
			t.Errorf("%s: Fatalf(%q), want %q", c.name, f.msg, c.want)
		}
	}
}
