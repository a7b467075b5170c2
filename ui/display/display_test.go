package display

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/embedded"
	"github.com/google/go-cmp/cmp"

	"linli/devices/evdev"
	"linli/devices/framebuffer"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// memSink keeps the frames drawn.
type memSink struct {
	size   image.Point
	frames []image.Image
	err    error
}

func (m *memSink) Size() image.Point { return m.size }
func (m *memSink) Draw(img image.Image) error {
	m.frames = append(m.frames, img)
	return m.err
}
func (m *memSink) Close() error { return nil }

// fakeLoop stands in for Fyne's embedded main loop: it takes events from
// the driver's queue and hands them to the test, and renders on each, as
// Fyne does for touch events. A nil event ends it, as in Fyne.
type fakeLoop struct {
	d      *Driver
	gate   chan struct{} // closed to start reading
	events chan embedded.Event
	ended  chan struct{}
}

func startLoop(t *testing.T, d *Driver) *fakeLoop {
	t.Helper()
	l := &fakeLoop{d: d, gate: make(chan struct{}), events: make(chan embedded.Event, 100), ended: make(chan struct{})}
	go func() {
		defer close(l.ended)
		d.Run(func() {
			<-l.gate
			for e := range d.Queue() {
				if e == nil {
					return
				}
				d.Render(image.NewNRGBA(image.Rect(0, 0, 4, 4)))
				l.events <- e
			}
		})
	}()
	t.Cleanup(func() {
		d.Quit()
		select {
		case <-l.gate:
		default:
			close(l.gate)
		}
		<-l.ended
	})
	return l
}

func (l *fakeLoop) next(t *testing.T) embedded.Event {
	t.Helper()
	select {
	case e := <-l.events:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event reached the main loop")
		return nil
	}
}

func describe(e embedded.Event) string {
	switch e := e.(type) {
	case *embedded.TouchDownEvent:
		return "down " + pos(e.ID, e.Position)
	case *embedded.TouchMoveEvent:
		return "move " + pos(e.ID, e.Position)
	case *embedded.TouchUpEvent:
		return "up " + pos(e.ID, e.Position)
	case nil:
		return "nil"
	}
	return "other"
}

func pos(id int, p fyne.Position) string {
	return fmt.Sprintf("%d@%.0f,%.0f", id, p.X, p.Y)
}

func TestPumpTranslatesAndMergesTouches(t *testing.T) {
	in := make(chan evdev.Touch)
	d := New(&memSink{size: image.Pt(4, 4)}, in, &Options{Logger: quiet, AfterDrag: -1, LateRefresh: -1})
	l := startLoop(t, d)
	// The loop is not reading yet: the moves pile up and merge.
	in <- evdev.Touch{Kind: evdev.Down, ID: 0, X: 10, Y: 20}
	in <- evdev.Touch{Kind: evdev.Move, ID: 0, X: 11, Y: 20}
	in <- evdev.Touch{Kind: evdev.Move, ID: 0, X: 12, Y: 20}
	in <- evdev.Touch{Kind: evdev.Move, ID: 0, X: 30, Y: 25}
	in <- evdev.Touch{Kind: evdev.Down, ID: 1, X: 100, Y: 100}
	in <- evdev.Touch{Kind: evdev.Move, ID: 0, X: 31, Y: 25} // not merged across another finger's event
	close(l.gate)
	in <- evdev.Touch{Kind: evdev.Up, ID: 0, X: 31, Y: 25}
	in <- evdev.Touch{Kind: evdev.Up, ID: 1, X: 100, Y: 100}
	var got []string
	for range 6 {
		got = append(got, describe(l.next(t)))
	}
	want := []string{"down 0@10,20", "move 0@30,25", "down 1@100,100", "move 0@31,25", "up 0@31,25", "up 1@100,100"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func TestRefreshInjectsNoop(t *testing.T) {
	in := make(chan evdev.Touch)
	d := New(&memSink{size: image.Pt(4, 4)}, in, &Options{Logger: quiet, AfterDrag: -1, LateRefresh: -1})
	l := startLoop(t, d)
	close(l.gate)
	n0, next := d.Frames()
	d.Refresh()
	if got := describe(l.next(t)); got != "move -1@0,0" {
		t.Errorf("refresh with no finger down = %q, want a move of the finger that does not exist", got)
	}
	<-next
	if n, _ := d.Frames(); n != n0+1 {
		t.Errorf("frames after refresh = %d, want %d", n, n0+1)
	}
	// With a finger down, the no-op is that finger staying where it is.
	in <- evdev.Touch{Kind: evdev.Down, ID: 2, X: 50, Y: 60}
	l.next(t)
	d.Refresh()
	if got := describe(l.next(t)); got != "move 2@50,60" {
		t.Errorf("refresh with a finger down = %q, want move 2@50,60", got)
	}
	// Many refreshes while nothing is taken merge into at most two renders.
	for range 50 {
		d.Refresh()
	}
	l.next(t)
	select {
	case e := <-l.events:
		if e2 := describe(e); e2 != "move 2@50,60" {
			t.Errorf("second merged refresh = %q", e2)
		}
	case <-time.After(50 * time.Millisecond):
	}
	select {
	case e := <-l.events:
		t.Errorf("50 refreshes gave a third event %q", describe(e))
	case <-time.After(50 * time.Millisecond):
	}
}

func TestLateRenders(t *testing.T) {
	in := make(chan evdev.Touch)
	d := New(&memSink{size: image.Pt(4, 4)}, in, &Options{Logger: quiet, AfterDrag: 30 * time.Millisecond, FrameInterval: time.Millisecond, LateRefresh: time.Millisecond})
	l := startLoop(t, d)
	close(l.gate)
	// A tap: one late render after the lift.
	in <- evdev.Touch{Kind: evdev.Down, ID: 0, X: 5, Y: 5}
	in <- evdev.Touch{Kind: evdev.Up, ID: 0, X: 5, Y: 5}
	for _, want := range []string{"down 0@5,5", "up 0@5,5", "move -1@0,0"} {
		if got := describe(l.next(t)); got != want {
			t.Errorf("tap: got %q, want %q", got, want)
		}
	}
	// A drag: renders keep coming after the lift, then stop.
	in <- evdev.Touch{Kind: evdev.Down, ID: 0, X: 5, Y: 5}
	in <- evdev.Touch{Kind: evdev.Move, ID: 0, X: 50, Y: 5}
	in <- evdev.Touch{Kind: evdev.Up, ID: 0, X: 50, Y: 5}
	for range 3 {
		l.next(t)
	}
	noops := 0
	for {
		select {
		case e := <-l.events:
			if got := describe(e); got != "move -1@0,0" {
				t.Fatalf("after drag: %q, want no-op moves", got)
			}
			noops++
			continue
		case <-time.After(300 * time.Millisecond):
		}
		break
	}
	if noops < 2 {
		t.Errorf("after a drag: %d renders, want several", noops)
	}
}

func TestQuitEndsLoop(t *testing.T) {
	d := New(&memSink{size: image.Pt(4, 4)}, nil, &Options{Logger: quiet})
	l := startLoop(t, d)
	close(l.gate)
	d.Quit()
	d.Quit()
	select {
	case <-l.ended:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after Quit")
	}
}

func TestRenderKeepsLastFrameAndCountsErrors(t *testing.T) {
	sink := &memSink{size: image.Pt(640, 480), err: errors.New("boom")}
	d := New(sink, nil, &Options{Logger: quiet})
	if got, want := d.ScreenSize(), fyne.NewSize(640, 480); got != want {
		t.Errorf("ScreenSize = %v, want %v", got, want)
	}
	if d.LastFrame() != nil {
		t.Error("LastFrame before any frame is not nil")
	}
	img := image.NewNRGBA(image.Rect(0, 0, 640, 480))
	_, next := d.Frames()
	d.Render(img)
	<-next
	d.Render(img)
	if d.LastFrame() != image.Image(img) {
		t.Error("LastFrame is not the frame rendered")
	}
	if n, _ := d.Frames(); n != 2 {
		t.Errorf("Frames = %d, want 2", n)
	}
	if got := d.DrawErrors(); got != 2 {
		t.Errorf("DrawErrors = %d, want 2", got)
	}
}

func TestPNGSink(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "screen.png")
	s, err := OpenSink("png:"+path, &SinkOptions{Size: image.Pt(320, 200), Numbered: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	img := image.NewNRGBA(image.Rectangle{Max: s.Size()})
	img.SetNRGBA(7, 9, color.NRGBA{0xff, 0, 0, 0xff})
	for range 2 { // the second, identical frame is not written again
		if err := s.Draw(img); err != nil {
			t.Fatal(err)
		}
	}
	img2 := image.NewNRGBA(image.Rectangle{Max: s.Size()})
	if err := s.Draw(img2); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if got.Bounds().Size() != image.Pt(320, 200) {
		t.Errorf("png size = %v, want 320x200", got.Bounds().Size())
	}
	if r, _, _, _ := got.At(7, 9).RGBA(); r != 0 {
		t.Errorf("png shows the first frame, want the last")
	}
	frames, _ := filepath.Glob(filepath.Join(dir, "frame-*.png"))
	if len(frames) != 2 {
		t.Errorf("numbered frames = %v, want 2", frames)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestFramebufferSink(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fb0")
	dev, err := framebuffer.OpenFile(path, framebuffer.Geometry{Width: 64, Height: 48, BitsPerPixel: 16, Stride: 160}, &framebuffer.Opts{Rotate: 90})
	if err != nil {
		t.Fatal(err)
	}
	s := NewFramebuffer(dev)
	defer s.Close()
	d := New(s, nil, &Options{Logger: quiet})
	if got, want := d.ScreenSize(), fyne.NewSize(48, 64); got != want {
		t.Errorf("ScreenSize of a rotated panel = %v, want %v", got, want)
	}
	img := image.NewNRGBA(image.Rect(0, 0, 48, 64))
	d.Render(img)
	img2 := image.NewNRGBA(image.Rect(0, 0, 48, 64))
	img2.SetNRGBA(0, 10, color.NRGBA{0xff, 0xff, 0xff, 0xff})
	d.Render(img2)
	if got := s.RowsWritten(); got != 65 {
		t.Errorf("rows written = %d, want 64 + 1", got)
	}
}

func TestOpenSinkErrors(t *testing.T) {
	for _, spec := range []string{"vnc", "png:", ""} {
		if _, err := OpenSink(spec, nil); !errors.Is(err, ErrSpec) {
			t.Errorf("OpenSink(%q) = %v, want ErrSpec", spec, err)
		}
	}
	if _, err := OpenSink("fb:"+filepath.Join(t.TempDir(), "fb7"), nil); err == nil {
		t.Error("OpenSink of a missing framebuffer succeeded")
	}
}
