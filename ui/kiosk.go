package ui

import (
	"context"
	"sort"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"linli/mqtt/contract"
	"linli/ui/i18n"
	"linli/ui/skin"
)

// Screen names a screen; Kiosk.Screen returns it (tests and the
// maintenance view use it).
type Screen string

// Screens.
const (
	Home        Screen = "home"
	ReportCat   Screen = "report-category"
	ReportBldg  Screen = "report-building"
	ReportUnit  Screen = "report-unit"
	ReportDoor  Screen = "report-door"
	ReportWords Screen = "report-phrases"
	ReportPhone Screen = "report-phone"
	ReportCheck Screen = "report-confirm"
	ReportDone  Screen = "report-done"
	TrackEnter  Screen = "track"
	TrackShow   Screen = "track-result"
	RateEnter   Screen = "rate"
	RateChoose  Screen = "rate-choose"
	RateWhy     Screen = "rate-why"
	RateDone    Screen = "rate-done"
	WishList    Screen = "wishes"
	WishPost    Screen = "wish-post"
	WishDone    Screen = "wish-done"
	NoticeList  Screen = "notices"
	DirList     Screen = "directory"
	MaintPIN    Screen = "maintenance-pin"
	MaintInfo   Screen = "maintenance"
)

// session is everything a resident entered; wipe forgets it.
type session struct {
	lang     i18n.Lang
	large    bool
	contrast bool

	draft   Draft
	cat     *Category
	digits  string // the keypad's value on the current screen
	number  string // ticket number being tracked or rated, or just issued
	rating  string
	page    int // page of a paged grid asked for (pager)
	reasons map[string]bool
	msg     string // an error or notice shown on the current screen
}

// Kiosk is the user interface on one window.
type Kiosk struct {
	win fyne.Window
	b   Backend
	o   Options

	screen Screen
	s      session
	last   time.Time // last touch

	alerts   []contract.Alert // active alarm alerts of the area
	faults   []contract.Alert // active fault alerts of the area
	acked    string           // alert ids the resident acknowledged
	titleTap []time.Time      // recent taps on the title, for maintenance
	th       fyne.Theme       // the theme in use
	bar      bool             // building the title bar: fixed text size
}

// New shows the home screen of a kiosk on w, applies the kiosk theme to the
// current app and reads the backend's alerts. o may be nil. It must run on
// the UI goroutine.
func New(w fyne.Window, b Backend, o *Options) *Kiosk {
	k := &Kiosk{win: w, b: b}
	if o != nil {
		k.o = *o
	}
	k.o.ensureDefaults()
	k.last = k.o.Now()
	k.wipe()
	k.loadAlerts()
	k.render()
	return k
}

// Screen returns the screen shown.
func (k *Kiosk) Screen() Screen { return k.screen }

// Lang returns the session's language.
func (k *Kiosk) Lang() i18n.Lang { return k.s.lang }

// AlertShown reports whether the full-screen alert covers the screen.
func (k *Kiosk) AlertShown() bool { return len(k.alerts) > 0 && k.acked != alertKey(k.alerts) }

func (k *Kiosk) t(key string) string               { return k.s.lang.T(key) }
func (k *Kiosk) tf(key string, args ...any) string { return k.s.lang.Tf(key, args...) }

// wipe forgets the session: what was entered, the language and display
// modes, acknowledged alerts.
func (k *Kiosk) wipe() {
	k.s = session{lang: k.o.Lang}
	k.screen = Home
	k.acked = ""
	k.titleTap = nil
	k.applyTheme()
}

func (k *Kiosk) applyTheme() {
	th := skin.Theme{Large: k.s.large, HighContrast: k.s.contrast}
	k.th = th
	// Setting a theme makes Fyne drop its font caches: only on a change.
	if cur, ok := fyne.CurrentApp().Settings().Theme().(skin.Theme); !ok || cur != th {
		fyne.CurrentApp().Settings().SetTheme(th)
	}
}

// activity records a touch.
func (k *Kiosk) activity() { k.last = k.o.Now() }

// show switches to screen s, clearing the per-screen keypad value and
// message.
func (k *Kiosk) show(s Screen) {
	k.screen = s
	k.s.digits = ""
	k.s.msg = ""
	k.s.page = 0
	k.render()
}

// showDigits switches to a keypad screen with digits already typed.
func (k *Kiosk) showDigits(s Screen, digits string) {
	k.show(s)
	k.s.digits = digits
	k.render()
}

// Tick advances the idle timer to now: it shows the countdown during its
// last Countdown and wipes the session when it runs out. Call it about once
// a second on the UI goroutine; it calls Options.Refresh when the screen
// changed.
func (k *Kiosk) Tick(now time.Time) {
	if k.pristine() {
		return // nothing to wipe
	}
	idle := now.Sub(k.last)
	switch {
	case idle >= k.o.IdleTimeout:
		k.wipe()
		k.last = now
		k.render()
		k.o.Refresh()
	case idle >= k.o.IdleTimeout-k.o.Countdown:
		k.render()
		k.o.Refresh()
	}
}

// pristine reports whether there is nothing to wipe: the home screen in
// the default language and modes, no alert acknowledged.
func (k *Kiosk) pristine() bool {
	return k.screen == Home && k.s.lang == k.o.Lang && !k.s.large && !k.s.contrast && k.acked == ""
}

// goHome returns to the home screen, forgetting the flow's input but not
// the language and display modes.
func (k *Kiosk) goHome() {
	k.s = session{lang: k.s.lang, large: k.s.large, contrast: k.s.contrast}
	k.show(Home)
}

// remaining returns the whole seconds left before the wipe, and whether the
// countdown is visible.
func (k *Kiosk) remaining() (int, bool) {
	if k.pristine() {
		return 0, false
	}
	left := k.o.IdleTimeout - k.o.Now().Sub(k.last)
	if left > k.o.Countdown {
		return 0, false
	}
	if left < 0 {
		left = 0
	}
	return int((left + time.Second - 1) / time.Second), true
}

// Changed tells the kiosk that the backend's data of kind changed
// ("alerts", "notices", "tickets", …; "" = anything). It must run on the UI
// goroutine.
func (k *Kiosk) Changed(kind string) {
	if kind == "" || strings.Contains(kind, "alert") {
		k.loadAlerts()
	}
	k.render()
	k.o.Refresh()
}

// Notify is Changed for any goroutine: it queues Changed with fyne.Do.
func (k *Kiosk) Notify(kind string) {
	fyne.Do(func() { k.Changed(kind) })
}

// loadAlerts splits the area's active alerts into alarms (the overlay) and
// faults (a banner).
func (k *Kiosk) loadAlerts() {
	k.alerts, k.faults = nil, nil
	for _, a := range k.b.Alerts() {
		if a.Cleared {
			continue
		}
		if a.State == contract.StateAlarm {
			k.alerts = append(k.alerts, a)
		} else {
			k.faults = append(k.faults, a)
		}
	}
}

func alertKey(as []contract.Alert) string {
	ids := make([]string, len(as))
	for i, a := range as {
		ids[i] = a.ID
	}
	sort.Strings(ids)
	return strings.Join(ids, ",")
}

// ctx bounds a backend call made for a touch.
func (k *Kiosk) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), k.o.SubmitTimeout)
}

// render rebuilds the window's content for the current state. Screens are
// small, and the embedded driver repaints everything on each event anyway.
func (k *Kiosk) render() {
	body := k.body()
	var banners []fyne.CanvasObject
	if len(k.alerts) > 0 && !k.AlertShown() {
		banners = append(banners, k.alertBanner())
	}
	if len(k.faults) > 0 {
		banners = append(banners, k.faultBanner())
	}
	top := container.NewVBox(append([]fyne.CanvasObject{k.titleBar()}, banners...)...)
	// No background rectangle: the canvas paints the theme's background,
	// and a full-screen rectangle costs the software painter a pass.
	page := container.NewBorder(top, k.bottomBar(), nil, nil, container.NewPadded(body))
	root := container.NewStack(page)
	if k.AlertShown() {
		root.Add(k.alertOverlay())
	}
	k.win.SetContent(root)
	relayout(root)
}

// relayout lays o's tree out again at the sizes it has. A label that wraps
// learns how many lines it needs only when the first layout gives it its
// width, after its container has placed it with the height of one line:
// without a second pass the next object is drawn over its last line (the
// embedded driver, unlike the desktop one, never re-checks minimum sizes).
func relayout(o fyne.CanvasObject) {
	switch v := o.(type) {
	case *fyne.Container:
		if v.Layout != nil {
			v.Layout.Layout(v.Objects, v.Size())
		}
		for _, c := range v.Objects {
			relayout(c)
		}
	case *tap:
		v.content.Resize(v.Size())
		relayout(v.content)
	case *container.Scroll:
		v.Content.Resize(v.Content.MinSize().Max(v.Size()))
		relayout(v.Content)
		v.Refresh() // the scroll bar, for the content's new height
	}
}

func (k *Kiosk) body() fyne.CanvasObject {
	switch k.screen {
	case ReportCat, ReportBldg, ReportUnit, ReportDoor, ReportWords, ReportPhone, ReportCheck, ReportDone:
		return k.reportScreen()
	case TrackEnter, TrackShow:
		return k.trackScreen()
	case RateEnter, RateChoose, RateWhy, RateDone:
		return k.rateScreen()
	case WishList, WishPost, WishDone:
		return k.wishScreen()
	case NoticeList:
		return k.noticeScreen()
	case DirList:
		return k.directoryScreen()
	case MaintPIN, MaintInfo:
		return k.maintScreen()
	}
	return k.homeScreen()
}

// titleBar holds the title (the hidden maintenance entry), the home button
// and the language, large-text and contrast switches.
func (k *Kiosk) titleBar() fyne.CanvasObject {
	k.bar = true
	defer func() { k.bar = false }()
	bg := canvas.NewRectangle(k.col(skin.ColorBar))
	title := canvas.NewText(k.t("app.title"), k.col(skin.ColorOnBar))
	title.TextSize = barTitleSize
	title.TextStyle.Bold = true
	logo := newTap("title", container.NewPadded(container.NewCenter(title)), fyne.NewSize(0, k.size(skin.SizeBarTile)), k.titleTapped)
	logo.onAlt = func() { k.activity(); k.show(MaintPIN) }

	toggle := func(label string, on bool, f func()) fyne.CanvasObject {
		st := quiet
		if on {
			st = barOn
		}
		return k.button(label, nil, st, f)
	}
	var right []fyne.CanvasObject
	if k.screen != Home {
		right = append(right, k.button(k.t("app.home"), nil, quiet, k.goHome))
	}
	right = append(right,
		toggle(k.t("app.lang"), false, func() { k.s.lang = k.s.lang.Other(); k.render() }),
		toggle(k.t("app.large"), k.s.large, func() { k.s.large = !k.s.large; k.applyTheme(); k.render() }),
		toggle(k.t("app.contrast"), k.s.contrast, func() { k.s.contrast = !k.s.contrast; k.applyTheme(); k.render() }),
	)
	bar := container.NewBorder(nil, nil, logo, container.NewHBox(right...))
	return container.NewStack(bg, container.NewPadded(bar))
}

// The title bar keeps its normal size in large-text mode, so that it always
// fits.
const barTitleSize = 24

// titleTapped counts taps on the title: five within three seconds open the
// maintenance PIN pad.
func (k *Kiosk) titleTapped() {
	k.activity()
	now := k.o.Now()
	keep := k.titleTap[:0]
	for _, t := range k.titleTap {
		if now.Sub(t) < 3*time.Second {
			keep = append(keep, t)
		}
	}
	k.titleTap = append(keep, now)
	if len(k.titleTap) >= 5 {
		k.titleTap = nil
		k.show(MaintPIN)
	}
}

// bottomBar shows the idle countdown, or the emergency numbers at home.
func (k *Kiosk) bottomBar() fyne.CanvasObject {
	if left, ok := k.remaining(); ok {
		bg := canvas.NewRectangle(k.col(skin.ColorNotice))
		msg := vcenter(rich(k.tf("idle.countdown", left), skin.ColorOnNotice, theme.SizeNameSubHeadingText, true, fyne.TextAlignCenter))
		stay := k.button(k.t("idle.stay"), nil, accent, func() { k.render() })
		return container.NewStack(bg, container.NewPadded(container.NewBorder(nil, nil, nil, stay, msg)))
	}
	if k.screen != Home {
		return nil
	}
	l := text(k.t("home.emergency"))
	l.Importance = widget.DangerImportance
	return container.NewPadded(l)
}

// stepHeader is the heading of a step with its "step n of m".
func (k *Kiosk) stepHeader(title string, n, of int) fyne.CanvasObject {
	return k.stepHead(title, n, of, false)
}

// stepHead is stepHeader in smaller type when narrow, for the half-width
// column beside a keypad: the heading in bold body text, the step in
// caption size, on a line of its own above the heading when both do not
// fit on one (large text), so that the heading does not break mid-word.
func (k *Kiosk) stepHead(title string, n, of int, narrow bool) fyne.CanvasObject {
	var h fyne.CanvasObject = heading(title)
	if narrow {
		h = rich(title, theme.ColorNameForeground, theme.SizeNameText, true, fyne.TextAlignLeading)
	}
	if of == 0 {
		return h
	}
	step := canvas.NewText(k.tf("report.step", n, of), k.col(skin.ColorSecondary))
	step.TextSize = k.size(theme.SizeNameText)
	if narrow {
		step.TextSize = k.size(theme.SizeNameCaptionText)
		pad := k.size(theme.SizeNamePadding)
		col := (k.win.Canvas().Size().Width - 3*pad) / 2 // keypadPage's left column
		need := fyne.MeasureText(title, k.size(theme.SizeNameText), fyne.TextStyle{Bold: true}).Width +
			2*k.size(theme.SizeNameInnerPadding) + pad + step.MinSize().Width
		if need > col {
			return container.NewVBox(container.NewHBox(layout.NewSpacer(), step), h)
		}
	}
	return container.NewBorder(nil, nil, nil, step, h)
}

// navBar is the bottom row of a flow: back on the left, the next action on
// the right.
func (k *Kiosk) navBar(back func(), actions ...fyne.CanvasObject) fyne.CanvasObject {
	var left fyne.CanvasObject = layout.NewSpacer()
	if back != nil {
		left = k.button(k.t("app.back"), nil, plain, back)
	}
	return container.NewBorder(nil, nil, left, container.NewHBox(actions...))
}

// keypadPage lays out a keypad screen: the heading, what was typed and the
// navigation on the left, the keypad on the right, full height.
func (k *Kiosk) keypadPage(head fyne.CanvasObject, nav fyne.CanvasObject, pad fyne.CanvasObject, left ...fyne.CanvasObject) fyne.CanvasObject {
	col := container.NewBorder(head, nav, nil, nil, container.NewVBox(left...))
	return container.NewGridWithColumns(2, col, pad)
}

// message renders k.s.msg in the error colour, or nothing.
func (k *Kiosk) message() fyne.CanvasObject {
	if k.s.msg == "" {
		return layout.NewSpacer()
	}
	l := text(k.s.msg)
	l.Importance = widget.DangerImportance
	return l
}

// tiles is a fixed grid of tiles whose labels may wrap.
func (k *Kiosk) tiles(cols int, objs ...fyne.CanvasObject) *fyne.Container {
	for _, o := range objs {
		if t, ok := o.(*tap); ok {
			t.min.Width = k.size(skin.SizeTile)
		}
	}
	return container.NewGridWithColumns(cols, objs...)
}

// grid lays tiles out in columns that fit the window, their labels
// wrapping, and scrolls if they need more height than there is.
func (k *Kiosk) grid(minWidth float32, objs ...fyne.CanvasObject) fyne.CanvasObject {
	for _, o := range objs {
		if t, ok := o.(*tap); ok {
			t.min.Width = k.size(skin.SizeTile)
		}
	}
	w := k.win.Canvas().Size().Width
	if w <= 0 {
		w = 1024
	}
	cols := int(w / (minWidth * k.scale()))
	if cols < 2 {
		cols = 2
	}
	if cols > len(objs) && len(objs) > 0 {
		cols = len(objs)
	}
	return k.scroll(container.NewGridWithColumns(cols, objs...))
}

func (k *Kiosk) scale() float32 {
	if k.s.large {
		return skin.LargeScale
	}
	return 1
}

func (k *Kiosk) placeText(l contract.Location) string {
	if l.Building == "" {
		return k.t("report.common")
	}
	parts := []string{k.buildingText(l.Building)}
	if l.Unit != "" {
		parts = append(parts, k.tf("place.unit", l.Unit))
	}
	if l.Door != "" {
		parts = append(parts, k.tf("place.door", l.Door))
	}
	return joinPlace(parts, k.s.lang == i18n.ZH)
}

// joinPlace joins the parts of a place: with spaces in English; in Chinese
// without, except after a part ending in a Latin letter or digit, so that
// building "b1" and unit "1" read "b1 1单元", not "b11单元".
func joinPlace(parts []string, zh bool) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			prev := parts[i-1]
			last := prev[len(prev)-1]
			if !zh || last < 0x80 && (last >= '0' && last <= '9' || last|0x20 >= 'a' && last|0x20 <= 'z') {
				b.WriteByte(' ')
			}
		}
		b.WriteString(p)
	}
	return b.String()
}

// buildingText names a building: its configured name, "3号楼" for a
// numeric id, else the id itself.
func (k *Kiosk) buildingText(id string) string {
	if n, ok := k.o.Places.Names[id]; ok {
		return k.s.lang.Pick(n.Text, n.TextEN)
	}
	for _, r := range id {
		if r < '0' || r > '9' {
			return id
		}
	}
	return k.tf("place.building", id)
}

func (k *Kiosk) statusText(s string) string {
	if i18n.Has("status." + s) {
		return k.t("status." + s)
	}
	return s
}

func (k *Kiosk) when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(k.o.Zone).Format("2006-01-02 15:04")
}
