//go:build noos && !linux

package main

import (
	"context"
	"errors"
	"image"
	"sync"

	"linli/devices/evdev"
)

// openTouch: evdev touch screens exist on Linux only.
func openTouch(ctx context.Context, path string, size image.Point, wg *sync.WaitGroup, d *deps) (<-chan evdev.Touch, error) {
	if path == "" {
		return nil, nil
	}
	return nil, errors.New("--touch: evdev needs Linux")
}
