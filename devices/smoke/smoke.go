package smoke

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"

	"linli/devices"
)

// sleep is the time seam for debouncing.
var sleep = time.Sleep

// Sleeper is implemented by an alarm pin that decides how long a debounce
// wait lasts, such as a simulated pin (devices/sim) whose level only changes
// between samples. On any other pin the driver sleeps for real.
type Sleeper interface {
	Sleep(d time.Duration)
}

// samples is the number of times a changed level is read across Debounce.
const samples = 5

// Opts configures the detector lines. For a non-nil Opts the polarity
// fields are taken as given; zero durations mean their defaults.
type Opts struct {
	// Debounce is how long a new level must hold to count. 0 means 50 ms;
	// a negative value turns debouncing off.
	Debounce time.Duration
	// AlarmActiveLow is true when the alarm line reads Low in alarm.
	AlarmActiveLow bool
	// FaultActiveLow is true when the fault line reads Low on a fault.
	FaultActiveLow bool
	// Poll is how often Watch checks the fault line and its ctx between
	// edges. 0 means 250 ms.
	Poll time.Duration
}

// DefaultOpts is what New uses when opts is nil: relays switching to ground,
// alarm normally open (active Low), fault normally closed (active High).
var DefaultOpts = Opts{
	Debounce:       50 * time.Millisecond,
	AlarmActiveLow: true,
	FaultActiveLow: false,
	Poll:           250 * time.Millisecond,
}

// Status is the debounced state of the detector.
type Status struct {
	// Alarm is true while the detector signals smoke.
	Alarm bool
	// Fault is true while the supervision line signals a fault or is cut.
	Fault bool
}

// Dev is one detector. It is safe for concurrent use.
type Dev struct {
	alarm, fault gpio.PinIn
	opts         Opts
	edges        bool    // the alarm line has edge detection
	sleeper      Sleeper // nil: sleep

	mu sync.Mutex
	st Status
}

// New configures alarm (and fault, which may be nil when the detector has
// no supervision contact) as inputs with pulls chosen for opts. opts nil
// means DefaultOpts. The alarm line is asked for both edges; if the pin
// cannot detect edges, Watch polls it instead.
func New(alarm, fault gpio.PinIn, opts *Opts) (*Dev, error) {
	if alarm == nil {
		return nil, errors.New("smoke: nil alarm pin")
	}
	o := DefaultOpts
	if opts != nil {
		o = *opts
		if o.Debounce == 0 {
			o.Debounce = DefaultOpts.Debounce
		}
		if o.Poll <= 0 {
			o.Poll = DefaultOpts.Poll
		}
	}
	d := &Dev{alarm: alarm, fault: fault, opts: o}
	d.sleeper, _ = alarm.(Sleeper)
	// An open alarm wire reads inactive, an open fault wire reads active.
	pull := gpio.PullDown
	if o.AlarmActiveLow {
		pull = gpio.PullUp
	}
	if err := alarm.In(pull, gpio.BothEdges); err == nil {
		d.edges = true
	} else if err := alarm.In(pull, gpio.NoEdge); err != nil {
		return nil, fmt.Errorf("smoke: configure alarm pin %s: %w", alarm, err)
	}
	if fault != nil {
		pull = gpio.PullUp
		if o.FaultActiveLow {
			pull = gpio.PullDown
		}
		if err := fault.In(pull, gpio.NoEdge); err != nil {
			return nil, fmt.Errorf("smoke: configure fault pin %s: %w", fault, err)
		}
	}
	return d, nil
}

// Read returns the debounced state. It blocks up to Opts.Debounce when a
// line changed level. When the fault line is active it returns the status,
// with Fault set, and an error wrapping devices.ErrWiring.
func (d *Dev) Read() (Status, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.st.Alarm = d.debounce(d.alarm, d.opts.AlarmActiveLow, d.st.Alarm)
	if d.fault != nil {
		d.st.Fault = d.debounce(d.fault, d.opts.FaultActiveLow, d.st.Fault)
	}
	if d.st.Fault {
		return d.st, fmt.Errorf("smoke: fault line %s active (detector fault or cut wire): %w", d.fault, devices.ErrWiring)
	}
	return d.st, nil
}

// debounce returns the new state of line p, whose debounced state is cur.
func (d *Dev) debounce(p gpio.PinIn, activeLow, cur bool) bool {
	now := (p.Read() == gpio.Low) == activeLow
	if now == cur || d.opts.Debounce < 0 {
		return now
	}
	step := d.opts.Debounce / samples
	for range samples {
		if d.sleeper != nil {
			d.sleeper.Sleep(step)
		} else {
			sleep(step)
		}
		if ((p.Read() == gpio.Low) == activeLow) != now {
			return cur
		}
	}
	return now
}

// Watch sends the current Status on ch, then every change of it, until ctx
// is done; it returns ctx.Err(). It blocks: run it in a goroutine you own.
// Sends block until ch is read or ctx is done. Only one Watch may run on a
// Dev at a time (it consumes the alarm pin's edges).
func (d *Dev) Watch(ctx context.Context, ch chan<- Status) error {
	var last Status
	first := true
	for {
		st, _ := d.Read() // a fault is in st.Fault
		if first || st != last {
			select {
			case ch <- st:
			case <-ctx.Done():
				return ctx.Err()
			}
			last, first = st, false
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		start := time.Now()
		if d.edges && d.alarm.WaitForEdge(d.opts.Poll) {
			continue
		}
		// No edge: a timeout, or a pin whose WaitForEdge returns at once.
		if rest := d.opts.Poll - time.Since(start); rest > 0 {
			t := time.NewTimer(rest)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		}
	}
}

// String implements conn.Resource.
func (d *Dev) String() string {
	if d.fault == nil {
		return fmt.Sprintf("Smoke{alarm:%s}", d.alarm)
	}
	return fmt.Sprintf("Smoke{alarm:%s fault:%s}", d.alarm, d.fault)
}

// Halt implements conn.Resource. It has nothing to stop: cancel Watch's
// ctx to stop watching.
func (d *Dev) Halt() error {
	return nil
}
