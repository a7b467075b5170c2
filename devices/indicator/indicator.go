package indicator

import (
	"context"
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
)

// after is the timer seam.
var after = func(d time.Duration) <-chan time.Time {
	return time.After(d)
}

// Pattern is a repeating cadence: On, then Off, again and again.
type Pattern struct {
	// On is how long the output is on in each cycle. 0 means always off.
	On time.Duration
	// Off is how long the output is off in each cycle. 0 means always on.
	Off time.Duration
}

// Cadences of the hazard states.
var (
	Alarm    = Pattern{On: time.Second}
	PreAlarm = Pattern{On: time.Second, Off: time.Second}
	Fault    = Pattern{On: 100 * time.Millisecond, Off: 30*time.Second - 100*time.Millisecond}
	Quiet    = Pattern{}
)

// String describes p, e.g. "1s on/1s off".
func (p Pattern) String() string {
	switch {
	case p.On <= 0:
		return "off"
	case p.Off <= 0:
		return "on"
	}
	return fmt.Sprintf("%s on/%s off", p.On, p.Off)
}

// Dev is one output. It is safe for concurrent use.
type Dev struct {
	p gpio.PinOut

	mu     sync.Mutex
	cancel context.CancelFunc // of the running Pattern, if any
	done   chan struct{}      // closed when the running Pattern returned
}

// New returns an indicator on p. It does not touch the pin.
func New(p gpio.PinOut) *Dev {
	return &Dev{p: p}
}

// Set turns the output on or off. It does not stop a running Pattern,
// which overrides it at its next step; use Halt for that.
func (d *Dev) Set(on bool) error {
	if err := d.p.Out(gpio.Level(on)); err != nil {
		return fmt.Errorf("indicator: %s: %w", d.p, err)
	}
	return nil
}

// Pattern plays p until ctx is done, Halt is called or another Pattern
// starts, then turns the output off and returns nil. A Pattern started
// while another runs replaces it: the older one returns first. It returns
// an error only when the pin fails.
func (d *Dev) Pattern(ctx context.Context, p Pattern) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	d.mu.Lock()
	prevCancel, prevDone := d.cancel, d.done
	d.cancel, d.done = cancel, done
	d.mu.Unlock()
	if prevCancel != nil {
		prevCancel()
		<-prevDone
	}
	defer func() {
		d.mu.Lock()
		if d.done == done {
			d.cancel, d.done = nil, nil
		}
		d.mu.Unlock()
		close(done)
	}()

	err := d.play(ctx, p)
	if offErr := d.Set(false); err == nil {
		err = offErr
	}
	return err
}

func (d *Dev) play(ctx context.Context, p Pattern) error {
	if p.On <= 0 || p.Off <= 0 {
		if err := d.Set(p.On > 0); err != nil {
			return err
		}
		<-ctx.Done()
		return nil
	}
	for {
		for _, step := range [2]struct {
			on bool
			d  time.Duration
		}{{true, p.On}, {false, p.Off}} {
			if err := d.Set(step.on); err != nil {
				return err
			}
			select {
			case <-after(step.d):
			case <-ctx.Done():
				return nil
			}
		}
	}
}

// String implements conn.Resource.
func (d *Dev) String() string {
	return fmt.Sprintf("Indicator{%s}", d.p)
}

// Halt implements conn.Resource: it stops a running Pattern, waits for it
// to return and turns the output off.
func (d *Dev) Halt() error {
	d.mu.Lock()
	cancel, done := d.cancel, d.done
	d.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	return d.Set(false)
}
