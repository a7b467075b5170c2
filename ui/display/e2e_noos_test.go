//go:build noos

// End-to-end tests and benchmarks of the driver under Fyne's real embedded
// driver, which only exists with the noos build tag:
//
//	go test -tags noos ./ui/display/...
//	go test -tags noos -run XXX -bench . ./ui/display/
//
// Each test runs one Fyne app: Fyne keeps one current app per process, so
// these tests do not run in parallel.

package display_test

import (
	"bytes"
	"context"
	"image"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"linli/devices/evdev"
	"linli/devices/framebuffer"
	"linli/ui/display"
)

// kiosk is a running Fyne app on a file-backed framebuffer.
type kiosk struct {
	drv     *display.Driver
	sink    *display.Framebuffer
	fbPath  string
	win     fyne.Window
	touches chan evdev.Touch
	taps    chan struct{}
	button  *widget.Button
	counter *widget.Label
	banner  *widget.Label
	ended   chan struct{}
	cal     evdev.Calibration
}

func startKiosk(tb testing.TB, w, h int) *kiosk {
	tb.Helper()
	home := tb.TempDir()
	tb.Setenv("HOME", home) // Fyne keeps preferences under $HOME/.config/fyne
	tb.Setenv("LANG", "en_US.UTF-8")
	k := &kiosk{
		fbPath:  filepath.Join(home, "fb0"),
		touches: make(chan evdev.Touch),
		taps:    make(chan struct{}, 100),
		ended:   make(chan struct{}),
		// raw 0..4(w-1): raw value 4·p is exactly pixel p
		cal: evdev.Calibration{XMax: int32(4 * (w - 1)), YMax: int32(4 * (h - 1)), Width: w, Height: h},
	}
	// 32 bpp with 64 bytes of padding on each row, like many SoC drivers.
	dev, err := framebuffer.OpenFile(k.fbPath, framebuffer.Geometry{Width: w, Height: h, BitsPerPixel: 32, Stride: w*4 + 64}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	k.sink = display.NewFramebuffer(dev)
	k.drv = display.New(k.sink, k.touches, &display.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})

	a := app.NewWithID("linli.display.test")
	app.SetDriverDetails(a, k.drv)
	n := 0
	k.counter = widget.NewLabel("taps: 0")
	k.banner = widget.NewLabel("all quiet")
	k.button = widget.NewButton("Report a problem", func() {
		n++
		k.counter.SetText("taps: " + strconv.Itoa(n))
		k.taps <- struct{}{}
	})
	grid := container.NewGridWithColumns(4)
	for _, name := range []string{"Water", "Power", "Lift", "Noise", "Litter", "Lights", "Parking", "Other"} {
		grid.Add(widget.NewButton(name, func() {}))
	}
	k.win = a.NewWindow("kiosk")
	k.win.SetContent(container.NewVBox(k.banner, k.button, k.counter, grid))
	k.win.Show()
	go func() {
		defer close(k.ended)
		a.Run()
	}()
	// Once the UI goroutine runs a function, Run's first render is done.
	fyne.DoAndWait(func() {})
	tb.Cleanup(func() {
		k.drv.Quit()
		<-k.ended
		if err := k.sink.Close(); err != nil {
			tb.Error(err)
		}
	})
	return k
}

// center returns the centre on the screen of an object placed directly in
// the window's content container. (The embedded driver's
// AbsolutePositionForObject knows no canvas for objects it has not been
// asked to paint through a real canvas, so it is computed here.)
func (k *kiosk) center(o fyne.CanvasObject) fyne.Position {
	var p fyne.Position
	fyne.DoAndWait(func() {
		p = k.win.Content().Position().Add(o.Position()).AddXY(o.Size().Width/2, o.Size().Height/2)
	})
	return p
}

// recording is what the touch screen sends for one finger going down at
// p (down=true) or being lifted (down=false), on a 64-bit kernel.
func (k *kiosk) recording(p fyne.Position, down bool) []byte {
	var b []byte
	ev := func(typ, code uint16, v int32) {
		b = evdev.AppendEvent(b, 8, evdev.Event{Time: time.Now(), Type: typ, Code: code, Value: v})
	}
	ev(evdev.EvAbs, evdev.AbsMTSlot, 0)
	if down {
		ev(evdev.EvAbs, evdev.AbsMTTrackingID, 7)
		ev(evdev.EvAbs, evdev.AbsMTPositionX, int32(4*p.X))
		ev(evdev.EvAbs, evdev.AbsMTPositionY, int32(4*p.Y))
		ev(evdev.EvKey, evdev.BtnTouch, 1)
	} else {
		ev(evdev.EvAbs, evdev.AbsMTTrackingID, -1)
		ev(evdev.EvKey, evdev.BtnTouch, 0)
	}
	ev(evdev.EvSyn, evdev.SynReport, 0)
	return b
}

// feed replays bytes through the evdev reader and tracker into the
// driver, as the device's Run does.
func (k *kiosk) feed(tb testing.TB, tr *evdev.Tracker, rec []byte) {
	tb.Helper()
	r, err := evdev.NewReader(bytes.NewReader(rec), 8)
	if err != nil {
		tb.Fatal(err)
	}
	if err := evdev.Stream(context.Background(), r, tr, k.touches); err != nil {
		tb.Fatal(err)
	}
}

func waitFrame(tb testing.TB, next <-chan struct{}) {
	tb.Helper()
	select {
	case <-next:
	case <-time.After(20 * time.Second):
		tb.Fatal("no frame drawn")
	}
}

// TestTapReachesButton taps the button through a recorded evdev stream and
// checks the tap arrives, the framebuffer shows the new frame, and only
// changed rows were written.
func TestTapReachesButton(t *testing.T) {
	k := startKiosk(t, 320, 240)
	at := k.center(k.button)
	tr := evdev.NewTracker(k.cal, true)
	before := k.sink.RowsWritten()
	k.feed(t, tr, k.recording(at, true))
	k.feed(t, tr, k.recording(at, false))
	select {
	case <-k.taps:
	case <-time.After(20 * time.Second):
		t.Fatal("the tap did not reach the button")
	}
	// The UI goroutine renders right after the tap handler returns; once
	// it runs this function, the frame showing "taps: 1" is drawn.
	fyne.DoAndWait(func() {})
	written := k.sink.RowsWritten() - before
	if written == 0 || written >= 2*240 {
		t.Errorf("rows written for a press and a lift = %d, want some, far fewer than two full frames", written)
	}
	checkFramebufferShows(t, k, k.drv.LastFrame())
}

// TestRefreshShowsUpdateWithoutTouch is the alert at 3 a.m.: a label
// changed with fyne.Do from another goroutine reaches the framebuffer
// after Refresh, with no touch at all.
func TestRefreshShowsUpdateWithoutTouch(t *testing.T) {
	k := startKiosk(t, 320, 240)
	first := k.drv.LastFrame()

	n, next := k.drv.Frames()
	fyne.Do(func() { k.banner.SetText("ALARM: smoke in building 3, unit 2") })
	k.drv.Refresh()
	waitFrame(t, next)
	if m, _ := k.drv.Frames(); m != n+1 {
		t.Errorf("frames after one refresh = %d, want %d", m, n+1)
	}
	last := k.drv.LastFrame()
	if bytes.Equal(first.(*image.NRGBA).Pix, last.(*image.NRGBA).Pix) {
		t.Fatal("the frame after Refresh does not show the update")
	}
	checkFramebufferShows(t, k, last)
}

// checkFramebufferShows compares the framebuffer file with img: every
// pixel, converted to XRGB8888 with the row padding skipped.
func checkFramebufferShows(t *testing.T, k *kiosk, img image.Image) {
	t.Helper()
	raw, err := os.ReadFile(k.fbPath)
	if err != nil {
		t.Fatal(err)
	}
	m := img.(*image.NRGBA)
	w, h := m.Bounds().Dx(), m.Bounds().Dy()
	stride := w*4 + 64
	bad := 0
	for y := range h {
		for x := range w {
			p := m.Pix[y*m.Stride+x*4:]
			f := raw[y*stride+x*4:]
			if f[0] != p[2] || f[1] != p[1] || f[2] != p[0] {
				bad++
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d pixels of the framebuffer differ from the last frame", bad)
	}
}

// BenchmarkTapToFrame measures, at 1024×600, the time from the lift of a
// finger on the button (its evdev bytes handed to the reader) to the new
// frame written in the framebuffer, against Fyne's own full-canvas
// software render (Canvas().Capture() of the same window, on the UI
// goroutine) measured between the taps. x-fyne-render is the ratio of the
// medians; the target is ≤ 1.2.
func BenchmarkTapToFrame(b *testing.B) {
	k := startKiosk(b, 1024, 600)
	at := k.center(k.button)
	tr := evdev.NewTracker(k.cal, true)
	down, up := k.recording(at, true), k.recording(at, false)

	var taps, renders []time.Duration
	for b.Loop() {
		_, next := k.drv.Frames()
		k.feed(b, tr, down)
		waitFrame(b, next) // the press is drawn, as a finger rests ~100 ms

		_, next = k.drv.Frames()
		t0 := time.Now()
		k.feed(b, tr, up)
		<-k.taps
		waitFrame(b, next)
		taps = append(taps, time.Since(t0))

		fyne.DoAndWait(func() {
			t0 := time.Now()
			_ = k.win.Canvas().Capture()
			renders = append(renders, time.Since(t0))
		})
	}
	tap, render := median(taps), median(renders)
	b.ReportMetric(float64(tap)/float64(render), "x-fyne-render")
	b.ReportMetric(tap.Seconds()*1000, "ms-p50")
	b.ReportMetric(render.Seconds()*1000, "ms-fyne-render-p50")
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkIdleCPU measures the CPU the running kiosk uses while nobody
// touches it, as a percentage of one core (target ≤ 1). Each op is 200 ms
// of idling, so `-benchtime 10x` measures 2 s.
func BenchmarkIdleCPU(b *testing.B) {
	k := startKiosk(b, 1024, 600)
	time.Sleep(700 * time.Millisecond) // let the start-up work settle
	n0, _ := k.drv.Frames()
	cpu0, wall0 := cpuTime(b), time.Now()
	for b.Loop() {
		time.Sleep(200 * time.Millisecond)
	}
	cpu, wall := cpuTime(b)-cpu0, time.Since(wall0)
	n1, _ := k.drv.Frames()
	b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "%-core")
	b.ReportMetric(float64(n1-n0), "frames-idle")
}

func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
