package ui

import (
	"fmt"
	"image/color"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	qrcode "github.com/skip2/go-qrcode"

	"linli/mqtt/contract"

	"linli/ui/skin"
)

const reportSteps = 5

func (k *Kiosk) homeScreen() fyne.CanvasObject {
	tile := func(key string, ic fyne.Resource, to Screen) fyne.CanvasObject {
		return k.button(k.t(key), ic, plain, func() { k.show(to) })
	}
	tiles := k.tiles(3,
		tile("home.report", theme.DocumentCreateIcon(), ReportCat),
		tile("home.track", theme.SearchIcon(), TrackEnter),
		tile("home.rate", theme.ConfirmIcon(), RateEnter),
		tile("home.wishes", theme.ContentAddIcon(), WishList),
		tile("home.notices", theme.InfoIcon(), NoticeList),
		tile("home.directory", theme.ListIcon(), DirList),
	)
	var head fyne.CanvasObject
	if !k.s.large && len(k.faults) == 0 && len(k.alerts) == 0 {
		head = heading(k.t("home.welcome")) // room for it at 800×480
	}
	return container.NewBorder(head, nil, nil, nil, tiles)
}

func (k *Kiosk) reportScreen() fyne.CanvasObject {
	switch k.screen {
	case ReportBldg:
		return k.pickBuilding()
	case ReportUnit:
		return k.pickUnit()
	case ReportDoor:
		return k.pickDoor()
	case ReportWords:
		return k.pickPhrases()
	case ReportPhone:
		return k.enterPhone()
	case ReportCheck:
		return k.confirmReport()
	case ReportDone:
		return k.reportDone()
	}
	return k.pickCategory()
}

func (k *Kiosk) pickCategory() fyne.CanvasObject {
	// Smaller icons on a short panel leave room for a third row of tiles;
	// in large text there is room only for the words.
	is := k.size(skin.SizeIcon)
	if k.win.Canvas().Size().Height < 560 {
		is = is * 2 / 3
		if k.s.large {
			is = 0
		}
	}
	var tiles []fyne.CanvasObject
	for i := range k.o.Catalogue {
		c := &k.o.Catalogue[i]
		var ic fyne.Resource
		if is > 0 {
			ic = icon(c.Icon)
		}
		tiles = append(tiles, k.iconButton(k.s.lang.Pick(c.Name, c.NameEN), ic, is, plain, func() {
			k.s.cat = c
			k.s.draft = Draft{Category: c.ID, Urgency: c.Urgency, Location: contract.Location{Community: k.o.Places.Community}}
			k.show(ReportBldg)
		}))
	}
	return container.NewBorder(k.stepHeader(k.t("report.category"), 1, reportSteps), k.navBar(nil), nil, nil,
		k.pages(180, is, k.t("report.more"), tiles...))
}

func (k *Kiosk) pickBuilding() fyne.CanvasObject {
	var tiles []fyne.CanvasObject
	for _, b := range k.o.Places.Buildings {
		tiles = append(tiles, k.button(k.buildingText(b), nil, plain, func() {
			k.s.draft.Location.Building = b
			k.show(ReportUnit)
		}))
	}
	common := k.button(k.t("report.common"), nil, plain, func() {
		k.s.draft.Location.Building, k.s.draft.Location.Unit, k.s.draft.Location.Door = "", "", ""
		k.show(ReportWords)
	})
	tiles = append(tiles, common)
	return container.NewBorder(k.stepHeader(k.t("report.building"), 2, reportSteps), k.navBar(func() { k.show(ReportCat) }), nil, nil,
		k.grid(160, tiles...))
}

func (k *Kiosk) pickUnit() fyne.CanvasObject {
	var tiles []fyne.CanvasObject
	units := k.o.Places.units(k.s.draft.Location.Building)
	if len(units) == 0 {
		k.s.draft.Location.Unit = ""
		k.screen = ReportDoor
		return k.pickDoor()
	}
	for _, u := range units {
		tiles = append(tiles, k.button(k.tf("place.unit", u), nil, plain, func() {
			k.s.draft.Location.Unit = u
			k.show(ReportDoor)
		}))
	}
	head := k.stepHeader(k.t("report.unit")+"  "+k.placeText(k.s.draft.Location), 2, reportSteps)
	return container.NewBorder(head, k.navBar(func() { k.show(ReportBldg) }), nil, nil, k.grid(160, tiles...))
}

func (k *Kiosk) pickDoor() fyne.CanvasObject {
	next := func() {
		k.s.draft.Location.Door = k.s.digits
		k.show(ReportWords)
	}
	skip := k.button(k.t("app.skip"), nil, plain, func() { k.s.digits = ""; next() })
	ok := k.button(k.t("app.next"), nil, accent, next)
	return k.keypadPage(k.stepHead(k.t("report.door"), 2, reportSteps, true),
		k.navBar(func() { k.show(ReportUnit) }, skip, ok), k.keypad(&k.s.digits, 4, k.render),
		para(k.placeText(k.s.draft.Location)), k.display(k.s.digits, k.t("report.door")))
}

func (k *Kiosk) pickPhrases() fyne.CanvasObject {
	var chips []fyne.CanvasObject
	for _, p := range k.s.cat.Phrases {
		on := contains(k.s.draft.Phrases, p.Text)
		st := unchecked
		if on {
			st = selected
		}
		label := k.s.lang.Pick(p.Text, p.TextEN)
		chips = append(chips, k.button(label, nil, st, func() {
			if on {
				k.s.draft.Phrases = remove(k.s.draft.Phrases, p.Text)
			} else {
				k.s.draft.Phrases = append(k.s.draft.Phrases, p.Text)
			}
			k.render()
		}))
	}
	back := func() {
		if k.s.draft.Location.Building == "" {
			k.show(ReportBldg)
		} else {
			k.showDigits(ReportDoor, k.s.draft.Location.Door)
		}
	}
	next := k.button(k.t("app.next"), nil, accent, func() { k.showDigits(ReportPhone, k.s.draft.Phone) })
	var body fyne.CanvasObject = k.grid(220, chips...)
	if k.s.cat.Urgency == "emergency" {
		body = container.NewBorder(k.emergencyLine(), nil, nil, nil, body)
	}
	return container.NewBorder(k.stepHeader(k.t("report.phrases"), 3, reportSteps), k.navBar(back, next), nil, nil, body)
}

// emergencyLine tells the resident to call for help now.
func (k *Kiosk) emergencyLine() fyne.CanvasObject {
	bg := canvas.NewRectangle(k.col(skin.ColorAlert))
	return container.NewStack(bg, container.NewPadded(rich(k.t("report.emergency"), skin.ColorOnAlert, theme.SizeNameSubHeadingText, true, fyne.TextAlignCenter)))
}

// validPhone accepts an empty number or a mainland mobile number,
// 1[3-9] and nine digits: the rule of kiosk.NormalizePhone, so that a
// number refused there is refused here, with the words to fix it, rather
// than at submission as "could not submit, try again later".
func validPhone(s string) bool {
	return s == "" || (len(s) == 11 && s[0] == '1' && s[1] >= '3')
}

func (k *Kiosk) enterPhone() fyne.CanvasObject {
	consentStyle := unchecked
	if k.s.draft.Consent {
		consentStyle = selected
	}
	consent := k.button(k.t("report.consent"), nil, consentStyle, func() {
		k.s.draft.Consent = !k.s.draft.Consent
		k.render()
	})
	next := k.button(k.t("app.next"), nil, accent, func() {
		if !validPhone(k.s.draft.Phone) {
			k.s.msg = k.t("report.invalidtel")
			k.render()
			return
		}
		if k.s.draft.Phone == "" {
			k.s.draft.Consent = false
		}
		k.show(ReportCheck)
	})
	pad := k.keypad(&k.s.digits, 11, func() {
		k.s.msg = ""
		k.s.draft.Phone = k.s.digits
		k.render()
	})
	return k.keypadPage(k.stepHead(k.t("report.phone"), 4, reportSteps, true), k.navBar(func() { k.show(ReportWords) }, next), pad,
		k.display(k.s.digits, "1__________"), consent, k.message())
}

// maskPhone hides the middle of a phone number: 138****5678.
func maskPhone(p string) string {
	if len(p) < 8 {
		return p
	}
	return p[:3] + strings.Repeat("*", len(p)-7) + p[len(p)-4:]
}

func (k *Kiosk) phrasesText(ps []string) string {
	var out []string
	for _, p := range ps {
		out = append(out, k.phraseText(p))
	}
	sep := "，"
	if k.s.lang != 0 {
		sep = ", "
	}
	return strings.Join(out, sep)
}

// phraseText translates a phrase of the current category.
func (k *Kiosk) phraseText(p string) string {
	if k.s.cat != nil {
		for _, c := range k.s.cat.Phrases {
			if c.Text == p {
				return k.s.lang.Pick(c.Text, c.TextEN)
			}
		}
	}
	return p
}

func (k *Kiosk) confirmReport() fyne.CanvasObject {
	d := k.s.draft
	row := func(key, val string) fyne.CanvasObject {
		name := canvas.NewText(k.t(key), k.col(skin.ColorSecondary))
		name.TextSize = k.size(theme.SizeNameText)
		return container.NewBorder(nil, nil, container.New(&minLayout{min: fyne.NewSize(120*k.scale(), 0)}, name), nil, para(val))
	}
	none := k.t("report.none")
	details, phone := k.phrasesText(d.Phrases), maskPhone(d.Phone)
	if details == "" {
		details = none
	}
	if phone == "" {
		phone = none
	}
	summary := k.card(
		row("report.what", k.s.lang.Pick(k.s.cat.Name, k.s.cat.NameEN)),
		row("report.where", k.placeText(d.Location)),
		row("report.details", details),
		row("report.contact", phone),
	)
	submit := k.button(k.t("report.submit"), nil, accent, k.submitReport)
	return container.NewBorder(k.stepHeader(k.t("report.confirm"), 5, reportSteps),
		k.navBar(func() { k.showDigits(ReportPhone, k.s.draft.Phone) }, submit), nil, nil,
		container.NewVBox(summary, k.message()))
}

func (k *Kiosk) submitReport() {
	ctx, cancel := k.ctx()
	defer cancel()
	n, err := k.b.FileReport(ctx, k.s.draft)
	if err != nil {
		k.s.msg = k.t("report.failed")
		k.render()
		return
	}
	urgency := k.s.draft.Urgency
	// The phone number is not needed any more: forget it now.
	k.s.draft = Draft{Urgency: urgency}
	k.show(ReportDone)
	k.s.number = n
	k.render()
}

func (k *Kiosk) reportDone() fyne.CanvasObject {
	num := canvas.NewText(k.s.number, k.col(skin.ColorAccent))
	num.TextSize = k.size(skin.SizeBigText)
	num.TextStyle.Bold = true
	num.Alignment = fyne.TextAlignCenter
	info := container.NewVBox(headline(k.t("report.done")), num, text(k.t("report.keep")))
	if k.s.draft.Urgency == "emergency" {
		info.Add(k.emergencyLine())
	}
	var qr fyne.CanvasObject = layout.NewSpacer()
	if img := qrImage(fmt.Sprintf(k.o.TrackURL, k.s.number)); img != nil {
		qr = img
	}
	home := k.button(k.t("app.home"), nil, accent, k.goHome)
	home.min = fyne.NewSize(k.size(skin.SizeTile)*2.5, k.size(skin.SizeTile))
	return container.NewBorder(nil, container.NewHBox(layout.NewSpacer(), home), nil, qr, vcenter(info))
}

// qrImage renders content as a QR code image, black on white with a quiet
// zone, or nil if it cannot be encoded.
func qrImage(content string) fyne.CanvasObject {
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		return nil
	}
	q.ForegroundColor = color.Black
	q.BackgroundColor = color.White
	img := canvas.NewImageFromImage(q.Image(256))
	img.FillMode = canvas.ImageFillContain
	img.ScaleMode = canvas.ImageScalePixels
	img.SetMinSize(fyne.NewSize(200, 200))
	return container.NewCenter(img)
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func remove(ss []string, s string) []string {
	out := ss[:0]
	for _, x := range ss {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}
