package ui

import (
	"image"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
)

// QR returns the image of the first QR code on the screen, or nil.
func (k *Kiosk) QR() image.Image {
	var img image.Image
	walk(k.win.Content(), func(o fyne.CanvasObject) {
		if c, ok := o.(*canvas.Image); ok && img == nil && c.Image != nil {
			img = c.Image
		}
	})
	return img
}
