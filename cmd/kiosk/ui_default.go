//go:build !noos && !desktop

package main

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
)

const defaultDisplay = "png:kiosk.png"

// runUI, in a build without the noos or desktop tags, renders the kiosk with
// Fyne's software test driver into a PNG file: no framebuffer, no touch.
// This goroutine is the UI goroutine. It returns when ctx ends.
func runUI(ctx context.Context, c *cliConfig, d *deps) error {
	path, ok := strings.CutPrefix(c.display, "png:")
	if !ok || path == "" {
		return fmt.Errorf("--display %q: this build only renders png:PATH; build with -tags noos for the framebuffer", c.display)
	}
	test.NewApp()
	w := test.NewWindow(nil)
	w.SetPadded(false)
	size := fyne.NewSize(float32(c.size.X), float32(c.size.Y))
	var last image.Image
	render := func() {
		w.Resize(size)
		last = w.Canvas().Capture()
		if err := writePNG(path, last); err != nil {
			d.logger.Error("draw", "err", err)
		}
	}
	k := newKiosk(w, d, render)
	render()

	shots := make(chan func())
	frame := func(ctx context.Context) (image.Image, error) {
		got := make(chan image.Image, 1)
		select {
		case shots <- func() { got <- last }:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		select {
		case img := <-got:
			if img == nil {
				return nil, errNoScreen
			}
			return img, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	d.frame.Store(&frame)
	pump(ctx, k, d, func(f func()) { f() }, shots)
	return nil
}

// writePNG writes img to path atomically.
func writePNG(path string, img image.Image) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".kiosk-*.png")
	if err != nil {
		return err
	}
	err = png.Encode(tmp, img)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return errors.Join(errors.New("write "+path), err)
	}
	return nil
}
