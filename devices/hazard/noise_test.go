package hazard

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"linli/mqtt/contract"
)

// noisy returns the piecewise-linear curve through pts (value, seconds from
// the previous point) sampled at 1 Hz, with Gaussian noise of standard
// deviation sd from a PRNG seeded with seed, so every run sees the same
// samples.
func noisy(seed uint64, sd float64, start float64, legs ...[2]float64) []step {
	rng := rand.New(rand.NewPCG(seed, 0x6c696e6c69))
	var out []step
	v := start
	for _, leg := range legs {
		to, n := leg[0], int(leg[1])
		for i := range n {
			x := v + (to-v)*float64(i)/float64(n)
			out = append(out, step{v: x + sd*rng.NormFloat64()})
		}
		v = to
	}
	return out
}

// tally counts the transitions by "from>to(cause)".
func tally(evs []contract.Event) map[string]int {
	m := map[string]int{}
	for _, ev := range evs {
		m[fmt.Sprintf("%s>%s(%s)", ev.From, ev.To, ev.Cause)]++
	}
	return m
}

// noisyKind is a sampled kind, its noise and the levels it creeps through.
type noisyKind struct {
	cfg              Config
	sd               float64
	low, mid, high   float64 // below pre-alarm, between pre-alarm and alarm, above alarm
	creepS, plateauS float64 // seconds of each creep and plateau
}

// noisyKinds are the sampled kinds with realistic noise: about ± the
// kind's default hysteresis at two standard deviations (CT noise ±20 mA at
// 1 Hz, a terminal's temperature ±3 K under a switching load, a load
// current ±2 A on a 40 A circuit).
var noisyKinds = []noisyKind{
	{Config{Name: "residual", Kind: Residual}, 10, 100, 250, 400, 1200, 300},
	{Config{Name: "temperature", Kind: Temperature}, 1.5, 45, 80, 100, 1800, 300},
	{Config{Name: "load", Kind: Load, Rated: 40}, 1, 24, 36, 46, 1200, 300},
}

// TestNoisyCreepOneEventPerCrossing is issue 9 item 3: a value creeping
// slowly through the set-points with realistic noise gives exactly one
// pre-alarm and one alarm (per crossing), never pre-alarm → normal →
// pre-alarm chatter.
func TestNoisyCreepOneEventPerCrossing(t *testing.T) {
	checkNoisy(t, func(seed uint64, k noisyKind) []step {
		return noisy(seed, k.sd, k.low, [2]float64{k.low, 60}, [2]float64{k.high, 2 * k.creepS}, [2]float64{k.high, k.plateauS})
	}, "normal>pre-alarm(threshold)", "pre-alarm>alarm(threshold)")
}

// TestNoisyCreepThroughPreAlarmAndBack: up into the pre-alarm band, a
// plateau there, and down again: one pre-alarm and one clear.
func TestNoisyCreepThroughPreAlarmAndBack(t *testing.T) {
	checkNoisy(t, func(seed uint64, k noisyKind) []step {
		return noisy(seed, k.sd, k.low, [2]float64{k.low, 60}, [2]float64{k.mid, k.creepS},
			[2]float64{k.mid, k.plateauS}, [2]float64{k.low, k.creepS}, [2]float64{k.low, 120})
	}, "normal>pre-alarm(threshold)", "pre-alarm>normal(cleared)")
}

// checkNoisy feeds the steps curve builds for every noisy kind and 20
// seeds, and wants each of the transitions once and nothing else.
func checkNoisy(t *testing.T, curve func(seed uint64, k noisyKind) []step, want ...string) {
	t.Helper()
	wantN := map[string]int{}
	for _, w := range want {
		wantN[w]++
	}
	for _, k := range noisyKinds {
		t.Run(string(k.cfg.Kind), func(t *testing.T) {
			for seed := uint64(1); seed <= 20; seed++ {
				clk := newClock()
				e := newEngine(t, clk, k.cfg)
				evs, _ := feed(e, clk, k.cfg.Name, curve(seed, k))
				if got := tally(evs); fmt.Sprint(got) != fmt.Sprint(wantN) {
					t.Fatalf("seed %d, %g→%g→%g (sd %g): %v, want %v", seed, k.low, k.mid, k.high, k.sd, got, wantN)
				}
			}
		})
	}
}

// TestSmokeRelayBounceAlarmsOnce: smoke has no pre-alarm and its alarm
// latches, so a relay that bounces open once smoke is there (30 % of the
// samples) still gives exactly one alarm.
func TestSmokeRelayBounceAlarmsOnce(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 0x6c696e6c69))
	clk := newClock()
	e := newEngine(t, clk, Config{Name: "s", Kind: Smoke})
	steps := repeat(0, 60)
	for range 300 {
		v := 1.0
		if rng.Float64() < 0.3 {
			v = 0
		}
		steps = append(steps, step{v: v})
	}
	evs, _ := feed(e, clk, "s", steps)
	if got, want := transitions(evs), "s:normal>alarm(threshold)"; got != want {
		t.Fatalf("events %s, want %s", got, want)
	}
}

// TestPreAlarmClearsOnlyWhenSustained: below set-point − hysteresis for
// less than ClearAfter is not a clear; the clear comes ClearAfter after the
// start of an unbroken run below it.
func TestPreAlarmClearsOnlyWhenSustained(t *testing.T) {
	clk := newClock()
	e := newEngine(t, clk, Config{Name: "r", Kind: Residual}) // pre 200, hyst 20: clear below 180
	evs, at := feed(e, clk, "r", cat(repeat(150, 5), repeat(210, 5), repeat(150, 20), repeat(210, 1), repeat(150, 40)))
	if got, want := transitions(evs), "r:normal>pre-alarm(threshold) r:pre-alarm>normal(cleared)"; got != want {
		t.Fatalf("events %s, want %s", got, want)
	}
	// The unbroken run below 180 starts at sample 31; DefaultClearAfter later.
	if want := 31 + int(DefaultClearAfter/time.Second); at[1] != want {
		t.Errorf("cleared at sample %d, want %d", at[1], want)
	}
}

// TestIntermittentSensorFaultsOnce: a sensor that fails and answers in
// turns gives one fault, and recovers only after answering for ClearAfter.
func TestIntermittentSensorFaultsOnce(t *testing.T) {
	clk := newClock()
	e := newEngine(t, clk, Config{Name: "t", Kind: Temperature})
	var steps []step
	for range 10 {
		steps = append(steps, cat(errs(errNoAnswer, 4), repeat(30, 6))...)
	}
	steps = append(steps, repeat(30, 40)...)
	evs, at := feed(e, clk, "t", steps)
	if got, want := transitions(evs), "t:normal>fault(no-answer) t:fault>normal(recovered)"; got != want {
		t.Fatalf("events %s, want %s", got, want)
	}
	if want := 94 + int(DefaultClearAfter/time.Second); at[1] != want { // first answer after the last failure: 94
		t.Errorf("recovered at sample %d, want %d (%v after the last failure)", at[1], want, DefaultClearAfter)
	}
}

// TestAlarmNotDelayedByFaultRecovery: a sensor that comes back reading an
// alarm alarms as fast as ever; the sustained clear only delays the
// all-clear.
func TestAlarmNotDelayedByFaultRecovery(t *testing.T) {
	clk := newClock()
	e := newEngine(t, clk, Config{Name: "r", Kind: Residual})
	evs, at := feed(e, clk, "r", cat(repeat(100, 3), errs(errNoAnswer, 5), repeat(450, 5)))
	if got, want := transitions(evs), "r:normal>fault(no-answer) r:fault>alarm(threshold)"; got != want {
		t.Fatalf("events %s, want %s", got, want)
	}
	if at[1] != 9 {
		t.Errorf("alarm at sample %d, want 9 (2 of 3 after the sensor answered at 8)", at[1])
	}
	if st := e.Statuses()[0]; st.Faulty || !st.Latched {
		t.Errorf("status %+v, want latched and no longer faulty", st)
	}
}

// TestImplausibleIsFault is issue 9 item 4: a TMP117 stuck at its −55 °C
// limit in a meter box is a fault naming the value and the plausible
// range, not a reading; it recovers after ClearAfter of plausible values.
func TestImplausibleIsFault(t *testing.T) {
	clk := newClock()
	e := newEngine(t, clk, Config{Name: "t", Kind: Temperature})
	evs, at := feed(e, clk, "t", cat(repeat(30, 10), repeat(-55, 10), repeat(25, 40)))
	if got, want := transitions(evs), "t:normal>fault(implausible) t:fault>normal(recovered)"; got != want {
		t.Fatalf("events %s, want %s", got, want)
	}
	f := evs[0]
	if f.Value != -55 || !strings.Contains(f.Detail, "-55 °C") || !strings.Contains(f.Detail, "-25–200 °C") {
		t.Errorf("fault value %g detail %q: want the value and the plausible range", f.Value, f.Detail)
	}
	if at[0] != 12 {
		t.Errorf("fault at sample %d, want 12 (FaultAfter)", at[0])
	}
	if want := 20 + int(DefaultClearAfter/time.Second); at[1] != want {
		t.Errorf("recovered at sample %d, want %d", at[1], want)
	}
	if st := e.Statuses()[0]; st.Value != 25 {
		t.Errorf("last value %g: an implausible reading must not become the value", st.Value)
	}
}

func TestPlausibleRange(t *testing.T) {
	for _, tt := range []struct {
		cfg      Config
		min, max float64
	}{
		{Config{Name: "t", Kind: Temperature}, -25, 200},
		{Config{Name: "r", Kind: Residual}, 0, 5000},
		{Config{Name: "l", Kind: Load, Rated: 40}, 0, 400},
		{Config{Name: "s", Kind: Smoke}, 0, 1},
		{Config{Name: "t", Kind: Temperature, Min: -40, Max: 150}, -40, 150},
	} {
		c, err := Validate(tt.cfg)
		if err != nil || c.Min != tt.min || c.Max != tt.max {
			t.Errorf("%s: %g–%g, %v; want %g–%g", tt.cfg.Kind, c.Min, c.Max, err, tt.min, tt.max)
		}
		if lo, hi := PlausibleRange(tt.cfg.Kind, tt.cfg.Rated); tt.cfg.Min == 0 && (lo != tt.min || hi != tt.max) {
			t.Errorf("PlausibleRange(%s) = %g–%g, want %g–%g", tt.cfg.Kind, lo, hi, tt.min, tt.max)
		}
	}
	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{Config{Name: "t", Kind: Temperature, Min: -25, Max: 80}, "plausible_max: 80 °C is not above the alarm set-point 90 °C"},
		{Config{Name: "t", Kind: Temperature, Min: 75, Max: 200}, "plausible_min: 75 °C is not below the pre-alarm set-point 70 °C"},
		{Config{Name: "r", Kind: Residual, Min: 10, Max: 5}, "plausible_max"},
		{Config{Name: "t", Kind: Temperature, ClearAfter: time.Hour}, "clear_after: 1h0m0s outside 0s–10m0s"},
	} {
		_, err := Validate(tt.cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want %q", tt.cfg, err, tt.want)
		}
	}
	// A set-point above the plausible range would turn a real alarm into
	// a fault: refused.
	clk := newClock()
	e := newEngine(t, clk, Config{Name: "t", Kind: Temperature, Max: 120})
	if err := e.SetThresholds("t", 80, 130); err == nil || !strings.Contains(err.Error(), "plausible") {
		t.Errorf("alarm 130 °C with plausible max 120: %v", err)
	}
}
