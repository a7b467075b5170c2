package hazard

import (
	"fmt"
	"math"
	"time"
)

// Kind is what a channel measures.
type Kind string

// Channel kinds. Device is a channel of the agent itself (storage), driven
// by DeviceFault rather than by samples.
const (
	Temperature Kind = "temperature" // °C
	Residual    Kind = "residual"    // mA
	Load        Kind = "load"        // A
	Smoke       Kind = "smoke"       // 1 = alarm relay closed, 0 = open
	Device      Kind = "device"
)

// Unit returns the unit of values of kind k, as printed and as sent in the
// contract ("°C", "mA", "A", "" for smoke).
func (k Kind) Unit() string {
	switch k {
	case Temperature:
		return "°C"
	case Residual:
		return "mA"
	case Load:
		return "A"
	}
	return ""
}

// Valid reports whether k is one of the sampled kinds.
func (k Kind) Valid() bool {
	switch k {
	case Temperature, Residual, Load, Smoke:
		return true
	}
	return false
}

// Allowed set-point ranges (GB 14287.2 / .3). See doc.go.
const (
	TempAlarmMin     = 55.0   // °C
	TempAlarmMax     = 140.0  // °C
	ResidualAlarmMin = 20.0   // mA
	ResidualAlarmMax = 1000.0 // mA
	// Load set-points are a percentage of the rated current.
	LoadAlarmMinPct = 50.0
	LoadAlarmMaxPct = 150.0
)

// Defaults. See doc.go for the reasoning.
const (
	DefaultTempPreAlarm     = 70.0  // °C: PVC insulation's continuous rating
	DefaultTempAlarm        = 90.0  // °C: well above normal, well below 140
	DefaultTempHysteresis   = 3.0   // K
	DefaultRiseRate         = 10.0  // K/min (EN 54-5 class R territory)
	DefaultResidualPreAlarm = 200.0 // mA: the top of a healthy installation's leakage
	DefaultResidualAlarm    = 300.0 // mA: GB 50116-2013 9.2.3 (300–500 mA)
	DefaultResidualHyst     = 20.0  // mA
	DefaultLoadPreAlarmPct  = 80.0  // % of rated
	DefaultLoadAlarmPct     = 100.0 // % of rated
	DefaultLoadHystPct      = 5.0   // % of rated
	DefaultConfirm          = 2     // N of …
	DefaultWindow           = 3     // … M samples
	DefaultFaultAfter       = 3     // consecutive failed samples
	// DefaultClearAfter is how long a value must stay clear (below a
	// pre-alarm's set-point less the hysteresis, or plausible and answering
	// after a fault) before the state clears.
	DefaultClearAfter = 30 * time.Second
	// MaxClearAfter bounds Config.ClearAfter.
	MaxClearAfter = 10 * time.Minute
	// DefaultTempPlausibleMin is the lowest temperature believed in a
	// meter box: the outdoor lower limit of IEC 61439-1 (GB/T 7251.1).
	DefaultTempPlausibleMin = -25.0 // °C
	// DefaultTempPlausibleMax is above every allowed alarm set-point, so a
	// real fire always crosses the alarm first.
	DefaultTempPlausibleMax     = 200.0  // °C
	DefaultResidualPlausibleMax = 5000.0 // mA: 5 × the top of the set-point range
	DefaultLoadPlausibleMaxPct  = 1000.0 // % of rated
)

// PlausibleRange returns the default plausible range of values of kind k
// for an indoor meter box, in k's unit; rated is a load channel's rated
// current. A sample outside Config.Min–Max is a fault (cause
// "implausible"), never a reading. See doc.go for the choice.
func PlausibleRange(k Kind, rated float64) (lo, hi float64) {
	switch k {
	case Temperature:
		return DefaultTempPlausibleMin, DefaultTempPlausibleMax
	case Residual:
		return 0, DefaultResidualPlausibleMax
	case Load:
		return 0, rated * DefaultLoadPlausibleMaxPct / 100
	case Smoke:
		return 0, 1
	}
	return 0, 0
}

// Config is one hazard channel's configuration. Values are in the channel's
// unit (Kind.Unit). Zero means the default, except where noted.
type Config struct {
	Name string
	Kind Kind
	// PreAlarm and Alarm are the set-points. A value at or above the
	// set-point counts toward the state. For smoke both are ignored (the
	// relay either closes or not; smoke has no pre-alarm).
	PreAlarm, Alarm float64
	// Hysteresis is how far below a set-point a value must fall to count as
	// clear. Zero means the kind's default; negative means none.
	Hysteresis float64
	// Rated is the rated current of a load channel, in A. Required for
	// Load; PreAlarm and Alarm default to 80 % and 100 % of it.
	Rated float64
	// RiseRate is the rate-of-rise alarm of a temperature channel, in K/min,
	// measured over RiseWindow. Zero means DefaultRiseRate; negative turns
	// it off. It adds to the fixed threshold and never replaces it.
	RiseRate float64
	// RiseWindow is the span the rate of rise is measured over. Default 60 s.
	RiseWindow time.Duration
	// Confirm and Window: a level is entered when Confirm of the last
	// Window samples reach it. Default 2 of 3.
	Confirm, Window int
	// FaultAfter is the number of consecutive failed samples that make a
	// fault. Default 3.
	FaultAfter int
	// ClearAfter is how long a pre-alarm's value must stay below the
	// set-point less the hysteresis, or a faulty sensor must give plausible
	// readings, before the pre-alarm or the fault clears (and at least
	// Confirm samples). Zero means DefaultClearAfter (30 s); negative means
	// Confirm samples only. At most MaxClearAfter.
	ClearAfter time.Duration
	// Min and Max are the plausible range of values for the installation
	// (PlausibleRange by default: an indoor meter box). A sample outside is
	// a fault (cause "implausible"), never a reading. Zero for both means
	// the default; smoke is always 0–1. Max must be above the alarm
	// set-point and Min below the pre-alarm set-point.
	Min, Max float64
	// Disabled channels (屏蔽) are not evaluated.
	Disabled bool
}

// RangeError is a set-point outside its allowed range.
type RangeError struct {
	Field    string // "alarm", "pre_alarm", …
	Value    float64
	Unit     string
	Min, Max float64
	Reason   string // set instead of Min/Max for relational errors
}

func (e *RangeError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("%s: %s", e.Field, e.Reason)
	}
	return fmt.Sprintf("%s: %s %s outside %s–%s %s", e.Field, fmtNum(e.Value), e.Unit, fmtNum(e.Min), fmtNum(e.Max), e.Unit)
}

func fmtNum(v float64) string { return fmt.Sprintf("%g", v) }

// withDefaults returns c with its zero fields set and validated.
func (c Config) withDefaults() (Config, error) {
	if c.Name == "" {
		return c, &RangeError{Field: "name", Reason: "empty"}
	}
	if !c.Kind.Valid() {
		return c, &RangeError{Field: "kind", Reason: fmt.Sprintf("%q is not temperature, residual, load or smoke", c.Kind)}
	}
	if c.Confirm == 0 {
		c.Confirm = DefaultConfirm
	}
	if c.Window == 0 {
		c.Window = max(DefaultWindow, c.Confirm)
	}
	if c.Confirm < 1 || c.Window < c.Confirm || c.Window > 64 {
		return c, &RangeError{Field: "confirm", Reason: fmt.Sprintf("%d of %d samples: want 1 ≤ confirm ≤ window ≤ 64", c.Confirm, c.Window)}
	}
	if c.FaultAfter == 0 {
		c.FaultAfter = DefaultFaultAfter
	}
	if c.FaultAfter < 1 || c.FaultAfter > 100 {
		return c, &RangeError{Field: "fault_after", Value: float64(c.FaultAfter), Min: 1, Max: 100}
	}
	if c.ClearAfter == 0 {
		c.ClearAfter = DefaultClearAfter
	}
	if c.ClearAfter < 0 {
		c.ClearAfter = 0
	}
	if c.ClearAfter > MaxClearAfter {
		return c, &RangeError{Field: "clear_after", Reason: fmt.Sprintf("%s outside 0s–%s", c.ClearAfter, MaxClearAfter)}
	}
	if c.Min == 0 && c.Max == 0 || c.Kind == Smoke {
		c.Min, c.Max = PlausibleRange(c.Kind, c.Rated)
	}
	switch c.Kind {
	case Temperature:
		c.PreAlarm = orDefault(c.PreAlarm, DefaultTempPreAlarm)
		c.Alarm = orDefault(c.Alarm, DefaultTempAlarm)
		c.Hysteresis = orDefault(c.Hysteresis, DefaultTempHysteresis)
		c.RiseRate = orDefault(c.RiseRate, DefaultRiseRate)
		if c.RiseWindow == 0 {
			c.RiseWindow = time.Minute
		}
	case Residual:
		c.PreAlarm = orDefault(c.PreAlarm, DefaultResidualPreAlarm)
		c.Alarm = orDefault(c.Alarm, DefaultResidualAlarm)
		c.Hysteresis = orDefault(c.Hysteresis, DefaultResidualHyst)
	case Load:
		if !(c.Rated > 0 && c.Rated <= 2000) {
			return c, &RangeError{Field: "rated", Value: c.Rated, Unit: "A", Min: 0.1, Max: 2000}
		}
		c.PreAlarm = orDefault(c.PreAlarm, c.Rated*DefaultLoadPreAlarmPct/100)
		c.Alarm = orDefault(c.Alarm, c.Rated*DefaultLoadAlarmPct/100)
		c.Hysteresis = orDefault(c.Hysteresis, c.Rated*DefaultLoadHystPct/100)
	case Smoke:
		c.PreAlarm, c.Alarm, c.Hysteresis = 0, 1, 0
	}
	if c.Hysteresis < 0 {
		c.Hysteresis = 0
	}
	if c.Kind != Temperature {
		c.RiseRate = 0
	} else if c.RiseRate < 0 {
		c.RiseRate = 0
	}
	if err := c.checkRange(c.PreAlarm, c.Alarm); err != nil {
		return c, err
	}
	if err := c.checkPlausible(); err != nil {
		return c, err
	}
	return c, nil
}

// checkPlausible checks that the plausible range holds the set-points: a
// real alarm or pre-alarm must never be judged implausible.
func (c Config) checkPlausible() error {
	if c.Kind == Smoke {
		return nil
	}
	unit := c.Kind.Unit()
	switch {
	case math.IsNaN(c.Min) || math.IsInf(c.Min, 0):
		return &RangeError{Field: "plausible_min", Reason: "not a number"}
	case math.IsNaN(c.Max) || math.IsInf(c.Max, 0):
		return &RangeError{Field: "plausible_max", Reason: "not a number"}
	case c.Max <= c.Min:
		return &RangeError{Field: "plausible_max", Reason: fmt.Sprintf("%s %s is not above plausible_min %s %s", fmtNum(c.Max), unit, fmtNum(c.Min), unit)}
	case c.Max <= c.Alarm:
		return &RangeError{Field: "plausible_max", Reason: fmt.Sprintf("%s %s is not above the alarm set-point %s %s", fmtNum(c.Max), unit, fmtNum(c.Alarm), unit)}
	case c.Min >= c.PreAlarm:
		return &RangeError{Field: "plausible_min", Reason: fmt.Sprintf("%s %s is not below the pre-alarm set-point %s %s", fmtNum(c.Min), unit, fmtNum(c.PreAlarm), unit)}
	}
	return nil
}

func orDefault(v, d float64) float64 {
	if v == 0 {
		return d
	}
	return v
}

// AlarmRange returns the allowed range of the alarm set-point of c, in
// c's unit.
func (c Config) AlarmRange() (lo, hi float64) {
	switch c.Kind {
	case Temperature:
		return TempAlarmMin, TempAlarmMax
	case Residual:
		return ResidualAlarmMin, ResidualAlarmMax
	case Load:
		return c.Rated * LoadAlarmMinPct / 100, c.Rated * LoadAlarmMaxPct / 100
	}
	return 1, 1
}

// check validates a pair of set-points for c: their ranges, and that the
// plausible range holds them.
func (c Config) check(pre, alarm float64) error {
	if err := c.checkRange(pre, alarm); err != nil || c.Kind == Smoke {
		return err
	}
	unit := c.Kind.Unit()
	if alarm >= c.Max {
		return &RangeError{Field: "alarm", Value: alarm, Unit: unit,
			Reason: fmt.Sprintf("%s %s is not below the plausible maximum %s %s (a real alarm would read as a fault)", fmtNum(alarm), unit, fmtNum(c.Max), unit)}
	}
	if pre <= c.Min {
		return &RangeError{Field: "pre_alarm", Value: pre, Unit: unit,
			Reason: fmt.Sprintf("%s %s is not above the plausible minimum %s %s", fmtNum(pre), unit, fmtNum(c.Min), unit)}
	}
	return nil
}

// checkRange checks a pair of set-points against their allowed ranges.
func (c Config) checkRange(pre, alarm float64) error {
	if c.Kind == Smoke {
		return nil
	}
	unit := c.Kind.Unit()
	lo, hi := c.AlarmRange()
	if math.IsNaN(alarm) || alarm < lo || alarm > hi {
		return &RangeError{Field: "alarm", Value: alarm, Unit: unit, Min: lo, Max: hi}
	}
	// A pre-alarm is a warning before the alarm: it may sit below the
	// alarm's allowed range (e.g. 200 mA), but not at or above the alarm.
	plo := lo / 2
	if c.Kind == Temperature {
		plo = 40
	}
	if math.IsNaN(pre) || pre < plo || pre >= alarm {
		return &RangeError{Field: "pre_alarm", Value: pre, Unit: unit, Min: plo, Max: alarm,
			Reason: fmt.Sprintf("%s %s outside %s–%s %s (at least %s and below the alarm set-point)", fmtNum(pre), unit, fmtNum(plo), fmtNum(alarm), unit, fmtNum(plo))}
	}
	return nil
}

// Validate checks c and returns it with defaults applied.
func Validate(c Config) (Config, error) { return c.withDefaults() }
