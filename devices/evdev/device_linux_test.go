package evdev

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestRunStopsBlockedRead checks that cancelling the context interrupts
// a read that waits for the next event, as on a quiet touch screen. A pipe
// stands in for the device node: both are pollable, so the read deadline
// works the same way.
func TestRunStopsBlockedRead(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(chan Touch, 10)
	done := make(chan error)
	go func() { done <- run(ctx, pr, panel, false, out) }()

	if _, err := pw.Write(singleTouch(wordSize())); err != nil {
		t.Fatal(err)
	}
	for i := range len(singleTouchWant) {
		if got := <-out; got != singleTouchWant[i] {
			t.Errorf("touch %d = %v, want %v", i, got, singleTouchWant[i])
		}
	}
	cancel() // the reader is now blocked in read(2)
	if err := <-done; err != nil {
		t.Errorf("run after cancel = %v, want nil", err)
	}
}

// wordSize is this program's long size, which NewReader(r, 0) uses.
func wordSize() int { return strconv.IntSize / 8 }

func TestOpenNotATouchScreen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "event0")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, &Opts{Width: 10, Height: 10}); err == nil {
		t.Error("Open of a regular file succeeded")
	}
	if _, err := Open(path, nil); err == nil {
		t.Error("Open without a screen size succeeded")
	}
}

// TestIoctlNumbers pins the request numbers to the values of the C macros
// in include/uapi/linux/input.h.
func TestIoctlNumbers(t *testing.T) {
	if got := eviocgabs(AbsMTPositionX); got != 0x80184575 {
		t.Errorf("EVIOCGABS(ABS_MT_POSITION_X) = %#x, want 0x80184575", got)
	}
	if got := eviocgabs(AbsX); got != 0x80184540 {
		t.Errorf("EVIOCGABS(ABS_X) = %#x, want 0x80184540", got)
	}
	if eviocgrab != 0x40044590 {
		t.Errorf("EVIOCGRAB = %#x, want 0x40044590", eviocgrab)
	}
}
