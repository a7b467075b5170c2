package evdev

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// AbsInfo is struct input_absinfo: an axis' current value and range.
type AbsInfo struct {
	Value, Minimum, Maximum, Fuzz, Flat, Resolution int32
}

// eviocgabs returns EVIOCGABS(axis) = _IOR('E', 0x40 + axis, struct input_absinfo).
func eviocgabs(axis uint16) uintptr {
	return 2<<30 | uintptr(unsafe.Sizeof(AbsInfo{}))<<16 | 'E'<<8 | uintptr(0x40+axis)
}

// eviocgrab is EVIOCGRAB = _IOW('E', 0x90, int).
const eviocgrab = 1<<30 | 4<<16 | 'E'<<8 | 0x90

// Opts configures Open. Width and Height are required; the other fields
// default to zero values.
type Opts struct {
	// Width and Height are the panel's size in pixels, before rotation.
	Width, Height int
	// Rotate, SwapXY, InvertX and InvertY are copied into the Calibration;
	// see there.
	Rotate                   int
	SwapXY, InvertX, InvertY bool
	// NoGrab leaves the device shared with other readers (the console).
	NoGrab bool
}

// ErrNoAxes means the device reports no usable position axes: it is not a
// touch screen.
var ErrNoAxes = errors.New("evdev: no touch position axes")

// Device is an open touch screen.
type Device struct {
	f     *os.File
	cal   Calibration
	multi bool
}

// Open opens an event device such as /dev/input/event0, reads its axis
// ranges and grabs it. The caller closes it.
func Open(path string, opts *Opts) (*Device, error) {
	if opts == nil || opts.Width <= 0 || opts.Height <= 0 {
		return nil, errors.New("evdev: Opts.Width and Height are required")
	}
	f, err := os.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("evdev: %w", err)
	}
	d := &Device{f: f, cal: Calibration{
		Width: opts.Width, Height: opts.Height, Rotate: opts.Rotate,
		SwapXY: opts.SwapXY, InvertX: opts.InvertX, InvertY: opts.InvertY,
	}}
	x, errX := d.absInfo(AbsMTPositionX)
	y, errY := d.absInfo(AbsMTPositionY)
	d.multi = errX == nil && errY == nil && x.Maximum > x.Minimum && y.Maximum > y.Minimum
	if !d.multi {
		x, errX = d.absInfo(AbsX)
		y, errY = d.absInfo(AbsY)
		if err := errors.Join(errX, errY); err != nil {
			f.Close()
			return nil, fmt.Errorf("%w: %s: %w", ErrNoAxes, path, err)
		}
		if x.Maximum <= x.Minimum || y.Maximum <= y.Minimum {
			f.Close()
			return nil, fmt.Errorf("%w: %s: empty axis range x %d..%d, y %d..%d", ErrNoAxes, path, x.Minimum, x.Maximum, y.Minimum, y.Maximum)
		}
	}
	d.cal.XMin, d.cal.XMax, d.cal.YMin, d.cal.YMax = x.Minimum, x.Maximum, y.Minimum, y.Maximum
	if !opts.NoGrab {
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), eviocgrab, 1); e != 0 {
			f.Close()
			return nil, fmt.Errorf("evdev: %s: EVIOCGRAB: %w", path, e)
		}
	}
	return d, nil
}

func (d *Device) absInfo(axis uint16) (AbsInfo, error) {
	var a AbsInfo
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, d.f.Fd(), eviocgabs(axis), uintptr(unsafe.Pointer(&a))); e != 0 {
		return a, e
	}
	return a, nil
}

// Calibration returns the mapping from the device's axes to screen
// pixels.
func (d *Device) Calibration() Calibration { return d.cal }

// MultiTouch reports whether the device has multi-touch axes.
func (d *Device) MultiTouch() bool { return d.multi }

// Run reads touches and sends them to out until ctx is done (it then
// returns nil) or reading fails. It blocks; run it in a goroutine that
// the caller waits for.
func (d *Device) Run(ctx context.Context, out chan<- Touch) error {
	return run(ctx, d.f, d.cal, d.multi, out)
}

// Close releases the grab and closes the device. Stop Run first.
func (d *Device) Close() error {
	return d.f.Close()
}

// deadliner is the part of *os.File that run needs; tests pass a pipe.
type deadliner interface {
	Read([]byte) (int, error)
	SetReadDeadline(time.Time) error
}

func run(ctx context.Context, f deadliner, cal Calibration, multi bool, out chan<- Touch) error {
	stop := context.AfterFunc(ctx, func() { _ = f.SetReadDeadline(time.Now()) })
	defer stop()
	r, err := NewReader(f, 0)
	if err != nil {
		return err
	}
	err = Stream(ctx, r, NewTracker(cal, multi), out)
	if ctx.Err() != nil {
		return nil
	}
	return err
}
