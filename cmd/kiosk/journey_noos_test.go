//go:build noos

package main

import (
	"bytes"
	"context"
	"image"
	"image/draw"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"linli/cmd/internal/bintest"
	"linli/devices/evdev"
	"linli/ui"
	"linli/ui/i18n"
)

// touchScreen drives the kiosk running on Fyne's embedded driver and
// ui/display (the device build) with touches, as the evdev reader sends
// them: a finger down and up at the centre of a button found on screen.
type touchScreen struct {
	t       *testing.T
	w       fyne.Window
	k       *ui.Kiosk
	touches chan evdev.Touch
	taps    int
}

// center returns the centre on the screen of the tappable labelled label
// (an overlay, drawn last, wins), computed from the positions of the
// objects on the way down from the window's content and its overlays.
// The embedded driver's AbsolutePositionForObject does not do: it looks
// the object's canvas up in a cache its software painter never fills,
// and answers (0, 0).
func (s *touchScreen) center(label string) (fyne.Position, bool) {
	var at fyne.Position
	found := false
	var walk func(o fyne.CanvasObject, parent fyne.Position)
	walk = func(o fyne.CanvasObject, parent fyne.Position) {
		if o == nil || !o.Visible() {
			return
		}
		pos := parent.Add(o.Position())
		if _, ok := o.(fyne.Tappable); ok {
			if strings.TrimSpace(text(o)) == label {
				at, found = pos.AddXY(o.Size().Width/2, o.Size().Height/2), true
			}
			return
		}
		switch v := o.(type) {
		case *fyne.Container:
			for _, c := range v.Objects {
				walk(c, pos)
			}
		case fyne.Widget:
			for _, c := range test.WidgetRenderer(v).Objects() {
				walk(c, pos)
			}
		}
	}
	walk(s.w.Content(), fyne.Position{})
	for _, o := range s.w.Canvas().Overlays().List() {
		walk(o, fyne.Position{})
	}
	return at, found
}

// tap touches the buttons labelled by i18n keys (in the session's
// language) or literal labels. A label not on screen yet (a screen
// still being built) is waited for.
func (s *touchScreen) tap(labels ...string) {
	s.t.Helper()
	for _, l := range labels {
		var at fyne.Position
		deadline := time.Now().Add(20 * time.Second)
		for ok := false; !ok; {
			fyne.DoAndWait(func() {
				if i18n.Has(l) {
					l = s.k.Lang().T(l)
				}
				at, ok = s.center(l)
			})
			if !ok && time.Now().After(deadline) {
				s.t.Fatalf("no button %q on %s", l, s.screen())
			}
			if !ok {
				time.Sleep(10 * time.Millisecond) // the UI goroutine builds the next screen
			}
		}
		s.taps++
		s.touches <- evdev.Touch{Kind: evdev.Down, ID: s.taps, X: at.X, Y: at.Y}
		s.touches <- evdev.Touch{Kind: evdev.Up, ID: s.taps, X: at.X, Y: at.Y}
	}
}

func (s *touchScreen) digits(n string) {
	s.t.Helper()
	for _, d := range n {
		s.tap(string(d))
	}
}

func (s *touchScreen) screen() ui.Screen {
	var out ui.Screen
	fyne.DoAndWait(func() { out = s.k.Screen() })
	return out
}

func (s *touchScreen) texts() string {
	var out string
	fyne.DoAndWait(func() { out = text(s.w.Content()) })
	return out
}

// want waits until the touches sent so far have taken the kiosk to
// screen want.
func (s *touchScreen) want(want ui.Screen) {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for s.screen() != want {
		if time.Now().After(deadline) {
			s.t.Fatalf("screen %s, want %s; it shows:\n%s", s.screen(), want, s.texts())
		}
		time.Sleep(10 * time.Millisecond) // touches go through the driver's queue
	}
}

// TestTouchJourney files a report on the device build: the kiosk's own
// runUI on Fyne's embedded driver over ui/display, drawing PNG frames,
// with touches sent on the channel the evdev reader feeds — category,
// building and unit, door number on the keypad, a phrase, phone and
// consent, confirm — and checks the confirmation shows a ticket number,
// that the service has it, and that the frames drawn changed.
func TestTouchJourney(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home) // Fyne keeps preferences under $HOME/.config/fyne
	cfgPath := filepath.Join(home, "kiosk.json")
	if err := os.WriteFile(cfgPath, []byte(kioskConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := parse([]string{"run", "--config", cfgPath, "--data", filepath.Join(home, "data"),
		"--display", "png:" + filepath.Join(home, "screen.png"), "--size", "1024x600", "--usb-dirs", ""})
	if err != nil {
		t.Fatal(err)
	}
	logw := new(bintest.Buffer)
	c.logw = logw
	d, stop, err := start(context.Background(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &touchScreen{t: t, touches: make(chan evdev.Touch)}
	built := make(chan struct{})
	d.touches = s.touches
	d.onUI = func(w fyne.Window, k *ui.Kiosk) { s.w, s.k = w, k; close(built) }
	ctx, cancel := context.WithCancel(context.Background())
	ended := make(chan error, 1)
	go func() { ended <- runUI(ctx, c, d) }()
	t.Cleanup(func() {
		cancel()
		if err := <-ended; err != nil {
			t.Errorf("runUI: %v", err)
		}
		stop()
		if t.Failed() {
			t.Logf("kiosk log:\n%s", logw.String())
		}
	})
	<-built
	first := frame(t, d)

	cat := catalogue(d.svc)[1]
	s.want(ui.Home)
	number := fileReport(t, s, cat)
	ts, ok := d.svc.Track(number)
	if !ok || ts.Category != cat.ID || ts.Location.Building != "3" || ts.Location.Unit != "2" {
		t.Errorf("the service's ticket %s = %+v, %v; want %s in building 3 unit 2", number, ts, ok, cat.ID)
	}
	t.Logf("ticket %s after %d touches", number, 2*s.taps)

	// The frame drawn now is the confirmation, not the home screen.
	var last image.Image
	deadline := time.Now().Add(20 * time.Second)
	for last = frame(t, d); bytes.Equal(pixels(first), pixels(last)); last = frame(t, d) {
		if time.Now().After(deadline) {
			t.Fatal("the frame drawn is still the first one")
		}
		time.Sleep(10 * time.Millisecond) // the next render
	}
	if last.Bounds().Size() != image.Pt(1024, 600) {
		t.Errorf("frame of %v, want 1024×600", last.Bounds().Size())
	}
	if b, err := os.ReadFile(filepath.Join(home, "screen.png")); err != nil || len(b) == 0 {
		t.Errorf("the PNG display wrote nothing: %v", err)
	}
}

// frame returns a copy of the frame the display drew last.
func frame(t *testing.T, d *deps) image.Image {
	t.Helper()
	f := d.frame.Load()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if f != nil {
			if img, err := (*f)(context.Background()); err == nil {
				out := image.NewNRGBA(img.Bounds())
				draw.Draw(out, out.Bounds(), img, img.Bounds().Min, draw.Src)
				return out
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no frame drawn")
		}
		time.Sleep(10 * time.Millisecond) // the first render
		f = d.frame.Load()
	}
}

func pixels(img image.Image) []byte { return img.(*image.NRGBA).Pix }
