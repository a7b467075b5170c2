package ui

import (
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"

	"linli/mqtt/contract"
	"linli/ui/skin"
)

// noteAwaitingHub is the note of a report the hub has not answered yet
// (kiosk.NoteAwaitingHub).
const noteAwaitingHub = "awaiting-hub"

// numberEntry is the ticket-number keypad screen shared by track and rate.
func (k *Kiosk) numberEntry(title string, search func()) fyne.CanvasObject {
	searchBtn := k.button(k.t("track.search"), nil, accent, func() {
		if k.s.digits == "" {
			return
		}
		k.s.number = k.s.digits
		search()
	})
	pad := k.keypad(&k.s.digits, 16, func() { k.s.msg = ""; k.render() })
	return k.keypadPage(heading(title), k.navBar(nil, searchBtn), pad, k.display(k.s.digits, k.t("track.enter")), k.message())
}

func (k *Kiosk) trackScreen() fyne.CanvasObject {
	if k.screen == TrackShow {
		if ts, ok := k.b.Track(k.s.number); ok {
			return k.timeline(ts)
		}
	}
	return k.numberEntry(k.t("track.title"), func() {
		ts, ok := k.b.Track(k.s.number)
		if !ok {
			k.s.msg = k.tf("track.notfound", k.s.number)
			k.render()
			return
		}
		n := ts.Number
		k.show(TrackShow)
		k.s.number = n
		k.render()
	})
}

// resolved reports whether a ticket can be rated: the hub's "resolved"
// (grid/tickets), the only state kiosk.Service.Rate accepts.
func resolved(status string) bool { return status == "resolved" }

// timeline shows a ticket's status, who handles it and every step, newest
// first.
func (k *Kiosk) timeline(ts contract.TicketStatus) fyne.CanvasObject {
	num := canvas.NewText(ts.Number, k.col(skin.ColorAccent))
	num.TextSize = k.size(theme.SizeNameSubHeadingText)
	num.TextStyle.Bold = true
	status := canvas.NewText(k.statusText(ts.Status), k.col(theme.ColorNameForeground))
	status.TextSize = k.size(theme.SizeNameSubHeadingText)
	status.TextStyle.Bold = true
	head := []fyne.CanvasObject{k.inset(container.NewHBox(num, status))}
	if ts.Assigned != "" {
		head = append(head, para(k.t("track.assigned")+": "+ts.Assigned))
	}
	if !ts.Due.IsZero() {
		head = append(head, para(k.t("track.due")+": "+k.when(ts.Due)))
	}
	steps := container.NewVBox()
	for i := len(ts.Timeline) - 1; i >= 0; i-- {
		st := ts.Timeline[i]
		dot := canvas.NewCircle(k.col(skin.ColorAccent))
		if i != len(ts.Timeline)-1 {
			dot.FillColor = k.col(skin.ColorTileEdge)
		}
		d := k.size(theme.SizeNameText) * 0.7
		dotBox := container.New(&minLayout{min: fyne.NewSize(d, d)}, dot)
		line := k.statusText(st.Status)
		if st.By != "" {
			line += " · " + st.By
		}
		when := canvas.NewText(k.when(st.At), k.col(skin.ColorSecondary))
		when.TextSize = k.size(theme.SizeNameText)
		body := container.NewVBox(para(line))
		switch st.Note {
		case "":
		case noteAwaitingHub:
			body.Add(para(k.t("track.awaiting")))
		default:
			body.Add(para(st.Note))
		}
		steps.Add(container.NewBorder(nil, nil, container.NewCenter(dotBox), when, body))
	}
	var actions []fyne.CanvasObject
	if resolved(ts.Status) {
		n := ts.Number
		actions = append(actions, k.button(k.t("track.rate"), nil, accent, func() {
			k.show(RateChoose)
			k.s.number = n
			k.render()
		}))
	}
	return container.NewBorder(container.NewVBox(head...), k.navBar(func() { k.show(TrackEnter) }, actions...), nil, nil,
		k.scroll(steps))
}

var ratings = []struct{ key, value string }{
	{"rate.satisfied", contract.RatingSatisfied},
	{"rate.basically", contract.RatingBasically},
	{"rate.unsatisfied", contract.RatingUnsatisfied},
}

var reasons = []string{"rate.notfixed", "rate.slow", "rate.attitude", "rate.nocontact"}

func (k *Kiosk) rateScreen() fyne.CanvasObject {
	switch k.screen {
	case RateChoose:
		var opts []fyne.CanvasObject
		for _, r := range ratings {
			ic := theme.ConfirmIcon()
			if r.value == contract.RatingUnsatisfied {
				ic = theme.CancelIcon()
			}
			opts = append(opts, k.button(k.t(r.key), ic, plain, func() {
				k.s.rating = r.value
				if r.value == contract.RatingUnsatisfied {
					k.keep(RateWhy)
					return
				}
				k.sendRating()
			}))
		}
		return container.NewBorder(heading(k.tf("rate.question", k.s.number)), k.navBar(func() { k.show(RateEnter) }),
			nil, nil, container.NewVBox(container.NewGridWithColumns(3, opts...), k.message()))
	case RateWhy:
		var chips []fyne.CanvasObject
		for _, key := range reasons {
			on := k.s.reasons[key]
			st := unchecked
			label := k.t(key)
			if on {
				st = selected
			}
			chips = append(chips, k.button(label, nil, st, func() {
				if k.s.reasons == nil {
					k.s.reasons = map[string]bool{}
				}
				k.s.reasons[key] = !on
				k.render()
			}))
		}
		send := k.button(k.t("report.submit"), nil, accent, k.sendRating)
		return container.NewBorder(heading(k.t("rate.why")), k.navBar(func() { k.keep(RateChoose) }, send),
			nil, nil, container.NewVBox(container.NewGridWithColumns(2, chips...), k.message()))
	case RateDone:
		msg := []fyne.CanvasObject{headline(k.t("rate.thanks"))}
		if k.s.rating == contract.RatingUnsatisfied {
			msg = append(msg, text(k.t("rate.reopen")))
		}
		home := k.button(k.t("app.home"), nil, accent, k.goHome)
		return container.NewBorder(nil, container.NewCenter(home), nil, nil, vcenter(msg...))
	}
	return k.numberEntry(k.t("rate.title"), func() {
		ts, ok := k.b.Track(k.s.number)
		switch {
		case !ok:
			k.s.msg = k.tf("track.notfound", k.s.number)
			k.render()
		case !resolved(ts.Status):
			k.s.msg = k.t("rate.notyet")
			k.render()
		default:
			k.s.number = ts.Number // as the hub writes it, not as typed
			k.keep(RateChoose)
		}
	})
}

// keep switches screens keeping the ticket number.
func (k *Kiosk) keep(s Screen) {
	n := k.s.number
	k.show(s)
	k.s.number = n
	k.render()
}

func (k *Kiosk) sendRating() {
	var why []string
	for _, key := range reasons {
		if k.s.reasons[key] {
			why = append(why, zh(key)) // the grid reads Chinese
		}
	}
	comment := strings.Join(why, "，")
	ctx, cancel := k.ctx()
	defer cancel()
	if err := k.b.Rate(ctx, k.s.number, k.s.rating, comment); err != nil {
		k.s.msg = k.t("rate.failed")
		k.render()
		return
	}
	k.keep(RateDone)
}
