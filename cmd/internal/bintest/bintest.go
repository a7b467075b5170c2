package bintest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"linli/internal/freeport"
)

// GoBuild runs "go build args..." with CGO_ENABLED=0 and env appended to
// the environment. The error holds the compiler's output.
func GoBuild(env []string, args ...string) error {
	cmd := exec.Command("go", append([]string{"build"}, args...)...)
	cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0"), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("bintest: go build %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// BuildVersion builds the package pkg into out as firmware version with
// the extra -X settings (see Ldflags), failing t on error. Call it from
// the test's goroutine.
func BuildVersion(t testing.TB, out, pkg, version string, extra ...string) string {
	t.Helper()
	if err := GoBuild(nil, "-ldflags", Ldflags(version, extra...), "-o", out, pkg); err != nil {
		t.Fatal(err)
	}
	return out
}

// Ldflags returns the -ldflags value of a stripped build ("-s -w") that
// sets linli/firmware/version.Version to version and each of extra
// ("pkg.name=value") with -X. Empty values are left out.
func Ldflags(version string, extra ...string) string {
	ld := "-s -w"
	if version != "" {
		ld += " -X linli/firmware/version.Version=" + version
	}
	for _, e := range extra {
		if e != "" {
			ld += " -X " + e
		}
	}
	return ld
}

// Binaries builds Pkgs into one temporary directory, once per test binary,
// the first time a test asks for one of them. Call Remove from TestMain
// after m.Run.
type Binaries struct {
	Pkgs []string // import paths (or ".") of main packages

	once sync.Once
	dir  string
	err  error
}

// Path returns the path of the binary called name (the last element of its
// package path), building all of Pkgs on the first call. It skips the test
// in -short mode and fails it when the build failed.
func (b *Binaries) Path(t testing.TB, name string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs binaries")
	}
	b.once.Do(func() {
		if b.dir, b.err = os.MkdirTemp("", "bintest"); b.err != nil {
			return
		}
		b.err = GoBuild(nil, append([]string{"-o", b.dir + "/"}, b.Pkgs...)...)
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return filepath.Join(b.dir, name)
}

// Remove deletes the built binaries, if any.
func (b *Binaries) Remove() {
	if b.dir != "" {
		os.RemoveAll(b.dir)
	}
}

// FreeAddr returns a free 127.0.0.1 address from freeport: below the
// kernel's ephemeral range, so no client's local end takes it before the
// program binds it.
func FreeAddr(t testing.TB) string {
	t.Helper()
	a, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Buffer is a bytes.Buffer safe for a process's writes and the test's
// reads. The zero value is ready to use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// CPUTicks returns utime+stime of pid from /proc/PID/stat, in clock ticks
// (USER_HZ, 1/100 s on Linux).
func CPUTicks(t testing.TB, pid int) uint64 {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	// The command name (field 2) may hold spaces: fields count from its ')'.
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		t.Fatalf("parse /proc/%d/stat: %q", pid, s)
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("parse /proc/%d/stat: %q", pid, s)
	}
	return u + st
}

// StatusBytes returns a "kB" field of /proc/PID/status (VmRSS, VmHWM...)
// in bytes.
func StatusBytes(t testing.TB, pid int, field string) float64 {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				t.Fatalf("parse %s: %q", field, line)
			}
			return kb * 1024
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// WaitReady calls try every 100 ms until it returns nil: a started
// process (name, for messages) answers. try gets a context that ends with
// the wait. WaitReady fails t, with the process's output, when exited is
// closed first (the process died) or when timeout passes.
func WaitReady(t testing.TB, name string, timeout time.Duration, exited <-chan struct{}, out fmt.Stringer, try func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		err := try(ctx)
		if err == nil {
			return
		}
		select {
		case <-exited:
			t.Fatalf("%s exited: %s", name, out.String())
		case <-ctx.Done():
			t.Fatalf("%s did not answer within %s: %v\n%s", name, timeout, err, out.String())
		case <-time.After(100 * time.Millisecond): // polling another process
		}
	}
}
