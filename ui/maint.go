package ui

import (
	"fmt"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"

	"linli/ui/skin"
)

func (k *Kiosk) maintScreen() fyne.CanvasObject {
	if k.screen == MaintPIN {
		ok := k.button(k.t("app.ok"), nil, accent, func() {
			if k.s.digits != k.o.PIN {
				k.s.digits = ""
				k.s.msg = k.t("maint.wrong")
				k.render()
				return
			}
			k.show(MaintInfo)
		})
		masked := ""
		for range k.s.digits {
			masked += "*"
		}
		pad := k.keypad(&k.s.digits, 8, func() { k.s.msg = ""; k.render() })
		return k.keypadPage(heading(k.t("maint.title")), k.navBar(nil, ok), pad, k.display(masked, k.t("maint.pin")), k.message())
	}
	st := k.o.Status()
	broker := k.t("maint.down")
	if st.Connected {
		broker = k.t("maint.connected")
	}
	sz := k.win.Canvas().Size()
	rows := [][2]string{
		{"maint.device", st.Device},
		{"maint.broker", broker},
		{"maint.outbox", fmt.Sprint(st.Health.QueueDepth)},
		{"maint.dropped", fmt.Sprint(st.Health.Dropped)},
		{"maint.reconnects", fmt.Sprint(st.Health.Reconnects)},
		{"maint.firmware", st.Health.Firmware},
		{"maint.uptime", st.Health.Uptime.Truncate(time.Second).String()},
		{"maint.storage", fmt.Sprintf("%d KiB", st.Health.StorageUsed/1024)},
		{"maint.screen", fmt.Sprintf("%.0f×%.0f", sz.Width, sz.Height)},
	}
	// One name column for all rows, wide enough for the longest name and a
	// gap: a name wider than a fixed column ran into its value.
	nameW := 170 * k.scale()
	for _, r := range rows {
		w := fyne.MeasureText(k.t(r[0]), k.size(theme.SizeNameText), fyne.TextStyle{}).Width
		nameW = max(nameW, w+k.size(theme.SizeNameInnerPadding))
	}
	grid := container.NewGridWithColumns(2)
	for _, r := range rows {
		name := canvas.NewText(k.t(r[0]), k.col(skin.ColorSecondary))
		name.TextSize = k.size(theme.SizeNameText)
		val := canvas.NewText(r[1], k.col(theme.ColorNameForeground))
		val.TextSize = k.size(theme.SizeNameText)
		val.TextStyle.Bold = true
		grid.Add(container.NewBorder(nil, nil, container.New(&minLayout{min: fyne.NewSize(nameW, 0)}, name), nil, val))
	}
	exit := k.button(k.t("maint.exit"), nil, accent, k.goHome)
	return container.NewBorder(heading(k.t("maint.title")), k.navBar(nil, exit), nil, nil, k.card(grid))
}
