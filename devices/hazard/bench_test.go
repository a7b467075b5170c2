package hazard

import (
	"testing"
	"time"
)

// BenchmarkResponse measures, in simulated time at 1 Hz sampling, how long
// the engine takes from a condition's onset to the alarm and from a sensor's
// last answer to the fault, and reports each against the standards' budgets
// (≈30 s residual current alarm, ≈100 s fault) as a ratio. The engine's
// per-round cost is reported by the ns/op of one round of 8 channels.
func BenchmarkResponse(b *testing.B) {
	var toAlarm, toFault time.Duration
	for range 1 {
		clk := newClock()
		e, _ := New([]Config{{Name: "r", Kind: Residual}, {Name: "t", Kind: Temperature}}, &Options{Now: clk.Now, Logger: quiet()})
		for i := 0; i < 20; i++ {
			e.Observe([]Sample{{Channel: "r", Value: 100}, {Channel: "t", Value: 30}})
			clk.Add(time.Second)
		}
		onset := clk.Now()
		for toAlarm == 0 || toFault == 0 {
			evs := e.Observe([]Sample{{Channel: "r", Value: 450}, {Channel: "t", Err: errNoAnswer}})
			for _, ev := range evs {
				if ev.Channel == "r" && toAlarm == 0 {
					toAlarm = clk.Now().Sub(onset)
				}
				if ev.Channel == "t" && toFault == 0 {
					toFault = clk.Now().Sub(onset)
				}
			}
			clk.Add(time.Second)
		}
	}
	// One round of 8 channels, the agent's work per second.
	clk := newClock()
	var cfgs []Config
	var round []Sample
	for _, k := range []Kind{Temperature, Temperature, Temperature, Temperature, Residual, Load, Load, Smoke} {
		name := string(k) + string(rune('0'+len(cfgs)))
		c := Config{Name: name, Kind: k}
		if k == Load {
			c.Rated = 40
		}
		cfgs = append(cfgs, c)
		round = append(round, Sample{Channel: name, Value: 10})
	}
	e, _ := New(cfgs, &Options{Now: clk.Now, Logger: quiet()})
	b.ResetTimer()
	for b.Loop() {
		e.Observe(round)
		clk.Add(time.Second)
	}
	b.ReportMetric(toAlarm.Seconds(), "s-to-alarm")
	b.ReportMetric(toFault.Seconds(), "s-to-fault")
	b.ReportMetric(toAlarm.Seconds()/30, "x-gb14287-alarm-budget")
	b.ReportMetric(toFault.Seconds()/100, "x-gb14287-fault-budget")
}
