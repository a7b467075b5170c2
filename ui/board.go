package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"linli/ui/skin"
)

// wishKeys are the wishes a resident can post: free text needs a Chinese
// input method the kiosk does not have.
var wishKeys = []string{"wish.chat", "wish.medicine", "wish.fix", "wish.homework", "wish.doctor", "wish.clean", "wish.phone", "wish.carry"}

// wishText translates a posted wish back if it is one of ours.
func (k *Kiosk) wishText(s string) string {
	for _, key := range wishKeys {
		if zh(key) == s {
			return k.t(key)
		}
	}
	return s
}

func (k *Kiosk) wishScreen() fyne.CanvasObject {
	switch k.screen {
	case WishPost:
		var tiles []fyne.CanvasObject
		for _, key := range wishKeys {
			tiles = append(tiles, k.button(k.t(key), nil, plain, func() {
				ctx, cancel := k.ctx()
				defer cancel()
				if err := k.b.PostWish(ctx, zh(key)); err != nil {
					k.s.msg = k.t("wish.failed")
					k.render()
					return
				}
				k.show(WishDone)
			}))
		}
		return container.NewBorder(heading(k.t("wish.choose")), k.navBar(func() { k.show(WishList) }), nil, nil,
			container.NewBorder(nil, k.message(), nil, nil, k.pages(180, 0, k.t("wish.more"), tiles...)))
	case WishDone:
		home := k.button(k.t("app.home"), nil, accent, k.goHome)
		return container.NewBorder(nil, container.NewCenter(home), nil, nil, vcenter(headline(k.t("wish.posted"))))
	}
	list := container.NewVBox()
	for _, w := range k.b.Wishes() {
		state, imp := k.t("wish.open"), widget.HighImportance
		switch {
		case w.Done:
			state, imp = k.t("wish.done"), widget.SuccessImportance
		case w.ClaimedBy != "":
			state, imp = k.t("wish.claimed")+" · "+w.ClaimedBy, widget.SuccessImportance
		}
		st := widget.NewLabel(state)
		st.Importance = imp
		list.Add(k.card(container.NewBorder(nil, nil, nil, st, para(k.wishText(w.Text)))))
	}
	if len(list.Objects) == 0 {
		list.Add(text(k.t("wish.none")))
	}
	post := k.button(k.t("wish.post"), nil, accent, func() { k.show(WishPost) })
	post.min.Width = k.size(skin.SizeTile) * 3
	return container.NewBorder(heading(k.t("wish.title")), k.navBar(nil, post), nil, nil, k.scroll(list))
}

func (k *Kiosk) noticeScreen() fyne.CanvasObject {
	list := container.NewVBox()
	for _, n := range k.b.Notices() {
		title := canvas.NewText(n.Title, k.col(theme.ColorNameForeground))
		title.TextSize = k.size(theme.SizeNameSubHeadingText)
		title.TextStyle.Bold = true
		head := []fyne.CanvasObject{title}
		if n.Level == "warning" || n.Level == "typhoon" {
			tag := canvas.NewText(k.t("notice."+n.Level), k.col(theme.ColorNameError))
			tag.TextSize = k.size(theme.SizeNameText)
			head = append([]fyne.CanvasObject{tag}, head...)
		}
		date := canvas.NewText(k.when(n.Published), k.col(skin.ColorSecondary))
		date.TextSize = k.size(theme.SizeNameCaptionText)
		list.Add(k.card(k.inset(container.NewBorder(nil, nil, container.NewHBox(head...), date)), para(n.Body)))
	}
	if len(list.Objects) == 0 {
		list.Add(text(k.t("notice.none")))
	}
	return container.NewBorder(heading(k.t("notice.title")), nil, nil, nil, k.scroll(list))
}

func (k *Kiosk) directoryScreen() fyne.CanvasObject {
	list := container.NewVBox()
	for _, s := range k.b.Directory() {
		name := canvas.NewText(s.Name, k.col(theme.ColorNameForeground))
		name.TextSize = k.size(theme.SizeNameSubHeadingText)
		name.TextStyle.Bold = true
		phone := canvas.NewText(s.Phone, k.col(skin.ColorAccent))
		phone.TextSize = k.size(theme.SizeNameSubHeadingText)
		phone.TextStyle.Bold = true
		var rest []fyne.CanvasObject
		if s.Place != "" {
			rest = append(rest, para(k.t("dir.place")+": "+s.Place))
		}
		if s.Hours != "" {
			rest = append(rest, para(k.t("dir.hours")+": "+s.Hours))
		}
		list.Add(k.card(append([]fyne.CanvasObject{k.inset(container.NewBorder(nil, nil, name, phone))}, rest...)...))
	}
	if len(list.Objects) == 0 {
		list.Add(text(k.t("dir.none")))
	}
	return container.NewBorder(heading(k.t("dir.title")), nil, nil, nil, k.scroll(list))
}
