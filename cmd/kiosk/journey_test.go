package main

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"linli/cmd/internal/bintest"
	"linli/kiosk/ticketno"
	"linli/mqtt/contract"
	"linli/mqtt/mqtttest"
	"linli/ui"
	"linli/ui/i18n"
	"linli/ui/screenshot"
)

// screen drives the kiosk's UI on Fyne's test window the way a resident
// does: it finds a button by the text on it and taps it. Every UI call
// holds mu, which stands for the UI goroutine; pump runs its work under mu
// too.
type screen struct {
	t  *testing.T
	mu sync.Mutex
	w  fyne.Window
	k  *ui.Kiosk
}

// do runs f as the UI goroutine.
func (s *screen) do(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
}

// visit calls f on o and everything drawn inside it, descending into
// containers and widget renderers; inside is false under a tappable.
func visit(o fyne.CanvasObject, f func(o fyne.CanvasObject) (descend bool)) {
	if o == nil || !o.Visible() || !f(o) {
		return
	}
	switch v := o.(type) {
	case *fyne.Container:
		for _, c := range v.Objects {
			visit(c, f)
		}
	case fyne.Widget:
		for _, c := range test.WidgetRenderer(v).Objects() {
			visit(c, f)
		}
	}
}

// text returns the text drawn in o.
func text(o fyne.CanvasObject) string {
	var b strings.Builder
	visit(o, func(o fyne.CanvasObject) bool {
		switch v := o.(type) {
		case *widget.Label:
			b.WriteString(v.Text + "\n")
			return false
		case *widget.RichText:
			b.WriteString(v.String() + "\n")
			return false
		case *canvas.Text:
			b.WriteString(v.Text + "\n")
		}
		return true
	})
	return b.String()
}

// buttons returns the tappable objects on screen by their text, the top
// one (an overlay is last) for a text found twice.
func (s *screen) buttons() map[string]fyne.Tappable {
	out := map[string]fyne.Tappable{}
	objs := append([]fyne.CanvasObject{s.w.Content()}, s.w.Canvas().Overlays().List()...)
	for _, root := range objs {
		visit(root, func(o fyne.CanvasObject) bool {
			if t, ok := o.(fyne.Tappable); ok {
				out[strings.TrimSpace(text(o))] = t
				return false
			}
			return true
		})
	}
	return out
}

// tap taps the buttons labelled by i18n keys (in the session's language)
// or literal labels.
func (s *screen) tap(labels ...string) {
	s.t.Helper()
	for _, l := range labels {
		s.do(func() {
			if i18n.Has(l) {
				l = s.k.Lang().T(l)
			}
			b, ok := s.buttons()[l]
			if !ok {
				var have []string
				for k := range s.buttons() {
					have = append(have, k)
				}
				s.t.Fatalf("no button %q on %s; have %q", l, s.k.Screen(), have)
			}
			test.Tap(b)
		})
	}
}

// digits taps a number on the keypad.
func (s *screen) digits(n string) {
	s.t.Helper()
	for _, d := range n {
		s.tap(string(d))
	}
}

func (s *screen) texts() string {
	var out string
	s.do(func() { out = text(s.w.Content()) })
	return out
}

func (s *screen) screen() ui.Screen {
	var out ui.Screen
	s.do(func() { out = s.k.Screen() })
	return out
}

func (s *screen) want(want ui.Screen) {
	s.t.Helper()
	if got := s.screen(); got != want {
		s.t.Fatalf("screen %s, want %s; it shows:\n%s", got, want, s.texts())
	}
}

var numberRE = regexp.MustCompile(`K01-\d{6,8}-\d{4,5}`)

// TestResidentJourney is a resident's whole journey at the kiosk against
// the real hub: report on the touch screen (category, place, phrases,
// phone, confirm) and keep the number shown; the grid worker accepts,
// starts and resolves the ticket over MQTT as gridctl does; the kiosk's
// track screen shows each step with who and when, from the hub's retained
// status; the resident rates it unsatisfied and the hub reopens it; it is
// resolved again, rated satisfied, and closed. Along the way maintenance
// takes a screenshot of the kiosk through the hub.
//
// The UI runs on Fyne's test driver (taps go to the same widgets the
// embedded driver would hit); the backend is cmd/kiosk's own: start's
// service, outbox and uplink, and pump feeding the hub's changes to the
// screen.
//
// It runs with gridhub's embedded broker and with gridhub as a client of
// mosquitto.
func TestResidentJourney(t *testing.T) {
	t.Run("embedded", func(t *testing.T) { testJourney(t, startGridhub(t, bintest.FreeAddr(t), "")) })
	t.Run("mosquitto", func(t *testing.T) { testJourney(t, startGridhub(t, "", mqtttest.Mosquitto(t, nil).URL())) })
}

func testJourney(t *testing.T, hub *gridhub) {
	d := startKiosk(t, hub.url)
	w1 := worker(t, hub.url)

	// test.NewTempApp is missing under the noos tag.
	test.NewApp()
	t.Cleanup(func() { test.NewApp() })
	s := &screen{t: t, w: test.NewWindow(nil)}
	s.w.SetPadded(false)
	s.w.Resize(fyne.NewSize(1024, 600))
	s.do(func() { s.k = newKiosk(s.w, d, func() {}) })
	frame := func(context.Context) (image.Image, error) {
		var img image.Image
		s.do(func() { img = s.w.Canvas().Capture() })
		return img, nil
	}
	d.frame.Store(&frame)
	ctx, cancel := context.WithCancel(context.Background())
	pumped := make(chan struct{})
	go func() {
		defer close(pumped)
		pump(ctx, s.k, d, s.do, nil)
	}()
	t.Cleanup(func() { cancel(); <-pumped })
	eventually(t, "the kiosk is connected", func() bool { return d.up.Stats().Connected })

	// Report: 水电/漏水-like category from the kiosk's catalogue.
	cat := catalogue(d.svc)[1]
	number := fileReport(t, s, cat)
	t.Logf("the resident keeps ticket %s", number)

	// The hub has it, under that number.
	get := func() contract.TicketStatus {
		var ts contract.TicketStatus
		call(t, w1, contract.OpTicketGet, map[string]string{"number": number}, &ts)
		return ts
	}
	eventually(t, "the hub has ticket "+number, func() bool {
		var list []contract.TicketStatus
		call(t, w1, contract.OpTicketsList, nil, &list)
		return len(list) == 1 && list[0].Number == number
	})
	if ts := get(); ts.Status != "submitted" || ts.Category != cat.ID || ts.Location.Building != "3" || ts.Location.Unit != "2" {
		t.Errorf("hub's ticket %+v, want submitted, %s, building 3 unit 2", ts, cat.ID)
	}

	// Maintenance sees the resident's screen through the hub.
	var ack contract.CommandAck
	call(t, w1, contract.OpDeviceCmd, map[string]string{"device": "kiosk-01", "name": contract.CmdScreenshot}, &ack)
	if !ack.OK {
		t.Fatalf("screenshot refused: %s", ack.Error)
	}
	shot, err := screenshot.Decode(ack.Result)
	if err != nil {
		t.Fatal(err)
	}
	if img, err := png.Decode(bytes.NewReader(shot.PNG)); err != nil || img.Bounds().Dx()*shot.Scale != 1024 {
		t.Errorf("screenshot: %v, %v; want 1024 wide at scale %d", img, err, shot.Scale)
	}

	// The grid worker handles it.
	step := func(op, note string) {
		t.Helper()
		args := map[string]string{"number": number}
		if note != "" {
			args["note"] = note
		}
		var ts contract.TicketStatus
		call(t, w1, op, args, &ts)
	}
	step(contract.OpTicketAccept, "")
	step(contract.OpTicketStart, "")
	step(contract.OpTicketResolve, "换了水管接头")

	// The resident tracks it by the digits of the number.
	s.tap("app.home", "home.track")
	s.digits(ticketno.Digits(number))
	s.tap("track.search")
	s.want(ui.TrackShow)
	resolvedText := i18n.ZH.T("status.resolved")
	eventually(t, "the track screen shows the ticket resolved", func() bool {
		return strings.Contains(s.texts(), resolvedText)
	})
	hubTS := get()
	if hubTS.Status != "resolved" {
		t.Fatalf("hub status %s, want resolved", hubTS.Status)
	}
	checkTimeline(t, s, hubTS, []string{"submitted", "accepted", "in-progress", "resolved"})
	if txt := s.texts(); !strings.Contains(txt, "换了水管接头") {
		t.Errorf("the resolution note is not on the track screen:\n%s", txt)
	}

	// Unsatisfied: the hub reopens it.
	s.tap("track.rate", "rate.unsatisfied", "rate.notfixed", "report.submit")
	s.want(ui.RateDone)
	eventually(t, "the hub reopens the ticket", func() bool { return get().Status == "reopened" })
	if ts := get(); ts.Rating != contract.RatingUnsatisfied {
		t.Errorf("hub's rating %q, want %q", ts.Rating, contract.RatingUnsatisfied)
	}

	// Handled again, resolved again.
	step(contract.OpTicketAccept, "")
	step(contract.OpTicketResolve, "水管整段更换")
	eventually(t, "the kiosk has the second resolution", func() bool {
		ts, ok := d.svc.Track(number)
		return ok && ts.Status == "resolved" && strings.Contains(ts.Timeline[len(ts.Timeline)-1].Note, "整段")
	})

	// Satisfied: the hub closes it.
	s.tap("app.home", "home.rate")
	s.digits(ticketno.Digits(number))
	s.tap("track.search")
	s.want(ui.RateChoose)
	s.tap("rate.satisfied")
	s.want(ui.RateDone)
	eventually(t, "the hub closes the ticket", func() bool { return get().Status == "closed" })
	if ts := get(); ts.Rating != contract.RatingSatisfied {
		t.Errorf("hub's rating %q, want %q", ts.Rating, contract.RatingSatisfied)
	}
	s.tap("app.home", "home.track")
	s.digits(ticketno.Digits(number))
	s.tap("track.search")
	closedText := i18n.ZH.T("status.closed")
	eventually(t, "the track screen shows the ticket closed", func() bool {
		return strings.Contains(s.texts(), closedText)
	})
	checkTimeline(t, s, get(), []string{"submitted", "accepted", "in-progress", "resolved", "rated", "reopened",
		"accepted", "resolved", "rated", "closed"})
	if len(d.svc.Find(ticketno.Digits(number))) != 1 {
		t.Errorf("the kiosk finds %q for its digits, want one ticket", d.svc.Find(ticketno.Digits(number)))
	}
}

// checkTimeline checks the hub's timeline has the statuses want, in order,
// and that the track screen shows every step with who and when.
func checkTimeline(t *testing.T, s *screen, ts contract.TicketStatus, want []string) {
	t.Helper()
	var got []string
	for _, st := range ts.Timeline {
		got = append(got, st.Status)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("hub timeline %q, want %q", got, want)
	}
	txt := s.texts()
	for _, st := range ts.Timeline {
		line := i18n.ZH.T("status." + st.Status)
		if st.By != "" {
			line += " · " + st.By
		}
		when := st.At.In(time.Local).Format("2006-01-02 15:04")
		if !strings.Contains(txt, line) || !strings.Contains(txt, when) {
			t.Errorf("track screen lacks step %q at %s:\n%s", line, when, txt)
		}
	}
}

// resident is what a journey drives, through Fyne's test driver or through
// touches on the embedded driver: taps by label, the digit keypad, the
// screen's texts.
type resident interface {
	tap(labels ...string)
	digits(n string)
	texts() string
	want(ui.Screen)
}

// fileReport walks a resident from the home screen through a whole report
// of category cat (building 3, unit 2, door 502, its first phrase, a phone
// number with consent) and returns the ticket number shown at the end.
func fileReport(t *testing.T, s resident, cat ui.Category) string {
	t.Helper()
	if len(cat.Phrases) == 0 {
		t.Fatalf("category %+v has no phrases", cat)
	}
	s.tap("home.report")
	s.want(ui.ReportCat)
	s.tap(cat.Name)
	s.want(ui.ReportBldg)
	s.tap(i18n.ZH.Tf("place.building", "3"), i18n.ZH.Tf("place.unit", "2"))
	s.want(ui.ReportDoor)
	s.digits("502")
	s.tap("app.next")
	s.want(ui.ReportWords)
	s.tap(cat.Phrases[0].Text, "app.next")
	s.want(ui.ReportPhone)
	s.digits("13800138000")
	s.tap("report.consent", "app.next")
	s.want(ui.ReportCheck)
	if txt := s.texts(); !strings.Contains(txt, "138****8000") || !strings.Contains(txt, "3号楼2单元502室") {
		t.Errorf("confirm screen shows\n%s\nwant the masked phone and the place", txt)
	}
	s.tap("report.submit")
	s.want(ui.ReportDone)
	number := numberRE.FindString(s.texts())
	if number == "" {
		t.Fatalf("no ticket number on the screen:\n%s", s.texts())
	}
	return number
}
