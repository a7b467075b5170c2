//go:build noos

package main

import (
	"context"
	"image"
	"sync"

	"linli/devices/evdev"
)

// openTouch starts reading the touch screen at path; "" means none. The
// reader stops when ctx ends; wg waits for it.
func openTouch(ctx context.Context, path string, size image.Point, wg *sync.WaitGroup, d *deps) (<-chan evdev.Touch, error) {
	if path == "" {
		return nil, nil
	}
	dev, err := evdev.Open(path, &evdev.Opts{Width: size.X, Height: size.Y})
	if err != nil {
		return nil, err
	}
	ch := make(chan evdev.Touch, 64)
	wg.Go(func() {
		defer dev.Close()
		if err := dev.Run(ctx, ch); err != nil && ctx.Err() == nil {
			d.logger.Error("touch screen stopped", "err", err)
		}
	})
	return ch, nil
}
