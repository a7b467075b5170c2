//go:build noos

package main

import (
	"context"
	"errors"
	"image"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"

	"linli/ui/display"
)

const defaultDisplay = "fb"

// runUI runs the kiosk on Fyne's embedded driver: framebuffer or PNG
// frames, evdev touches. It returns when ctx ends.
func runUI(ctx context.Context, c *cliConfig, d *deps) error {
	if c.display == "window" {
		return errors.New("--display window needs a build with -tags desktop")
	}
	sink, err := display.OpenSink(c.display, &display.SinkOptions{Size: c.size})
	if err != nil {
		return err
	}
	defer sink.Close()
	touchCtx, stopTouch := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stopTouch(); wg.Wait() }()
	touches, err := openTouch(touchCtx, c.touch, sink.Size(), &wg, d)
	if err != nil {
		return err
	}
	if d.touches != nil {
		touches = d.touches
	}

	drv := display.New(sink, touches, &display.Options{Logger: d.logger})
	a := app.NewWithID("linli.kiosk")
	app.SetDriverDetails(a, drv) // resets the theme: the kiosk sets its own below
	w := a.NewWindow("kiosk")
	w.SetPadded(false)
	k := newKiosk(w, d, drv.Refresh)
	if d.onUI != nil {
		d.onUI(w, k)
	}
	w.Show()

	frame := func(ctx context.Context) (image.Image, error) {
		if img := drv.LastFrame(); img != nil {
			return img, nil
		}
		return nil, errNoScreen
	}
	d.frame.Store(&frame)

	wg.Go(func() {
		pump(ctx, k, d, fyne.Do, nil)
		drv.Quit()
	})
	drv.Refresh() // the first frame
	a.Run()
	return nil
}
