package ui

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"linli/ui/i18n"
	"linli/ui/skin"
)

func zh(key string) string { return i18n.ZH.T(key) }
func en(key string) string { return i18n.EN.T(key) }

// tap is a touch target around any content. A press held longer than the
// embedded driver's 300 ms arrives as a secondary tap; slow fingers are
// normal at a kiosk, so both count as a tap.
type tap struct {
	widget.BaseWidget
	label   string // what tests find it by
	content fyne.CanvasObject
	min     fyne.Size
	onTap   func()
	onAlt   func() // secondary tap; nil = onTap
}

func newTap(label string, content fyne.CanvasObject, min fyne.Size, onTap func()) *tap {
	t := &tap{label: label, content: content, min: min, onTap: onTap}
	t.ExtendBaseWidget(t)
	return t
}

func (t *tap) CreateRenderer() fyne.WidgetRenderer { return widget.NewSimpleRenderer(t.content) }

func (t *tap) MinSize() fyne.Size { return t.content.MinSize().Max(t.min) }

// Tapped implements fyne.Tappable.
func (t *tap) Tapped(*fyne.PointEvent) {
	if t.onTap != nil {
		t.onTap()
	}
}

// TappedSecondary implements fyne.SecondaryTappable.
func (t *tap) TappedSecondary(*fyne.PointEvent) {
	if t.onAlt != nil {
		t.onAlt()
		return
	}
	t.Tapped(nil)
}

// style of a button.
type style int

const (
	plain     style = iota
	accent          // the step's main action
	selected        // a chosen chip: a check mark
	unchecked       // a chip not chosen: an empty box
	danger          // on the red alert
	quiet           // title-bar controls
	barOn           // a title-bar switch that is on
)

// rich is a wrapping label in a theme colour and size: Fyne labels take
// only the foreground, and a container.ThemeOverride per label would make
// Fyne parse the fonts again for each one.
func rich(s string, c fyne.ThemeColorName, sz fyne.ThemeSizeName, bold bool, align fyne.TextAlign) *widget.RichText {
	r := widget.NewRichText(&widget.TextSegment{Text: s, Style: widget.RichTextStyle{
		Alignment: align, ColorName: c, SizeName: sz, TextStyle: fyne.TextStyle{Bold: bold},
	}})
	r.Wrapping = fyne.TextWrapWord
	return r
}

// text is a wrapping, centred label.
func text(s string) *widget.Label {
	l := widget.NewLabel(s)
	l.Wrapping = fyne.TextWrapWord
	l.Alignment = fyne.TextAlignCenter
	return l
}

// para is a wrapping, left-aligned label.
func para(s string) *widget.Label {
	l := widget.NewLabel(s)
	l.Wrapping = fyne.TextWrapWord
	return l
}

// heading is a bold-sized single line in the foreground colour.
func heading(s string) *widget.Label {
	l := widget.NewLabel(s)
	l.SizeName = theme.SizeNameSubHeadingText
	l.Wrapping = fyne.TextWrapWord
	return l
}

// headline is a centred heading, for the screens that end a flow, where
// everything under it is centred too.
func headline(s string) *widget.Label {
	l := heading(s)
	l.Alignment = fyne.TextAlignCenter
	return l
}

// inset indents o at both sides as far as a label indents its text, so
// that a row of canvas.Text lines up with the labels under it.
func (k *Kiosk) inset(o fyne.CanvasObject) fyne.CanvasObject {
	p := k.size(theme.SizeNameInnerPadding)
	return container.New(layout.NewCustomPaddedLayout(0, 0, p, p), o)
}

// vcenter stacks objs vertically centred, each the full width.
func vcenter(objs ...fyne.CanvasObject) fyne.CanvasObject {
	all := append([]fyne.CanvasObject{layout.NewSpacer()}, objs...)
	all = append(all, layout.NewSpacer())
	return container.NewVBox(all...)
}

// button builds a touch target: a rounded face, an optional icon above the
// label, both coloured for st.
func (k *Kiosk) button(label string, icon fyne.Resource, st style, onTap func()) *tap {
	return k.iconButton(label, icon, k.size(skin.SizeIcon), st, onTap)
}

// iconButton is button with an icon of edge iconSize.
func (k *Kiosk) iconButton(label string, icon fyne.Resource, iconSize float32, st style, onTap func()) *tap {
	face, edge, fgName := k.col(skin.ColorTile), k.col(skin.ColorTileEdge), skin.ColorTileText
	switch st {
	case accent:
		face, edge, fgName = k.col(skin.ColorAccent), k.col(skin.ColorAccent), skin.ColorOnAccent
	case selected:
		face, edge = k.col(skin.ColorSelected), k.col(skin.ColorAccent)
	case danger:
		face, edge, fgName = k.col(skin.ColorOnAlert), k.col(skin.ColorOnAlert), skin.ColorAlert
	case quiet:
		face, edge, fgName = k.col(skin.ColorBar), k.col(skin.ColorOnBar), skin.ColorOnBar
	case barOn:
		face, edge, fgName = k.col(skin.ColorOnBar), k.col(skin.ColorOnBar), skin.ColorBar
	}
	bg := canvas.NewRectangle(face)
	bg.CornerRadius = 10
	bg.StrokeColor = edge
	bg.StrokeWidth = 2
	if st == selected || k.s.contrast {
		bg.StrokeWidth = 3
	}
	l := rich(label, fgName, k.textSize(), st == accent || st == barOn, fyne.TextAlignCenter)
	var inner fyne.CanvasObject = vcenter(l)
	if (st == selected || st == unchecked) && icon == nil {
		// Not by colour alone: a chosen chip carries a check mark.
		res := theme.NewColoredResource(theme.CheckButtonCheckedIcon(), skin.ColorAccent)
		if st == unchecked {
			res = theme.NewColoredResource(theme.CheckButtonIcon(), skin.ColorTileText)
		}
		mark := canvas.NewImageFromResource(res)
		s := k.size(theme.SizeNameInlineIcon)
		mark.SetMinSize(fyne.NewSize(s, s))
		inner = container.NewBorder(nil, nil, container.NewCenter(mark), nil, inner)
	}
	if icon != nil {
		img := canvas.NewImageFromResource(theme.NewColoredResource(icon, fgName))
		img.FillMode = canvas.ImageFillContain
		img.SetMinSize(fyne.NewSize(iconSize, iconSize))
		inner = vcenter(img, l)
	}
	// Outside a grid a button is as wide as its label on one line; grid
	// lets tiles wrap.
	t := k.size(skin.SizeTile)
	if k.bar {
		t = k.size(skin.SizeBarTile)
	}
	minW := t
	if st == accent {
		minW = 2.5 * t // the step's main action is the easiest to hit
	}
	w := fyne.MeasureText(label, k.size(k.textSize()), fyne.TextStyle{Bold: true}).Width + 2*k.size(theme.SizeNameInnerPadding) + 4*k.size(theme.SizeNamePadding)
	b := newTap(label, container.NewStack(bg, container.NewPadded(inner)), fyne.NewSize(max(minW, w), t), func() {
		k.activity()
		onTap()
	})
	return b
}

// keypad is the on-screen digit keypad: the device has no keyboard. It
// edits *value, keeping at most max digits, and calls changed after every
// key.
func (k *Kiosk) keypad(value *string, max int, changed func()) fyne.CanvasObject {
	key := func(label string, f func()) fyne.CanvasObject {
		b := k.button(label, nil, plain, func() { f(); changed() })
		b.min = fyne.NewSize(k.size(skin.SizeKey), k.size(skin.SizeKey))
		return b
	}
	digit := func(d string) fyne.CanvasObject {
		return key(d, func() {
			if len(*value) < max {
				*value += d
			}
		})
	}
	return container.NewGridWithColumns(3,
		digit("1"), digit("2"), digit("3"),
		digit("4"), digit("5"), digit("6"),
		digit("7"), digit("8"), digit("9"),
		key(k.t("key.clear"), func() { *value = "" }),
		digit("0"),
		key(k.t("key.delete"), func() {
			if n := len(*value); n > 0 {
				*value = (*value)[:n-1]
			}
		}),
	)
}

// display shows typed digits large, in a box, with a placeholder.
func (k *Kiosk) display(value, placeholder string) fyne.CanvasObject {
	bg := canvas.NewRectangle(k.col(theme.ColorNameInputBackground))
	bg.StrokeColor = k.col(skin.ColorAccent)
	bg.StrokeWidth = 3
	bg.CornerRadius = 8
	txt := canvas.NewText(value, k.col(theme.ColorNameForeground))
	txt.TextSize = k.size(skin.SizeBigText)
	txt.Alignment = fyne.TextAlignCenter
	if value == "" {
		txt.Text = placeholder
		txt.Color = k.col(theme.ColorNamePlaceHolder)
		txt.TextSize = k.size(theme.SizeNameText)
	}
	h := k.size(skin.SizeBigText) * 1.6
	box := container.NewStack(bg, container.NewCenter(txt))
	return container.New(&minLayout{min: fyne.NewSize(0, h)}, box)
}

// minLayout stacks its objects with a minimum size.
type minLayout struct{ min fyne.Size }

func (l *minLayout) Layout(objs []fyne.CanvasObject, s fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(s)
	}
}

func (l *minLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	m := l.min
	for _, o := range objs {
		m = m.Max(o.MinSize())
	}
	return m
}

// card is a framed block for list entries.
func (k *Kiosk) card(objs ...fyne.CanvasObject) fyne.CanvasObject {
	bg := canvas.NewRectangle(k.col(skin.ColorTile))
	bg.StrokeColor = k.col(skin.ColorTileEdge)
	bg.StrokeWidth = 2
	bg.CornerRadius = 8
	return container.NewStack(bg, container.NewPadded(container.NewVBox(objs...)))
}

// icon returns the theme icon of a category's icon name.
func icon(name string) fyne.Resource {
	if name == "" {
		return theme.GridIcon()
	}
	// theme.Icon never returns nil (it logs and falls back); ask the theme
	// itself so that an unknown name in a catalogue gets the grid icon.
	if r := theme.Current().Icon(fyne.ThemeIconName(name)); r != nil {
		return theme.NewThemedResource(r)
	}
	return theme.GridIcon()
}

func (k *Kiosk) col(n fyne.ThemeColorName) color.Color { return k.th.Color(n, theme.VariantLight) }

func (k *Kiosk) size(n fyne.ThemeSizeName) float32 { return k.th.Size(n) }

// textSize is the size name of body text: fixed in the title bar.
func (k *Kiosk) textSize() fyne.ThemeSizeName {
	if k.bar {
		return skin.SizeBarText
	}
	return theme.SizeNameText
}

// scroll is a vertical scroll whose content keeps clear of the scroll bar,
// which Fyne draws over the content's right edge.
func (k *Kiosk) scroll(content fyne.CanvasObject) fyne.CanvasObject {
	gap := canvas.NewRectangle(color.Transparent)
	gap.SetMinSize(fyne.NewSize(k.size(theme.SizeNameScrollBar)+k.size(theme.SizeNamePadding), 0))
	return container.NewVScroll(container.NewBorder(nil, nil, nil, gap, content))
}
