//go:build desktop && !noos

package main

import (
	"context"
	"fmt"
	"image"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"
)

const defaultDisplay = "window"

// runUI shows the kiosk in a desktop window (GLFW, cgo), for development.
func runUI(ctx context.Context, c *cliConfig, d *deps) error {
	if c.display != "window" {
		return fmt.Errorf("--display %q: the desktop build only opens a window", c.display)
	}
	a := app.NewWithID("linli.kiosk")
	w := a.NewWindow("Linli kiosk")
	w.Resize(fyne.NewSize(float32(c.size.X), float32(c.size.Y)))
	w.SetFixedSize(true)
	k := newKiosk(w, d, func() {})
	frame := func(ctx context.Context) (image.Image, error) {
		var img image.Image
		fyne.DoAndWait(func() { img = w.Canvas().Capture() })
		return img, nil
	}
	d.frame.Store(&frame)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		pump(ctx, k, d, fyne.Do, nil)
		fyne.Do(a.Quit)
	})
	w.ShowAndRun()
	return nil
}
