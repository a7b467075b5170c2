package hazard

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"linli/devices"
	"linli/mqtt/contract"
)

// Sample is one reading of one channel. Err, when set, replaces Value: the
// sensor failed (wrapping one of the devices sentinels, ideally).
type Sample struct {
	Channel string
	Value   float64
	Err     error
}

// ErrUnknownChannel is returned for a channel name the engine does not have.
var ErrUnknownChannel = errors.New("hazard: unknown channel")

// ErrLatched is returned when an operation is refused because the channel
// has an alarm latched (a test of a channel in alarm).
var ErrLatched = errors.New("hazard: alarm latched")

// MinSynced is the earliest wall-clock time believed real by default: a
// clock before it has not been set since boot (no RTC, no NTP yet).
var MinSynced = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// Options configures an Engine. nil means defaults.
type Options struct {
	// Device and Location fill the events' fields.
	Device   string
	Location contract.Location
	// Session is written into the events (the agent's boot counter).
	Session uint32
	// Now is the clock. Default time.Now. The engine reads it once per call.
	Now func() time.Time
	// Synced tells whether a wall-clock time is real. Default: t is after
	// MinSynced. Unsynced events carry a zero At and only their uptime.
	Synced func(time.Time) bool
	// TestFor is how long a channel stays in test. Default 10 s.
	TestFor time.Duration
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// Status is a channel's current view.
type Status struct {
	Channel  string
	Kind     Kind
	State    contract.State // the state shown: alarm while latched
	Latched  bool           // an alarm is latched (until Reset)
	Faulty   bool           // the sensor is failing (even while latched)
	Value    float64        // last good value
	Valid    bool           // Value is set
	PreAlarm float64
	Alarm    float64
}

// Engine decides the state of every channel from its samples. Its methods
// are safe for concurrent use. It keeps no history beyond the confirmation
// and rate-of-rise windows: persistence is the caller's (see Restore).
type Engine struct {
	mu    sync.Mutex
	opts  Options
	boot  time.Time
	chans []*channel
	by    map[string]*channel
}

type channel struct {
	cfg     Config
	state   contract.State // shown state
	latched bool
	faulty  bool
	errs    int    // consecutive failed samples
	levels  []int8 // ring of last Window sample levels (0 normal, 1 pre, 2 alarm, 3 rise)
	n       int    // samples in levels
	hist    []point
	last    float64
	valid   bool
	testEnd time.Time
	// The run of clear samples: below the pre-alarm's clear level in
	// pre-alarm, plausible answers in fault. A failed sample breaks it.
	clearN    int
	clearFrom time.Time // time of the run's first sample
}

// clearing extends the run of clear samples (ok) or breaks it, and reports
// whether it has lasted long enough to clear: ClearAfter since its first
// sample and at least Confirm samples.
func (ch *channel) clearing(now time.Time, ok bool) bool {
	if !ok {
		ch.clearN = 0
		return false
	}
	if ch.clearN == 0 {
		ch.clearFrom = now
	}
	ch.clearN++
	if ch.clearN >= ch.cfg.Confirm && now.Sub(ch.clearFrom) >= ch.cfg.ClearAfter {
		ch.clearN = 0
		return true
	}
	return false
}

type point struct {
	t time.Time
	v float64
}

// New returns an engine for chans. Every channel starts normal (or disabled).
func New(chans []Config, opts *Options) (*Engine, error) {
	e := &Engine{by: map[string]*channel{}}
	if opts != nil {
		e.opts = *opts
	}
	if e.opts.Now == nil {
		e.opts.Now = time.Now
	}
	if e.opts.Synced == nil {
		e.opts.Synced = func(t time.Time) bool { return t.After(MinSynced) }
	}
	if e.opts.TestFor <= 0 {
		e.opts.TestFor = 10 * time.Second
	}
	if e.opts.Logger == nil {
		e.opts.Logger = slog.Default()
	}
	e.opts.Logger = e.opts.Logger.With("component", "hazard")
	e.boot = e.opts.Now()
	for i, c := range chans {
		c, err := c.withDefaults()
		if err != nil {
			return nil, fmt.Errorf("hazard: channels[%d] %q: %w", i, c.Name, err)
		}
		if e.by[c.Name] != nil {
			return nil, fmt.Errorf("hazard: channels[%d]: duplicate name %q", i, c.Name)
		}
		ch := &channel{cfg: c, state: contract.StateNormal, levels: make([]int8, c.Window)}
		if c.Disabled {
			ch.state = contract.StateDisabled
		}
		e.chans = append(e.chans, ch)
		e.by[c.Name] = ch
	}
	return e, nil
}

// Channels returns the configurations in use, with defaults applied.
func (e *Engine) Channels() []Config {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Config, len(e.chans))
	for i, ch := range e.chans {
		out[i] = ch.cfg
	}
	return out
}

// Stamp returns the contract time stamp of t.
func (e *Engine) Stamp(t time.Time) contract.Stamp {
	s := contract.Stamp{Uptime: t.Sub(e.boot)}
	if e.opts.Synced(t) {
		s.At, s.Synced = t, true
	}
	return s
}

func (e *Engine) event(ch *channel, now time.Time, to contract.State, cause string, value, setPoint float64, detail string) contract.Event {
	ev := contract.Event{
		Device:   e.opts.Device,
		Session:  e.opts.Session,
		Channel:  ch.cfg.Name,
		Kind:     string(ch.cfg.Kind),
		From:     ch.state,
		To:       to,
		Cause:    cause,
		Value:    value,
		Unit:     ch.cfg.Kind.Unit(),
		SetPoint: setPoint,
		Detail:   detail,
		Location: e.opts.Location,
		Time:     e.Stamp(now),
	}
	ch.state = to
	return ev
}

// Observe feeds one round of samples, taken now, and returns the
// transitions they cause, in order. Events have no ID and Seq: the store
// assigns them when it commits. Samples of unknown channels are ignored
// (and logged). Observe also ends tests whose time is up.
func (e *Engine) Observe(samples []Sample) []contract.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.opts.Now()
	var evs []contract.Event
	evs = e.endTests(now, evs)
	for _, s := range samples {
		ch := e.by[s.Channel]
		if ch == nil {
			e.opts.Logger.Warn("sample of unknown channel", "channel", s.Channel)
			continue
		}
		evs = e.observe(ch, now, s, evs)
	}
	return evs
}

func (e *Engine) endTests(now time.Time, evs []contract.Event) []contract.Event {
	for _, ch := range e.chans {
		if ch.state == contract.StateTest && !now.Before(ch.testEnd) {
			ch.reset()
			evs = append(evs, e.event(ch, now, contract.StateNormal, "test-end", ch.last, 0, ""))
		}
	}
	return evs
}

func (ch *channel) reset() {
	ch.n, ch.clearN = 0, 0
	clear(ch.levels)
	ch.hist = ch.hist[:0]
}

// cause names a sensor error for the event's Cause.
func cause(err error) string {
	switch {
	case errors.Is(err, devices.ErrAbsent):
		return "absent"
	case errors.Is(err, devices.ErrNoAnswer):
		return "no-answer"
	case errors.Is(err, devices.ErrOutOfRange):
		return "out-of-range"
	case errors.Is(err, devices.ErrWiring):
		return "wiring"
	}
	return "sensor-error"
}

func (e *Engine) observe(ch *channel, now time.Time, s Sample, evs []contract.Event) []contract.Event {
	c := &ch.cfg
	if c.Kind == Device || ch.state == contract.StateDisabled || ch.state == contract.StateTest {
		return evs
	}
	// NaN fails both comparisons; ±Inf is outside any range.
	implausible := s.Err == nil && !(s.Value >= c.Min && s.Value <= c.Max)
	if s.Err != nil || implausible {
		ch.errs++
		ch.clearing(now, false)
		if ch.errs < c.FaultAfter || ch.faulty {
			return evs
		}
		// A fault: the confirmation window starts again when readings
		// return. The detail is built only here, off the hot path.
		ch.faulty = true
		ch.reset()
		why, detail, value := "", "", 0.0
		if implausible {
			why = "implausible"
			unit := c.Kind.Unit()
			detail = fmt.Sprintf("%s %s outside the plausible range %s–%s %s", fmtNum(s.Value), unit, fmtNum(c.Min), fmtNum(c.Max), unit)
			if !math.IsNaN(s.Value) && !math.IsInf(s.Value, 0) {
				value = s.Value
			}
		} else {
			why, detail = cause(s.Err), s.Err.Error()
		}
		if ch.latched {
			// A fault never masks a latched alarm: the state stays alarm,
			// and the fault is logged as an annotation (From == To).
			return append(evs, e.event(ch, now, contract.StateAlarm, "sensor-fault:"+why, value, 0, "alarm stays latched; "+detail))
		}
		return append(evs, e.event(ch, now, contract.StateFault, why, value, 0, detail))
	}
	ch.errs = 0
	v := s.Value
	ch.last, ch.valid = v, true
	// A fault clears once the sensor has answered plausibly for
	// ClearAfter, not at the first answer: a sensor failing on and off
	// makes one fault, not one per failure.
	if ch.faulty && ch.clearing(now, true) {
		ch.faulty = false
		if ch.latched {
			evs = append(evs, e.event(ch, now, contract.StateAlarm, "sensor-recovered", v, 0, "alarm stays latched"))
		} else {
			evs = append(evs, e.event(ch, now, contract.StateNormal, "recovered", v, 0, ""))
		}
	}

	// Rate of rise over the window (temperature only).
	rise := false
	var rate float64
	if c.RiseRate > 0 {
		ch.hist = append(ch.hist, point{now, v})
		i := 0
		for i < len(ch.hist)-1 && now.Sub(ch.hist[i+1].t) >= c.RiseWindow {
			i++
		}
		ch.hist = append(ch.hist[:0], ch.hist[i:]...)
		// Only a window at least half full gives a rate.
		if span := now.Sub(ch.hist[0].t); span >= c.RiseWindow/2 && span > 0 {
			rate = (v - ch.hist[0].v) / span.Minutes()
			rise = rate >= c.RiseRate
		}
	}

	lvl := int8(0)
	switch {
	case v >= c.Alarm:
		lvl = 2
	case rise:
		lvl = 3
	case c.Kind != Smoke && v >= c.PreAlarm:
		lvl = 1
	}
	copy(ch.levels, ch.levels[1:])
	ch.levels[len(ch.levels)-1] = lvl
	if ch.n < len(ch.levels) {
		ch.n++
	}
	count := func(pred func(int8) bool) int {
		k := 0
		for _, l := range ch.levels[len(ch.levels)-ch.n:] {
			if pred(l) {
				k++
			}
		}
		return k
	}
	if ch.latched {
		return evs
	}
	nAlarm := count(func(l int8) bool { return l >= 2 })
	if nAlarm >= c.Confirm {
		// An alarm is entered as fast as ever, even from a fault whose
		// sensor answers again: the wait is for clearing, never for alarming.
		ch.latched, ch.faulty = true, false
		ch.clearN = 0
		if count(func(l int8) bool { return l == 2 }) >= c.Confirm {
			return append(evs, e.event(ch, now, contract.StateAlarm, "threshold", v, c.Alarm, ""))
		}
		return append(evs, e.event(ch, now, contract.StateAlarm, "rate-of-rise", v, c.RiseRate,
			fmt.Sprintf("rising %.1f K/min (set-point %g K/min, fixed alarm %g °C)", rate, c.RiseRate, c.Alarm)))
	}
	if c.Kind == Smoke || ch.faulty {
		// A recovering sensor's pre-alarm waits for the recovery.
		return evs
	}
	switch ch.state {
	case contract.StateNormal:
		if count(func(l int8) bool { return l == 1 || l == 2 }) >= c.Confirm {
			evs = append(evs, e.event(ch, now, contract.StatePreAlarm, "threshold", v, c.PreAlarm, ""))
		}
	case contract.StatePreAlarm:
		// Clear only after ClearAfter below the set-point less the
		// hysteresis: noise larger than the hysteresis must not chatter.
		if ch.clearing(now, v < c.PreAlarm-c.Hysteresis) {
			evs = append(evs, e.event(ch, now, contract.StateNormal, "cleared", v, c.PreAlarm, ""))
		}
	}
	return evs
}
