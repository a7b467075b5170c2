package hazard

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"linli/devices"
	"linli/mqtt/contract"
)

// clock is a manual clock: tests advance it, nothing sleeps.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time      { return c.t }
func (c *clock) Add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock               { return &clock{t: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)} }
func quiet() *slog.Logger            { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
func transitions(evs []contract.Event) string {
	var b []string
	for _, e := range evs {
		b = append(b, fmt.Sprintf("%s:%s>%s(%s)", e.Channel, e.From, e.To, e.Cause))
	}
	return strings.Join(b, " ")
}

func newEngine(t *testing.T, clk *clock, chans ...Config) *Engine {
	t.Helper()
	e, err := New(chans, &Options{Device: "mb-1", Now: clk.Now, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// run feeds values (NaN-free) to one channel at 1 Hz starting now and
// returns the events with the sample index each occurred at.
type step struct {
	v   float64
	err error
}

func feed(e *Engine, clk *clock, name string, steps []step) (evs []contract.Event, at []int) {
	for i, s := range steps {
		got := e.Observe([]Sample{{Channel: name, Value: s.v, Err: s.err}})
		for range got {
			at = append(at, i)
		}
		evs = append(evs, got...)
		clk.Add(time.Second)
	}
	return evs, at
}

func vals(vs ...float64) []step {
	out := make([]step, len(vs))
	for i, v := range vs {
		out[i] = step{v: v}
	}
	return out
}

func repeat(v float64, n int) []step {
	s := make([]step, n)
	for i := range s {
		s[i].v = v
	}
	return s
}

func errs(err error, n int) []step {
	out := make([]step, n)
	for i := range out {
		out[i].err = err
	}
	return out
}

func cat(parts ...[]step) []step {
	var out []step
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

var errNoAnswer = fmt.Errorf("tmp117: read: %w: i2c nack", devices.ErrNoAnswer)

func TestOnsetToAlarmWithinBudget(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		base  float64
		high  float64
		limit int // seconds from onset at 1 Hz
	}{
		{"temperature", Config{Name: "t", Kind: Temperature, RiseRate: -1}, 40, 95, 3},
		{"residual", Config{Name: "r", Kind: Residual}, 120, 350, 3},
		{"load", Config{Name: "l", Kind: Load, Rated: 32}, 10, 40, 3},
		{"smoke", Config{Name: "s", Kind: Smoke}, 0, 1, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			e := newEngine(t, clk, tt.cfg)
			evs, at := feed(e, clk, tt.cfg.Name, cat(repeat(tt.base, 10), repeat(tt.high, 10)))
			i := -1
			for k, ev := range evs {
				if ev.To == contract.StateAlarm {
					i = at[k]
					if ev.SetPoint != e.Channels()[0].Alarm || ev.Value != tt.high {
						t.Errorf("alarm event value/set-point = %g/%g, want %g/%g", ev.Value, ev.SetPoint, tt.high, e.Channels()[0].Alarm)
					}
					break
				}
			}
			if i < 0 {
				t.Fatalf("no alarm; events: %s", transitions(evs))
			}
			if got := i - 10; got > tt.limit || got < 1 {
				t.Errorf("alarm %d s after onset, want 1..%d (confirmed, within budget)", got, tt.limit)
			}
		})
	}
}

func TestSingleGlitchesDoNotAlarm(t *testing.T) {
	clk := newClock()
	e := newEngine(t, clk, Config{Name: "t", Kind: Temperature}, Config{Name: "s", Kind: Smoke})
	var all []contract.Event
	for i := 0; i < 300; i++ {
		v, s := 35.0, 0.0
		if i%3 == 0 { // one glitch every three samples: never 2 of 3
			v, s = 150, 1
			if i%2 == 0 {
				v = 99
			}
		}
		all = append(all, e.Observe([]Sample{{Channel: "t", Value: v}, {Channel: "s", Value: s}})...)
		clk.Add(time.Second)
	}
	for _, ev := range all {
		if ev.To == contract.StateAlarm {
			t.Fatalf("glitches raised %s", transitions(all))
		}
	}
}

func TestSensorFailureFaults(t *testing.T) {
	clk := newClock()
	e := newEngine(t, clk, Config{Name: "t", Kind: Temperature})
	// One missed sample that recovers must not fault.
	evs, _ := feed(e, clk, "t", cat(repeat(30, 5), errs(errNoAnswer, 1), repeat(30, 5), errs(errNoAnswer, 2), repeat(30, 3)))
	if len(evs) != 0 {
		t.Fatalf("short gaps gave %s, want nothing", transitions(evs))
	}
	// The sensor stops answering: fault within 5 s; it clears once the
	// sensor has answered for ClearAfter.
	evs, at := feed(e, clk, "t", cat(errs(errNoAnswer, 8), repeat(31, 40)))
	if got, want := transitions(evs), "t:normal>fault(no-answer) t:fault>normal(recovered)"; got != want {
		t.Fatalf("events %s, want %s", got, want)
	}
	if at[0] > 4 {
		t.Errorf("fault %d s after the sensor stopped, want ≤ 4 (within 5 s at 1 Hz)", at[0])
	}
	if want := 8 + int(DefaultClearAfter/time.Second); at[1] != want {
		t.Errorf("recovered at sample %d, want %d (ClearAfter after the first good reading)", at[1], want)
	}
	if evs[0].Value != 0 || !strings.Contains(evs[0].Detail, "not answering") {
		t.Errorf("fault event %+v: want value 0 and the error in detail", evs[0])
	}
}

func TestFaultCauses(t *testing.T) {
	tests := []struct {
		err  error
		v    float64
		want string
	}{
		{fmt.Errorf("x: %w", devices.ErrAbsent), 0, "absent"},
		{fmt.Errorf("x: %w", devices.ErrOutOfRange), 0, "out-of-range"},
		{fmt.Errorf("x: %w", devices.ErrWiring), 0, "wiring"},
		{errors.New("x: odd"), 0, "sensor-error"},
		{nil, 400, "implausible"}, // 400 °C is not a reading, it is a broken sensor
		{nil, -80, "implausible"},
	}
	for _, tt := range tests {
		clk := newClock()
		e := newEngine(t, clk, Config{Name: "t", Kind: Temperature})
		evs, _ := feed(e, clk, "t", []step{{tt.v, tt.err}, {tt.v, tt.err}, {tt.v, tt.err}, {tt.v, tt.err}})
		if len(evs) != 1 || evs[0].To != contract.StateFault || evs[0].Cause != tt.want {
			t.Errorf("%v/%g: events %s, want one fault (%s)", tt.err, tt.v, transitions(evs), tt.want)
		}
	}
}

func TestAlarmLatchesUntilReset(t *testing.T) {
	clk := newClock()
	e := newEngine(t, clk, Config{Name: "r", Kind: Residual})
	evs, _ := feed(e, clk, "r", cat(repeat(100, 3), repeat(400, 3), repeat(100, 10)))
	if got, want := transitions(evs), "r:normal>alarm(threshold)"; got != want {
		t.Fatalf("events %s, want %s (latched after the condition went)", got, want)
	}
	if st := e.Statuses()[0]; st.State != contract.StateAlarm || !st.Latched {
		t.Fatalf("status %+v, want latched alarm", st)
	}
	// A failing sensor does not mask the latch.
	evs, _ = feed(e, clk, "r", cat(errs(errNoAnswer, 4), repeat(100, 31)))
	if got, want := transitions(evs), "r:alarm>alarm(sensor-fault:no-answer) r:alarm>alarm(sensor-recovered)"; got != want {
		t.Fatalf("events %s, want %s", got, want)
	}
	evs, err := e.Reset("", "worker-7")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := transitions(evs), "r:alarm>normal(reset)"; got != want {
		t.Fatalf("reset: %s, want %s", got, want)
	}
	if evs[0].Detail != "by worker-7" {
		t.Errorf("detail %q", evs[0].Detail)
	}
	// Reset while the condition persists: it alarms again once confirmed.
	evs, _ = feed(e, clk, "r", repeat(500, 3))
	if got, want := transitions(evs), "r:normal>alarm(threshold)"; got != want {
		t.Fatalf("events %s, want %s", got, want)
	}
	if _, err := e.Reset("nope", ""); !errors.Is(err, ErrUnknownChannel) {
		t.Errorf("reset of unknown channel: %v", err)
	}
}

func TestPreAlarmHysteresis(t *testing.T) {
	clk := newClock()
	e := newEngine(t, clk, Config{Name: "t", Kind: Temperature, RiseRate: -1}) // pre 70, hyst 3
	evs, at := feed(e, clk, "t", cat(vals(60, 71, 72, 69, 68, 68, 67.5), repeat(66, 40)))
	if got, want := transitions(evs), "t:normal>pre-alarm(threshold) t:pre-alarm>normal(cleared)"; got != want {
		t.Fatalf("events %s, want %s", got, want)
	}
	if want := 7 + int(DefaultClearAfter/time.Second); at[0] != 2 || at[1] != want {
		t.Errorf("at %v, want [2 %d]: enter confirmed, clear only after ClearAfter below 67", at, want)
	}
}

func TestRateOfRise(t *testing.T) {
	clk := newClock()
	e := newEngine(t, clk, Config{Name: "t", Kind: Temperature})
	// Slow daily warming (0.5 K/min) never trips it.
	var slow []step
	for i := 0; i < 600; i++ {
		slow = append(slow, step{v: 30 + float64(i)/120})
	}
	if evs, _ := feed(e, clk, "t", slow); len(evs) != 0 {
		t.Fatalf("slow warming: %s", transitions(evs))
	}
	// 20 K/min from 35 °C: alarms on the rise well before 70 °C.
	var fast []step
	for i := 0; i < 120; i++ {
		fast = append(fast, step{v: 35 + float64(i)/3})
	}
	evs, _ := feed(e, clk, "t", fast)
	if len(evs) == 0 || evs[0].To != contract.StateAlarm || evs[0].Cause != "rate-of-rise" {
		t.Fatalf("fast rise: %s, want alarm by rate-of-rise", transitions(evs))
	}
	if evs[0].Value >= 70 {
		t.Errorf("rise alarm at %g °C, want before the pre-alarm", evs[0].Value)
	}
}

func TestSmoke(t *testing.T) {
	clk := newClock()
	e := newEngine(t, clk, Config{Name: "s", Kind: Smoke})
	wiring := fmt.Errorf("smoke: %w: fault line", devices.ErrWiring)
	evs, _ := feed(e, clk, "s", cat(vals(0, 1, 0, 0), errs(wiring, 3), repeat(0, 40), vals(1, 1)))
	if got, want := transitions(evs), "s:normal>fault(wiring) s:fault>normal(recovered) s:normal>alarm(threshold)"; got != want {
		t.Fatalf("events %s, want %s", got, want)
	}
	// Smoke while the sensor is recovering alarms at once.
	e = newEngine(t, clk, Config{Name: "s", Kind: Smoke})
	evs, _ = feed(e, clk, "s", cat(errs(wiring, 3), vals(0, 1, 1)))
	if got, want := transitions(evs), "s:normal>fault(wiring) s:fault>alarm(threshold)"; got != want {
		t.Fatalf("events %s, want %s", got, want)
	}
}

func TestTestAndDisable(t *testing.T) {
	clk := newClock()
	e := newEngine(t, clk, Config{Name: "t", Kind: Temperature}, Config{Name: "s", Kind: Smoke})
	evs, err := e.Test("", "w1")
	if err != nil || transitions(evs) != "t:normal>test(test) s:normal>test(test)" {
		t.Fatalf("test: %s, %v", transitions(evs), err)
	}
	// During the test, samples are not evaluated.
	evs, _ = feed(e, clk, "t", repeat(120, 5))
	if len(evs) != 0 {
		t.Fatalf("during test: %s", transitions(evs))
	}
	clk.Add(10 * time.Second)
	evs = e.Observe(nil)
	if got, want := transitions(evs), "t:test>normal(test-end) s:test>normal(test-end)"; got != want {
		t.Fatalf("end: %s, want %s", got, want)
	}
	evs, err = e.Disable("s", true, "w1")
	if err != nil || transitions(evs) != "s:normal>disabled(disabled)" {
		t.Fatalf("disable: %s %v", transitions(evs), err)
	}
	if evs, _ = feed(e, clk, "s", repeat(1, 5)); len(evs) != 0 {
		t.Fatalf("disabled channel alarmed: %s", transitions(evs))
	}
	feed(e, clk, "t", repeat(120, 3))
	if _, err := e.Disable("t", true, "w1"); !errors.Is(err, ErrLatched) {
		t.Errorf("disable a latched channel: %v, want ErrLatched", err)
	}
	if _, err := e.Test("t", "w1"); !errors.Is(err, ErrLatched) {
		t.Errorf("test a latched channel: %v, want ErrLatched", err)
	}
}

func TestSetThresholds(t *testing.T) {
	clk := newClock()
	e := newEngine(t, clk, Config{Name: "t", Kind: Temperature}, Config{Name: "r", Kind: Residual},
		Config{Name: "l", Kind: Load, Rated: 40}, Config{Name: "s", Kind: Smoke})
	tests := []struct {
		ch         string
		pre, alarm float64
		want       string // "" = ok
	}{
		{"t", 60, 80, ""},
		{"t", 60, 200, "t: alarm: 200 °C outside 55–140 °C"},
		{"t", 60, 50, "t: alarm: 50 °C outside 55–140 °C"},
		{"t", 90, 80, "pre_alarm: 90 °C outside 40–80 °C"},
		{"r", 200, 300, ""},
		{"r", 200, 1500, "r: alarm: 1500 mA outside 20–1000 mA"},
		{"r", 5, 300, "pre_alarm: 5 mA outside 10–300 mA"},
		{"l", 32, 40, ""},
		{"l", 32, 80, "l: alarm: 80 A outside 20–60 A"},
		{"s", 0, 1, "smoke has no set-points"},
		{"x", 1, 2, "unknown channel"},
	}
	for _, tt := range tests {
		err := e.SetThresholds(tt.ch, tt.pre, tt.alarm)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s %g/%g: %v", tt.ch, tt.pre, tt.alarm, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s %g/%g: error %v, want %q", tt.ch, tt.pre, tt.alarm, err, tt.want)
		}
	}
	if st := e.Statuses()[0]; st.PreAlarm != 60 || st.Alarm != 80 {
		t.Errorf("t set-points %g/%g, want 60/80", st.PreAlarm, st.Alarm)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{Name: "t", Kind: Temperature, Alarm: 150}, "alarm: 150 °C outside 55–140 °C"},
		{Config{Name: "r", Kind: Residual, Alarm: 10}, "alarm: 10 mA outside 20–1000 mA"},
		{Config{Name: "l", Kind: Load}, "rated: 0 A outside"},
		{Config{Name: "x", Kind: "humidity"}, "kind"},
		{Config{Kind: Smoke}, "name"},
		{Config{Name: "t", Kind: Temperature, Confirm: 4, Window: 3}, "confirm"},
	}
	for _, tt := range tests {
		_, err := New([]Config{tt.cfg}, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want %q", tt.cfg, err, tt.want)
		}
		var re *RangeError
		if !errors.As(err, &re) {
			t.Errorf("%+v: %v is not a *RangeError", tt.cfg, err)
		}
	}
	if _, err := New([]Config{{Name: "a", Kind: Smoke}, {Name: "a", Kind: Smoke}}, nil); err == nil {
		t.Error("duplicate names accepted")
	}
}

func TestRestore(t *testing.T) {
	clk := newClock()
	e := newEngine(t, clk, Config{Name: "t", Kind: Temperature}, Config{Name: "r", Kind: Residual})
	e.Restore("t", "temperature", contract.StateAlarm)
	e.Restore("r", "residual", contract.StateFault)
	e.Restore("storage", "device", contract.StateFault)
	e.Restore("gone", "temperature", contract.StateAlarm)
	var evs []contract.Event
	for range 31 {
		evs = append(evs, e.Observe([]Sample{{Channel: "t", Value: 30}, {Channel: "r", Value: 50}})...)
		clk.Add(time.Second)
	}
	if got, want := transitions(evs), "r:fault>normal(recovered)"; got != want {
		t.Fatalf("after restore: %s, want %s (no duplicate alarm)", got, want)
	}
	if st := e.Statuses(); !st[0].Latched || st[2].Channel != "storage" || st[2].State != contract.StateFault {
		t.Fatalf("statuses %+v", st)
	}
	if evs := e.DeviceFault("storage", "corrupt-db", ""); evs != nil {
		t.Errorf("second device fault: %s", transitions(evs))
	}
	evs, _ = e.Reset("", "")
	if got, want := transitions(evs), "t:alarm>normal(reset) storage:fault>normal(reset)"; got != want {
		t.Fatalf("reset: %s, want %s", got, want)
	}
}

func TestStampUnsynced(t *testing.T) {
	clk := &clock{t: time.Unix(100, 0)} // a board without RTC, 1970
	e, err := New([]Config{{Name: "s", Kind: Smoke}}, &Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(5 * time.Second)
	evs := e.DeviceFault("storage", "corrupt-db", "")
	if s := evs[0].Time; s.Synced || !s.At.IsZero() || s.Uptime != 5*time.Second {
		t.Errorf("stamp %+v: want unsynced, zero time, uptime 5s", s)
	}
	if s := e.Stamp(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); !s.Synced {
		t.Errorf("2026 not synced")
	}
}

func TestDetailNamesWhoAsked(t *testing.T) {
	clk := newClock()
	e := newEngine(t, clk, Config{Name: "t", Kind: Temperature}, Config{Name: "s", Kind: Smoke})
	tests := []struct {
		name string
		op   func() ([]contract.Event, error)
		want string
	}{
		{"test by nobody", func() ([]contract.Event, error) { return e.Test("t", "") }, ""},
		{"disable by w1", func() ([]contract.Event, error) { return e.Disable("s", true, "w1") }, "by w1"},
		{"enable by nobody", func() ([]contract.Event, error) { return e.Disable("s", false, "") }, ""},
	}
	for _, tt := range tests {
		evs, err := tt.op()
		if err != nil || len(evs) != 1 || evs[0].Detail != tt.want {
			t.Errorf("%s: %+v, %v; want one event with detail %q", tt.name, evs, err, tt.want)
		}
	}
}

// TestObserveDoesNotAllocate: a round without transitions allocates
// nothing, whether the samples are good, failed or implausible (the fault's
// detail is built only when the fault is raised).
func TestObserveDoesNotAllocate(t *testing.T) {
	clk := newClock()
	e := newEngine(t, clk, Config{Name: "t", Kind: Temperature}, Config{Name: "r", Kind: Residual},
		Config{Name: "l", Kind: Load, Rated: 40}, Config{Name: "s", Kind: Smoke}, Config{Name: "x", Kind: Temperature})
	round := []Sample{{Channel: "t", Value: 30}, {Channel: "r", Value: 100}, {Channel: "l", Value: 20},
		{Channel: "s", Value: 7}, {Channel: "x", Err: errNoAnswer}}
	for range 120 { // past the fault and a full rate-of-rise window
		e.Observe(round)
		clk.Add(time.Second)
	}
	if n := testing.AllocsPerRun(100, func() { e.Observe(round); clk.Add(time.Second) }); n != 0 {
		t.Errorf("Observe allocates %g times per round, want 0", n)
	}
}
