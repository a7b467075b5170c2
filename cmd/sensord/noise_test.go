package main

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"linli/mqtt/contract"
)

// TestNoisyCreepScenario runs sensord on testdata/noisy-creep.json (issue
// 9, items 3 and 4): every kind creeps through its set-points with
// realistic noise through the real drivers on the simulated board, and
// gives exactly one pre-alarm and one alarm; a TMP117 stuck at -55 °C is
// one implausible fault naming the value and the range, recovering 30 s
// after it reads plausibly again.
func TestNoisyCreepScenario(t *testing.T) {
	bin := buildSensord(t)
	data := t.TempDir()
	cmd := command(t, bin, "run", "--sim", "testdata/noisy-creep.json", "--speed", "2000", "--data", data)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("noisy-creep: %v\n%s", err, stderr.String())
	}
	evs := eventsJSON(t, bin, data)
	var got []string
	var fault, recovered *contract.Event
	for i, ev := range evs {
		got = append(got, fmt.Sprintf("%s:%s>%s(%s)", ev.Channel, ev.From, ev.To, ev.Cause))
		switch {
		case ev.Channel == "busbar-l1" && ev.To == contract.StateFault:
			fault = &evs[i]
		case ev.Channel == "busbar-l1" && ev.From == contract.StateFault:
			recovered = &evs[i]
		}
	}
	slices.Sort(got)
	want := []string{
		"busbar-l1:fault>normal(recovered)",
		"busbar-l1:normal>fault(implausible)",
		"load-l1:normal>pre-alarm(threshold)",
		"load-l1:pre-alarm>alarm(threshold)",
		"residual:normal>pre-alarm(threshold)",
		"residual:pre-alarm>alarm(threshold)",
		"smoke:normal>alarm(threshold)",
		"terminal-n:normal>pre-alarm(threshold)",
		"terminal-n:pre-alarm>alarm(threshold)",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("events:\n%s\nwant:\n%s\noutput:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), out.String())
	}
	if fault.Value != -55 || !strings.Contains(fault.Detail, "-55 °C outside the plausible range -25–200 °C") {
		t.Errorf("fault value %g detail %q: want the value and the plausible range", fault.Value, fault.Detail)
	}
	// -55 °C from 5m (fault at the third sample, 5m2s), 35 °C again from
	// 6m: recovered at 6m30s.
	if d := recovered.Time.Uptime - fault.Time.Uptime; d != 88*time.Second {
		t.Errorf("recovered %v after the fault, want 1m28s", d)
	}
}
