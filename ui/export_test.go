package ui

import (
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

// walk calls f on every object of the window's tree, descending into the
// containers and widgets the screens use.
func walk(o fyne.CanvasObject, f func(fyne.CanvasObject)) {
	if o == nil || !o.Visible() {
		return // a resident cannot see or tap it
	}
	f(o)
	switch v := o.(type) {
	case *fyne.Container:
		for _, c := range v.Objects {
			walk(c, f)
		}
	case *tap:
		walk(v.content, f)
	case *container.ThemeOverride:
		walk(v.Content, f)
	case *container.Scroll:
		walk(v.Content, f)
	}
}

func (k *Kiosk) find(label string) (*tap, error) {
	var found []*tap
	walk(k.win.Content(), func(o fyne.CanvasObject) {
		if t, ok := o.(*tap); ok && t.label == label {
			found = append(found, t)
		}
	})
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("no button %q on %s; have %q", label, k.screen, k.Buttons())
	case 1:
		return found[0], nil
	}
	// The overlay is last: it is on top.
	return found[len(found)-1], nil
}

// Tap taps the button labelled label.
func (k *Kiosk) Tap(label string) error {
	t, err := k.find(label)
	if err != nil {
		return err
	}
	t.Tapped(&fyne.PointEvent{})
	return nil
}

// LongPress secondary-taps the button labelled label, as the embedded
// driver turns a long press.
func (k *Kiosk) LongPress(label string) error {
	t, err := k.find(label)
	if err != nil {
		return err
	}
	t.TappedSecondary(&fyne.PointEvent{})
	return nil
}

// Buttons lists the labels of the buttons on screen.
func (k *Kiosk) Buttons() []string {
	var out []string
	walk(k.win.Content(), func(o fyne.CanvasObject) {
		if t, ok := o.(*tap); ok {
			out = append(out, t.label)
		}
	})
	return out
}

// Texts returns all label text on screen, joined by newlines.
func (k *Kiosk) Texts() string {
	var b strings.Builder
	walk(k.win.Content(), func(o fyne.CanvasObject) {
		switch v := o.(type) {
		case *widget.Label:
			b.WriteString(v.Text + "\n")
		case *widget.RichText:
			b.WriteString(v.String() + "\n")
		case *canvas.Text:
			b.WriteString(v.Text + "\n")
		}
	})
	return b.String()
}

// Draft returns the report being composed.
func (k *Kiosk) Draft() Draft { return k.s.draft }

// Digits returns the keypad value.
func (k *Kiosk) Digits() string { return k.s.digits }

// Cut lists the buttons a resident sees only in part: past the window's
// edge, or past the edge of the scroll they are in.
func (k *Kiosk) Cut() []string {
	var out []string
	var visit func(o fyne.CanvasObject, at fyne.Position, clip fyne.Size, clipAt fyne.Position)
	visit = func(o fyne.CanvasObject, at fyne.Position, clip fyne.Size, clipAt fyne.Position) {
		if o == nil || !o.Visible() {
			return
		}
		at = at.Add(o.Position())
		if t, ok := o.(*tap); ok {
			end := at.Add(t.Size())
			inside := func(p fyne.Position) bool {
				return p.X >= clipAt.X-0.5 && p.Y >= clipAt.Y-0.5 && p.X <= clipAt.X+clip.Width+0.5 && p.Y <= clipAt.Y+clip.Height+0.5
			}
			if inside(at) != inside(end) {
				out = append(out, t.label)
			}
			return
		}
		switch v := o.(type) {
		case *fyne.Container:
			for _, c := range v.Objects {
				visit(c, at, clip, clipAt)
			}
		case *container.Scroll:
			visit(v.Content, at, v.Size(), at) // the content sits at -Offset
		}
	}
	visit(k.win.Content(), fyne.Position{}, k.win.Canvas().Size(), fyne.Position{})
	return out
}
