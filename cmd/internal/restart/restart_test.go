package restart

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"linli/firmware/device"
)

func TestInto(t *testing.T) {
	var gotPath string
	var gotArgs []string
	execve = func(path string, args []string, env []string) error {
		gotPath, gotArgs = path, args
		return errors.New("exec failed")
	}
	orig := execve
	t.Cleanup(func() { execve = orig })
	other := errors.New("other")
	tests := []struct {
		name     string
		err      error
		want     error // nil: the exec's error
		wantPath string
		wantArgs []string
	}{
		{"nil", nil, nil, "", nil},
		{"other error", other, other, "", nil},
		{"restart", &Error{Path: "/r/current/sensord", Args: []string{"sensord", "run"}}, nil, "/r/current/sensord", []string{"sensord", "run"}},
		{"wrapped restart", fmt.Errorf("run: %w", &Error{Path: "/r/current/kiosk"}), nil, "/r/current/kiosk", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotPath, gotArgs = "", nil
			var before int
			var logged []string
			err := Into(tt.err, func() { before++ }, func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) })
			if tt.wantPath == "" {
				if !errors.Is(err, tt.want) || before != 0 || gotPath != "" || logged != nil {
					t.Errorf("Into(%v) = %v, before %d, exec %q, logged %q; want %v and nothing done", tt.err, err, before, gotPath, logged, tt.want)
				}
				return
			}
			if err == nil || err.Error() != "exec failed" {
				t.Errorf("Into = %v, want the exec's error", err)
			}
			if gotPath != tt.wantPath || !cmp.Equal(gotArgs, tt.wantArgs) || before != 1 {
				t.Errorf("exec %q %q after %d before calls, want %q %q after 1", gotPath, gotArgs, before, tt.wantPath, tt.wantArgs)
			}
			if want := []string{"restarting into " + tt.wantPath}; !cmp.Equal(logged, want) {
				t.Errorf("logged %q, want %q", logged, want)
			}
		})
	}
}

func TestLatch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l := NewLatch(cancel)
	if err := l.Err(); err != nil {
		t.Fatalf("Err before a request = %v, want nil", err)
	}
	if err := l.Exec("/r/current/kiosk", []string{"kiosk", "run"}); err != nil {
		t.Fatalf("Exec = %v, want nil", err)
	}
	if ctx.Err() == nil {
		t.Error("the run was not cancelled")
	}
	var re *Error
	if !errors.As(l.Err(), &re) {
		t.Fatalf("Err = %v, want an *Error", l.Err())
	}
	if diff := cmp.Diff(&Error{Path: "/r/current/kiosk", Args: []string{"kiosk", "run"}}, re); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
	if got, want := re.Error(), "restart into /r/current/kiosk"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestOpenDevice(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	// A root without root keys cannot check bundles: updates are off.
	root := filepath.Join(t.TempDir(), "root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	d := OpenDevice(&device.Options{Root: root, Program: "sensord", Logger: logger}, "")
	defer d.Close()
	if d.Enabled() {
		t.Error("a Device without root keys is enabled")
	}
	if !strings.Contains(logs.String(), "firmware updates are off") {
		t.Errorf("log %q, want the reason updates are off", logs.String())
	}

	logs.Reset()
	off := OpenDevice(&device.Options{Logger: logger}, "/media/*")
	defer off.Close()
	if off.Enabled() || logs.Len() != 0 {
		t.Errorf("no root: enabled %v, log %q; want disabled and no complaint", off.Enabled(), logs.String())
	}
}

func TestSplitDirs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{" , ,", nil},
		{"/media/*/linli, /mnt/usb ,", []string{"/media/*/linli", "/mnt/usb"}},
	}
	for _, tt := range tests {
		if got := splitDirs(tt.in); !cmp.Equal(got, tt.want) {
			t.Errorf("splitDirs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
