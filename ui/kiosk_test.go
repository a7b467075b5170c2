package ui_test

import (
	"flag"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"linli/kiosk/catalog"
	"linli/kiosk/ticketno"
	"linli/mqtt/contract"
	"linli/ui"
	"linli/ui/font"
	"linli/ui/i18n"
	"linli/ui/screenshot"
	"linli/ui/uitest"
)

var update = flag.Bool("update", false, "rewrite the golden screenshots in testdata/")

// rig is a kiosk on a test window with a fake backend and clock.
type rig struct {
	t     testing.TB
	k     *ui.Kiosk
	b     *uitest.Backend
	clock *uitest.Clock
	w     fyne.Window
}

// newRig starts a kiosk; the test must have made an app with
// test.NewTempApp (the screenshot test shares one: a new app drops Fyne's
// font caches and parsing the CJK font again costs a tenth of a second).
func newRig(t testing.TB, b *uitest.Backend, size fyne.Size, lang i18n.Lang) *rig {
	t.Helper()
	if fyne.CurrentApp() == nil {
		t.Fatal("no app: call test.NewTempApp first")
	}
	w := test.NewWindow(nil)
	w.SetPadded(false)
	w.Resize(size)
	if b == nil {
		b = uitest.Sample()
	}
	clock := &uitest.Clock{}
	k := ui.New(w, b, &ui.Options{
		Lang: lang, Now: clock.Now, Zone: time.UTC,
		Places: ui.Places{Community: "c1", Buildings: []string{"1", "2", "3", "4", "5", "6", "7", "8"}, Units: []string{"1", "2", "3"}},
		Status: func() ui.Status {
			return ui.Status{Device: "kiosk-01", Connected: true, Health: contract.Health{
				Uptime: 26*time.Hour + 3*time.Minute, QueueDepth: 2, Reconnects: 1, Firmware: "1.4.2", StorageUsed: 180 << 10}}
		},
	})
	return &rig{t: t, k: k, b: b, clock: clock, w: w}
}

// tap taps the buttons labelled by the keys (translated) or literal labels.
func (r *rig) tap(labels ...string) {
	r.t.Helper()
	for _, l := range labels {
		if i18n.Has(l) {
			l = r.k.Lang().T(l)
		}
		if err := r.k.Tap(l); err != nil {
			r.t.Fatal(err)
		}
	}
}

// digits taps a number on the keypad.
func (r *rig) digits(s string) {
	r.t.Helper()
	for _, d := range s {
		r.tap(string(d))
	}
}

func (r *rig) wantScreen(want ui.Screen) {
	r.t.Helper()
	if got := r.k.Screen(); got != want {
		r.t.Fatalf("screen = %s, want %s", got, want)
	}
}

func TestReportFlow(t *testing.T) {
	newApp(t)
	r := newRig(t, nil, fyne.NewSize(1024, 600), i18n.ZH)
	r.tap("home.report")
	r.wantScreen(ui.ReportCat)
	r.tap("水电维修")
	r.wantScreen(ui.ReportBldg)
	r.tap("3号楼")
	r.tap("2单元")
	r.wantScreen(ui.ReportDoor)
	r.digits("502")
	r.tap("app.next")
	r.wantScreen(ui.ReportWords)
	r.tap("漏水", "情况紧急", "情况紧急") // the second tap unselects
	r.tap("app.next")
	r.wantScreen(ui.ReportPhone)
	r.digits("1380013")
	r.tap("app.next")
	if !strings.Contains(r.k.Texts(), i18n.ZH.T("report.invalidtel")) {
		t.Errorf("a 7-digit phone number was accepted")
	}
	r.digits("8000")
	r.tap("report.consent", "app.next")
	r.wantScreen(ui.ReportCheck)
	if txt := r.k.Texts(); !strings.Contains(txt, "138****8000") || !strings.Contains(txt, "3号楼2单元502室") {
		t.Errorf("confirm screen shows\n%s\nwant the masked phone and the place", txt)
	}
	r.tap("report.submit")
	r.wantScreen(ui.ReportDone)
	if !strings.Contains(r.k.Texts(), "K01-261127-0001") {
		t.Errorf("ticket number not shown: %s", r.k.Texts())
	}
	want := ui.Draft{Category: "repair", Urgency: "normal",
		Location: contract.Location{Community: "c1", Building: "3", Unit: "2", Door: "502"},
		Phrases:  []string{"漏水"}, Phone: "13800138000", Consent: true}
	if len(r.b.Filed) != 1 {
		t.Fatalf("filed %d reports, want 1", len(r.b.Filed))
	}
	if got := r.b.Filed[0]; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("filed %+v\nwant  %+v", got, want)
	}
	if r.k.Draft().Phone != "" {
		t.Errorf("phone number %q kept after filing", r.k.Draft().Phone)
	}
	r.tap("app.home")
	r.wantScreen(ui.Home)
}

// TestPhoneRule refuses on the phone screen what the kiosk domain
// (kiosk.NormalizePhone) refuses: no mobile number starts 10, 11 or 12.
func TestPhoneRule(t *testing.T) {
	newApp(t)
	for _, tc := range []struct {
		digits string
		ok     bool
	}{
		{"12345678901", false},
		{"10086100861", false},
		{"13800138000", true},
		{"19912345678", true},
	} {
		r := newRig(t, nil, fyne.NewSize(1024, 600), i18n.ZH)
		r.tap("home.report", "水电维修", "report.common", "app.next")
		r.wantScreen(ui.ReportPhone)
		r.digits(tc.digits)
		r.tap("app.next")
		refused := strings.Contains(r.k.Texts(), i18n.ZH.T("report.invalidtel"))
		if got := r.k.Screen() == ui.ReportCheck && !refused; got != tc.ok {
			t.Errorf("phone %s: accepted = %v, want %v (screen %s)", tc.digits, got, tc.ok, r.k.Screen())
		}
	}
}

func TestReportFailure(t *testing.T) {
	b := uitest.Sample()
	b.Fail = true
	newApp(t)
	r := newRig(t, b, fyne.NewSize(1024, 600), i18n.EN)
	r.tap("home.report", "Water & power", "report.common", "app.next", "app.next", "report.submit")
	r.wantScreen(ui.ReportCheck)
	if !strings.Contains(r.k.Texts(), i18n.EN.T("report.failed")) {
		t.Errorf("no failure message: %s", r.k.Texts())
	}
}

func TestAlertInterruptsReport(t *testing.T) {
	newApp(t)
	r := newRig(t, nil, fyne.NewSize(1024, 600), i18n.ZH)
	r.tap("home.report", "水电维修", "3号楼")
	r.wantScreen(ui.ReportUnit)

	r.b.SetAlerts(uitest.FireAlert("a1", "3"))
	r.k.Changed("alerts")
	if !r.k.AlertShown() {
		t.Fatal("alert not shown")
	}
	txt := r.k.Texts()
	for _, want := range []string{"紧急警报", "3号楼 电表箱 温度报警", "请勿靠近电表箱"} {
		if !strings.Contains(txt, want) {
			t.Errorf("alert lacks %q:\n%s", want, txt)
		}
	}
	// The overlay is on top: "I understand" is the only way on.
	r.tap("alert.understand")
	if r.k.AlertShown() {
		t.Fatal("alert still covers the screen after I understand")
	}
	if !strings.Contains(r.k.Texts(), "警报未解除") {
		t.Errorf("no banner after acknowledging")
	}
	// The report goes on where it was.
	r.wantScreen(ui.ReportUnit)
	r.tap("2单元")
	r.wantScreen(ui.ReportDoor)

	// Several channels of one box: one line.
	smoke := uitest.FireAlert("a3", "3")
	smoke.Kind = "smoke"
	r.b.SetAlerts(uitest.FireAlert("a1", "3"), smoke)
	r.k.Changed("alerts")
	if want := "3号楼 电表箱 温度报警、烟雾报警"; !strings.Contains(r.k.Texts(), want) {
		t.Errorf("alert lacks %q:\n%s", want, r.k.Texts())
	}
	r.tap("alert.understand")

	// A new alert interrupts again.
	r.b.SetAlerts(uitest.FireAlert("a1", "3"), uitest.FireAlert("a2", "4"))
	r.k.Changed("alerts")
	if !r.k.AlertShown() {
		t.Fatal("second alert not shown")
	}
	// Cleared: no overlay, no banner.
	r.b.SetAlerts()
	r.k.Changed("alerts")
	if r.k.AlertShown() || strings.Contains(r.k.Texts(), "警报未解除") {
		t.Errorf("alert still shown after it cleared")
	}
}

func TestIdleWipesPhone(t *testing.T) {
	newApp(t)
	r := newRig(t, nil, fyne.NewSize(1024, 600), i18n.ZH)
	r.tap("home.report", "水电维修", "report.common", "app.next")
	r.wantScreen(ui.ReportPhone)
	r.digits("13800138000")
	r.tap("app.large")

	r.k.Tick(r.clock.Advance(60 * time.Second))
	if strings.Contains(r.k.Texts(), "秒后返回首页") {
		t.Errorf("countdown shown 60 s into a 90 s timeout")
	}
	r.k.Tick(r.clock.Advance(15 * time.Second))
	if !strings.Contains(r.k.Texts(), "15 秒后返回首页") {
		t.Errorf("no 15 s countdown: %s", r.k.Texts())
	}
	r.tap("idle.stay") // a touch restarts the timer
	r.k.Tick(r.clock.Advance(80 * time.Second))
	r.wantScreen(ui.ReportPhone)
	r.k.Tick(r.clock.Advance(10 * time.Second))
	r.wantScreen(ui.Home)
	if d := r.k.Draft(); d.Phone != "" || r.k.Digits() != "" {
		t.Errorf("phone %q / keypad %q survived the idle timeout", d.Phone, r.k.Digits())
	}
	// Back into the flow: nothing remembered.
	r.tap("home.report", "水电维修", "report.common", "app.next")
	if r.k.Digits() != "" || strings.Contains(r.k.Texts(), "13800138000") {
		t.Errorf("phone number shown after the wipe")
	}
}

func TestTrackAndRate(t *testing.T) {
	newApp(t)
	r := newRig(t, nil, fyne.NewSize(800, 480), i18n.EN)
	r.tap("home.track")
	r.digits("999")
	r.tap("track.search")
	if !strings.Contains(r.k.Texts(), "No ticket 999") {
		t.Errorf("no not-found message: %s", r.k.Texts())
	}
	r.tap("key.clear")
	r.digits(ticketno.Digits(uitest.ResolvedTicket))
	r.tap("track.search")
	r.wantScreen(ui.TrackShow)
	for _, want := range []string{"Resolved", "王芳（网格员）", "漏水已修好", "2026-11-26 11:30"} {
		if !strings.Contains(r.k.Texts(), want) {
			t.Errorf("timeline lacks %q", want)
		}
	}
	r.tap("track.rate", "rate.unsatisfied", "rate.slow", "report.submit")
	r.wantScreen(ui.RateDone)
	if len(r.b.Ratings) != 1 || r.b.Ratings[0] != (contract.Rating{Number: uitest.ResolvedTicket, Rating: contract.RatingUnsatisfied, Comment: "处理太慢"}) {
		t.Errorf("ratings = %+v", r.b.Ratings)
	}

	// Not yet resolved: no rating.
	r.tap("app.home", "home.rate")
	r.digits(ticketno.Digits(uitest.OpenTicket))
	r.tap("track.search")
	r.wantScreen(ui.RateEnter)
	if !strings.Contains(r.k.Texts(), i18n.EN.T("rate.notyet")) {
		t.Errorf("rated an unresolved ticket")
	}
}

func TestWish(t *testing.T) {
	newApp(t)
	r := newRig(t, nil, fyne.NewSize(1024, 600), i18n.ZH)
	r.tap("home.wishes", "wish.post", "wish.carry")
	r.wantScreen(ui.WishDone)
	if len(r.b.Posted) != 1 || r.b.Posted[0] != "帮忙搬重物" {
		t.Errorf("posted %q", r.b.Posted)
	}
}

func TestMaintenance(t *testing.T) {
	tests := []struct {
		name string
		open func(r *rig)
	}{
		{"long press", func(r *rig) {
			if err := r.k.LongPress("title"); err != nil {
				r.t.Fatal(err)
			}
		}},
		{"five taps", func(r *rig) {
			for i := 0; i < 5; i++ {
				r.clock.Advance(400 * time.Millisecond)
				r.tap("title")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			newApp(t)
			r := newRig(t, nil, fyne.NewSize(1024, 600), i18n.ZH)
			for i := 0; i < 4; i++ { // slow taps do not count
				r.clock.Advance(time.Second)
				r.tap("title")
			}
			r.wantScreen(ui.Home)
			tt.open(r)
			r.wantScreen(ui.MaintPIN)
			r.digits("1111")
			r.tap("app.ok")
			r.wantScreen(ui.MaintPIN)
			r.digits("2580")
			r.tap("app.ok")
			r.wantScreen(ui.MaintInfo)
			for _, want := range []string{"kiosk-01", "已连接", "1.4.2"} {
				if !strings.Contains(r.k.Texts(), want) {
					t.Errorf("maintenance lacks %q", want)
				}
			}
		})
	}
}

// TestStringsCovered fails when a string the UI can show has a rune that
// neither the bundled font nor Fyne's has.
func TestStringsCovered(t *testing.T) {
	strs := i18n.All()
	for _, c := range ui.DefaultCatalogue() {
		strs = append(strs, c.Name, c.NameEN)
		for _, p := range c.Phrases {
			strs = append(strs, p.Text, p.TextEN)
		}
	}
	for _, c := range catalog.Default().Categories {
		strs = append(strs, c.Zh, c.En)
		for _, p := range c.Phrases {
			strs = append(strs, p.Zh, p.En)
		}
	}
	strs = append(strs, "、", "138****8000", "·", "；", "，", "×")
	missing, err := font.Missing(strs...)
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) > 0 {
		t.Errorf("runes missing from the fonts: %q; run go generate ./ui/font", string(missing))
	}
}

// TestKeysExist fails when the source asks for a string the table lacks.
func TestKeysExist(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	re := regexp.MustCompile(`\b(?:t|tf|zh|en)\("([a-z]+\.[a-z.-]+)"`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			if !i18n.Has(m[1]) {
				t.Errorf("%s: key %q not in the i18n table", f, m[1])
			}
		}
	}
}

// scenes are the screens of the golden screenshots, each reached from home.
var scenes = []struct {
	name string
	goTo func(r *rig)
}{
	{"home", func(r *rig) {}},
	{"report-category", func(r *rig) { r.tap("home.report") }},
	{"report-building", func(r *rig) { r.tap("home.report"); r.tapCat() }},
	{"report-unit", func(r *rig) { r.tap("home.report"); r.tapCat(); r.tap(r.k.Lang().Tf("place.building", "3")) }},
	{"report-door", func(r *rig) {
		r.tap("home.report")
		r.tapCat()
		r.tap(r.k.Lang().Tf("place.building", "3"), r.k.Lang().Tf("place.unit", "2"))
		r.digits("502")
	}},
	{"report-phrases", func(r *rig) {
		r.tap("home.report")
		r.tapCat()
		r.tap("report.common", r.k.Lang().Pick("漏水", "Water leak"))
	}},
	{"report-phone", func(r *rig) {
		r.tap("home.report")
		r.tapCat()
		r.tap("report.common", "app.next")
		r.digits("1380013800")
	}},
	{"report-confirm", func(r *rig) {
		r.tap("home.report")
		r.tapCat()
		r.tap(r.k.Lang().Tf("place.building", "3"), r.k.Lang().Tf("place.unit", "2"))
		r.digits("502")
		r.tap("app.next", r.k.Lang().Pick("漏水", "Water leak"), r.k.Lang().Pick("停电", "Power cut"), "app.next")
		r.digits("13800138000")
		r.tap("report.consent", "app.next")
	}},
	{"report-done", func(r *rig) {
		r.tap("home.report")
		r.tapCat()
		r.tap("report.common", "app.next", "app.next", "report.submit")
	}},
	{"report-emergency", func(r *rig) {
		r.tap("home.report", r.k.Lang().Pick("消防隐患", "Fire hazard"), "report.common")
	}},
	{"track", func(r *rig) { r.tap("home.track"); r.digits("2026") }},
	{"track-result", func(r *rig) {
		r.tap("home.track")
		r.digits(ticketno.Digits(uitest.ResolvedTicket))
		r.tap("track.search")
	}},
	{"rate-choose", func(r *rig) {
		r.tap("home.rate")
		r.digits(ticketno.Digits(uitest.ResolvedTicket))
		r.tap("track.search")
	}},
	{"rate-why", func(r *rig) {
		r.tap("home.rate")
		r.digits(ticketno.Digits(uitest.ResolvedTicket))
		r.tap("track.search", "rate.unsatisfied", "rate.notfixed")
	}},
	{"rate-done", func(r *rig) {
		r.tap("home.rate")
		r.digits(ticketno.Digits(uitest.ResolvedTicket))
		r.tap("track.search", "rate.satisfied")
	}},
	{"wishes", func(r *rig) { r.tap("home.wishes") }},
	{"wish-post", func(r *rig) { r.tap("home.wishes", "wish.post") }},
	{"notices", func(r *rig) { r.tap("home.notices") }},
	{"directory", func(r *rig) { r.tap("home.directory") }},
	{"alert", func(r *rig) {
		r.tap("home.report")
		r.b.SetAlerts(uitest.FireAlert("a1", "3"))
		r.k.Changed("alerts")
	}},
	{"alert-coming", func(r *rig) {
		r.tap("home.report")
		a := uitest.FireAlert("a1", "3")
		a.AckedBy, a.AckedRole, a.AckedName = "w-li", "grid-worker", r.k.Lang().Pick("李娜", "Li Na")
		r.b.SetAlerts(a)
		r.k.Changed("alerts")
	}},
	{"alert-banner-coming", func(r *rig) {
		r.tap("home.report")
		a := uitest.FireAlert("a1", "3")
		a.AckedBy, a.AckedRole, a.AckedName = "w-li", "grid-worker", r.k.Lang().Pick("李娜", "Li Na")
		r.b.SetAlerts(a)
		r.k.Changed("alerts")
		r.tap("alert.understand")
	}},
	{"alert-banner", func(r *rig) {
		r.tap("home.report")
		r.b.SetAlerts(uitest.FireAlert("a1", "3"))
		r.k.Changed("alerts")
		r.tap("alert.understand")
	}},
	{"fault-banner", func(r *rig) {
		a := uitest.FireAlert("f1", "5")
		a.State = contract.StateFault
		r.b.SetAlerts(a)
		r.k.Changed("alerts")
	}},
	{"idle-countdown", func(r *rig) {
		r.tap("home.track")
		r.digits("2026")
		r.k.Tick(r.clock.Advance(78 * time.Second))
	}},
	{"maintenance-pin", func(r *rig) { _ = r.k.LongPress("title"); r.digits("25") }},
	{"maintenance", func(r *rig) { _ = r.k.LongPress("title"); r.digits("2580"); r.tap("app.ok") }},
	{"home-large", func(r *rig) { r.tap("app.large") }},
	{"home-contrast", func(r *rig) { r.tap("app.contrast") }},
	{"report-category-large", func(r *rig) { r.tap("app.large", "home.report") }},
	{"report-phone-large-contrast", func(r *rig) {
		r.tap("app.large", "app.contrast", "home.report")
		r.tapCat()
		r.tap("report.common", "app.next")
		r.digits("138")
	}},
}

func (r *rig) tapCat() { r.tap(r.k.Lang().Pick("水电维修", "Water & power")) }

// TestScreenshots renders every screen at both panel sizes in both
// languages and compares it with testdata/<screen>-<lang>-<w>x<h>.png;
// -update rewrites them. A screen whose content needs more room than the
// panel fails: it would be clipped on the device.
func TestScreenshots(t *testing.T) {
	newApp(t)
	sizes := []fyne.Size{fyne.NewSize(1024, 600), fyne.NewSize(800, 480)}
	for _, sc := range scenes {
		for _, lang := range []i18n.Lang{i18n.ZH, i18n.EN} {
			for _, sz := range sizes {
				name := fmt.Sprintf("%s-%s-%.0fx%.0f", sc.name, lang, sz.Width, sz.Height)
				t.Run(name, func(t *testing.T) {
					newApp(t)
					r := newRig(t, nil, sz, lang)
					sc.goTo(r)
					// The test canvas grows to the content's size before
					// wrapped labels know their width; lay out at the panel's
					// size, then ask again.
					r.w.Resize(sz)
					if got := r.w.Content().MinSize(); got.Width > sz.Width || got.Height > sz.Height {
						t.Errorf("content needs %v, the panel is %v: it would be clipped", got, sz)
					}
					if cut := r.k.Cut(); len(cut) > 0 {
						t.Errorf("buttons cut by the panel or their scroll: %q", cut)
					}
					img := r.w.Canvas().Capture()
					golden(t, filepath.Join("testdata", name+".png"), img)
				})
			}
		}
	}
}

// golden compares img with a golden file. Goldens are stored as the
// kiosk's remote screenshots are, paletted (ui/screenshot), a quarter of the
// size of full-colour PNGs; the capture is reduced the same way first.
func golden(t *testing.T, path string, full image.Image) {
	t.Helper()
	img := screenshot.Paletted(full)
	if *update {
		if err := writePNG(path, img); err != nil {
			t.Fatal(err)
		}
		return
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (run go test ./ui -run Screenshots -update, then look at the images)", err)
	}
	defer f.Close()
	want, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(img, want); d > 0.002 {
		failed := filepath.Join("testdata", "failed", filepath.Base(path))
		_ = os.MkdirAll(filepath.Dir(failed), 0o755)
		_ = writePNG(failed, img)
		t.Errorf("%s differs in %.2f%% of pixels; got %s", path, d*100, failed)
	}
}

// diff returns the share of pixels that differ by more than a little.
func diff(a, b image.Image) float64 {
	if a.Bounds().Size() != b.Bounds().Size() {
		return 1
	}
	ab, bb := a.Bounds(), b.Bounds()
	n := 0
	if pa, ok := a.(*image.Paletted); ok {
		if pb, ok := b.(*image.Paletted); ok && len(pa.Pix) == len(pb.Pix) {
			fast := true
			for i := range pa.Pix {
				if pa.Palette[pa.Pix[i]] != pb.Palette[pb.Pix[i]] {
					fast = false
					break
				}
			}
			if fast {
				return 0
			}
		}
	}
	for y := 0; y < ab.Dy(); y++ {
		for x := 0; x < ab.Dx(); x++ {
			r1, g1, b1, _ := a.At(ab.Min.X+x, ab.Min.Y+y).RGBA()
			r2, g2, b2, _ := b.At(bb.Min.X+x, bb.Min.Y+y).RGBA()
			if absd(r1, r2)+absd(g1, g2)+absd(b1, b2) > 3*0x1000 {
				n++
			}
		}
	}
	return float64(n) / float64(ab.Dx()*ab.Dy())
}

func absd(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

func writePNG(path string, img image.Image) error {
	b, err := screenshot.PNG(img)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func TestMain(m *testing.M) {
	if l := os.Getenv("LANG"); l == "" || l == "C" || strings.HasPrefix(l, "C.") {
		os.Setenv("LANG", "zh_CN.UTF-8") // Fyne cannot parse "C"
	}
	os.Exit(m.Run())
}

// TestGoldenDetects checks the comparison itself: two different screens
// must differ.
func TestGoldenDetects(t *testing.T) {
	newApp(t)
	a := newRig(t, nil, fyne.NewSize(800, 480), i18n.ZH)
	home := screenshot.Paletted(a.w.Canvas().Capture())
	a.tap("app.contrast")
	contrast := screenshot.Paletted(a.w.Canvas().Capture())
	if d := diff(home, contrast); d < 0.5 {
		t.Errorf("home and its high-contrast version differ in %.1f%% of pixels, want most", d*100)
	}
	if d := diff(home, home); d != 0 {
		t.Errorf("an image differs from itself in %.1f%%", d*100)
	}
}

// newApp makes a test app and drops it at the end of the test;
// test.NewTempApp does the same but is missing under the noos tag.
func newApp(t testing.TB) {
	test.NewApp()
	t.Cleanup(func() { test.NewApp() })
}

// TestCategoryPages checks that on a panel too short for every category
// the grid pages instead of cutting a row: each page fits, "more" leads
// through every category exactly once, and "previous page" goes back.
func TestCategoryPages(t *testing.T) {
	newApp(t)
	r := newRig(t, nil, fyne.NewSize(800, 480), i18n.EN)
	r.tap("app.large", "home.report")
	var names []string
	for _, c := range ui.DefaultCatalogue() {
		names = append(names, c.NameEN)
	}
	seen := map[string]int{}
	pages := 0
	for {
		pages++
		if cut := r.k.Cut(); len(cut) > 0 {
			t.Fatalf("page %d: buttons cut: %q", pages, cut)
		}
		for _, b := range r.k.Buttons() {
			seen[b]++
		}
		if err := r.k.Tap(r.k.Lang().T("report.more")); err != nil || pages > len(names) {
			break
		}
	}
	if pages < 2 {
		t.Fatalf("large text at 800×480 shows every category on one page: %q", r.k.Buttons())
	}
	for _, n := range names {
		if seen[n] != 1 {
			t.Errorf("category %q shown on %d pages, want 1", n, seen[n])
		}
	}
	for range pages - 1 {
		r.tap("app.prevpage")
	}
	if b := r.k.Buttons(); !slices.Contains(b, names[0]) || slices.Contains(b, r.k.Lang().T("app.prevpage")) {
		t.Errorf("back on the first page: buttons %q", b)
	}
	r.tap(names[0])
	r.wantScreen(ui.ReportBldg)
}
