package evdev_test

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"linli/devices/evdev"
)

// Example replays a tap recorded from a 64-bit kernel on a single-touch
// panel whose axes run 0..4095, mapped onto a 1024×600 screen. On a
// device, evdev.Open("/dev/input/event0", &evdev.Opts{Width: 1024,
// Height: 600}) reads the axis ranges, and (*Device).Run feeds the same
// loop.
func Example() {
	var rec []byte
	at := time.Unix(1_790_000_000, 0)
	for _, e := range []evdev.Event{
		{Type: evdev.EvKey, Code: evdev.BtnTouch, Value: 1},
		{Type: evdev.EvAbs, Code: evdev.AbsX, Value: 2048},
		{Type: evdev.EvAbs, Code: evdev.AbsY, Value: 1024},
		{Type: evdev.EvSyn, Code: evdev.SynReport},
		{Type: evdev.EvKey, Code: evdev.BtnTouch, Value: 0},
		{Type: evdev.EvSyn, Code: evdev.SynReport},
	} {
		e.Time = at
		rec = evdev.AppendEvent(rec, 8, e)
	}

	r, err := evdev.NewReader(bytes.NewReader(rec), 8)
	if err != nil {
		panic(err)
	}
	cal := evdev.Calibration{XMax: 4095, YMax: 4095, Width: 1024, Height: 600}
	out := make(chan evdev.Touch, 10)
	if err := evdev.Stream(context.Background(), r, evdev.NewTracker(cal, false), out); err != nil {
		panic(err)
	}
	close(out)
	for t := range out {
		fmt.Println(t)
	}
	// Output:
	// down#0(511.6,149.8)
	// up#0(511.6,149.8)
}
