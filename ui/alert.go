package ui

import (
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"

	"linli/mqtt/contract"
	"linli/ui/i18n"
	"linli/ui/skin"
)

// alertWhere names an alert's place: "3号楼2单元".
func (k *Kiosk) alertWhere(a contract.Alert) string {
	if a.Location.Building == "" {
		return k.t("place.community")
	}
	return k.placeText(contract.Location{Building: a.Location.Building, Unit: a.Location.Unit})
}

// alertKind names what an alert is about: "温度报警".
func (k *Kiosk) alertKind(a contract.Alert) string {
	kind := "alert.kind." + a.Kind
	if !i18n.Has(kind) {
		kind = "alert.kind.other"
	}
	return k.t(kind)
}

// alertsWhat says in plain words what is happening, one line a place:
// "3号楼 电表箱 温度报警、烟雾报警".
func (k *Kiosk) alertsWhat() string {
	var places []string
	kinds := map[string][]string{}
	for _, a := range k.alerts {
		w, kind := k.alertWhere(a), k.alertKind(a)
		if _, ok := kinds[w]; !ok {
			places = append(places, w)
		}
		if !contains(kinds[w], kind) {
			kinds[w] = append(kinds[w], kind)
		}
	}
	sep := "、"
	if k.s.lang != i18n.ZH {
		sep = ", "
	}
	var lines []string
	for _, w := range places {
		lines = append(lines, k.tf("alert.what", w, strings.Join(kinds[w], sep)))
	}
	return strings.Join(lines, "\n")
}

// alertsStaff says honestly where the response stands: who is on the way
// (role and name, from the acknowledgement) for acknowledged alerts, and
// that staff have been told for the others — never "on the way" before
// someone answered.
func (k *Kiosk) alertsStaff() string {
	coming, told := k.alertsResponse()
	if told != "" {
		coming = append(coming, told)
	}
	return strings.Join(coming, "\n")
}

// alertsResponse returns a line per responder on the way, and the line
// saying who has been told if an alert is unanswered (or nobody is named).
func (k *Kiosk) alertsResponse() (coming []string, told string) {
	level, waiting := "", false
	var who []string
	for _, a := range k.alerts {
		if a.AckedBy == "" {
			level, waiting = higherLevel(level, a.Level), true
			continue
		}
		role := "alert.role." + a.AckedRole
		if !i18n.Has(role) {
			role = "alert.role.other"
		}
		w := k.t(role)
		if name := strings.TrimSpace(a.AckedName); name != "" {
			if k.s.lang != i18n.ZH {
				w += " "
			}
			w += name
		}
		if !contains(who, w) {
			who = append(who, w)
		}
	}
	for _, w := range who {
		coming = append(coming, k.tf("alert.coming", w))
	}
	if waiting || len(coming) == 0 {
		key := "alert.told." + level
		if !i18n.Has(key) {
			key = "alert.told.grid"
		}
		told = k.t(key)
	}
	return coming, told
}

// higherLevel returns the higher of two alert levels (grid < community <
// subdistrict); "" is below all.
func higherLevel(a, b string) string {
	rank := map[string]int{"grid": 1, "community": 2, "subdistrict": 3}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// alertOverlay covers the whole window in red until the alert clears or the
// resident acknowledges it.
func (k *Kiosk) alertOverlay() fyne.CanvasObject {
	bg := canvas.NewRectangle(k.col(skin.ColorAlert))
	title := canvas.NewText(k.t("alert.title"), k.col(skin.ColorOnAlert))
	title.TextSize = k.size(skin.SizeBigText) * 1.2
	title.TextStyle.Bold = true
	title.Alignment = fyne.TextAlignCenter
	warn := canvas.NewImageFromResource(theme.NewColoredResource(theme.WarningIcon(), skin.ColorOnAlert))
	s := k.size(skin.SizeBigText) * 1.3
	warn.SetMinSize(fyne.NewSize(s, s))
	on := skin.ColorOnAlert
	what := rich(k.alertsWhat(), on, theme.SizeNameHeadingText, true, fyne.TextAlignCenter)
	do := rich(k.t("alert.do"), on, theme.SizeNameSubHeadingText, false, fyne.TextAlignCenter)
	staff := rich(k.alertsStaff(), on, theme.SizeNameText, false, fyne.TextAlignCenter)
	ok := k.button(k.t("alert.understand"), nil, danger, func() {
		k.acked = alertKey(k.alerts)
		k.render()
	})
	ok.min = fyne.NewSize(k.size(skin.SizeTile)*4, k.size(skin.SizeTile))
	body := vcenter(container.NewHBox(layout.NewSpacer(), warn, title, layout.NewSpacer()), what, do, staff)
	content := container.NewBorder(nil, container.NewCenter(ok), nil, nil, body)
	return container.NewStack(bg, container.NewPadded(container.NewPadded(content)))
}

// alertBanner keeps an acknowledged alert visible.
func (k *Kiosk) alertBanner() fyne.CanvasObject {
	bg := canvas.NewRectangle(k.col(skin.ColorAlert))
	line := k.tf("alert.banner", strings.ReplaceAll(k.alertsWhat(), "\n", "；"))
	if coming, _ := k.alertsResponse(); len(coming) > 0 {
		line += " · " + strings.Join(coming, "；") // help answered after the resident dismissed the alert
	}
	msg := rich(line, skin.ColorOnAlert, theme.SizeNameText, true, fyne.TextAlignLeading)
	more := k.button(k.t("alert.more"), nil, danger, func() {
		k.acked = ""
		k.render()
	})
	return container.NewStack(bg, container.NewPadded(container.NewBorder(nil, nil, nil, more, vcenter(msg))))
}

// faultBanner says a safety sensor is out of order: not a hazard, but
// residents should know the building is not watched.
func (k *Kiosk) faultBanner() fyne.CanvasObject {
	seen := map[string]bool{}
	var parts []string
	for _, a := range k.faults {
		w := k.placeText(contract.Location{Building: a.Location.Building})
		if a.Location.Building == "" {
			w = k.t("place.community")
		}
		if !seen[w] {
			seen[w] = true
			parts = append(parts, w)
		}
	}
	bg := canvas.NewRectangle(k.col(skin.ColorNotice))
	msg := rich(k.tf("alert.fault", strings.Join(parts, ", ")), skin.ColorOnNotice, theme.SizeNameText, false, fyne.TextAlignCenter)
	return container.NewStack(bg, container.NewPadded(msg))
}
