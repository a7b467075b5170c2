package agent

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"linli/devices"
	"linli/devices/hazard"
	"linli/devices/store"
	"linli/mqtt/contract"
	"linli/mqtt/outbox"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

type fakeSensor struct {
	v   float64
	err error
}

func (f *fakeSensor) Read() (float64, error) { return f.v, f.err }

type pin struct{ on bool }

func (p *pin) Set(on bool) error { p.on = on; return nil }

type rig struct {
	t       *testing.T
	path    string
	clk     *clock
	temp    *fakeSensor
	resid   *fakeSensor
	buzzer  *pin
	led     *pin
	db      *store.DB
	a       *Agent
	printed []contract.Event
}

func newRig(t *testing.T) *rig {
	r := &rig{t: t, path: filepath.Join(t.TempDir(), "sensord.db"),
		clk:  &clock{time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)},
		temp: &fakeSensor{v: 30}, resid: &fakeSensor{v: 80}, buzzer: &pin{}, led: &pin{}}
	r.start()
	return r
}

func (r *rig) start() {
	db, err := store.Open(r.path, &store.Options{Device: "mb-1", Now: r.clk.Now, Logger: quiet()})
	if err != nil {
		r.t.Fatal(err)
	}
	r.db = db
	r.t.Cleanup(func() { db.Close() })
	r.a, err = New(db, []Channel{
		{Config: hazard.Config{Name: "busbar-l1", Kind: hazard.Temperature}, Sensor: r.temp},
		{Config: hazard.Config{Name: "residual", Kind: hazard.Residual}, Sensor: r.resid},
	}, &Options{Device: "mb-1", Firmware: "test", Now: r.clk.Now, Buzzer: r.buzzer, LED: r.led, Logger: quiet(),
		OnEvent: func(ev contract.Event) {
			// Announced only once durable: the event must be in the log.
			got, err := db.Events(ev.Seq-1, 1)
			if err != nil || len(got) != 1 || got[0].ID != ev.ID {
				r.t.Errorf("event %d announced before it was stored", ev.Seq)
			}
			r.printed = append(r.printed, ev)
		}})
	if err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) restart() {
	if err := r.a.Flush(); err != nil {
		r.t.Fatal(err)
	}
	r.db.Close()
	r.printed = nil
	r.start()
}

// steps runs n rounds at 1 Hz.
func (r *rig) steps(n int) []contract.Event {
	var all []contract.Event
	for i := 0; i < n; i++ {
		all = append(all, r.a.Step(context.Background())...)
		r.clk.t = r.clk.t.Add(time.Second)
	}
	return all
}

func summary(evs []contract.Event) string {
	var s []string
	for _, e := range evs {
		s = append(s, fmt.Sprintf("%d %s:%s>%s(%s)", e.Seq, e.Channel, e.From, e.To, e.Cause))
	}
	return strings.Join(s, "; ")
}

func TestAlarmLatchesAcrossRestart(t *testing.T) {
	r := newRig(t)
	r.steps(5)
	if r.buzzer.on || len(r.printed) != 0 {
		t.Fatalf("quiet start: buzzer %v, events %s", r.buzzer.on, summary(r.printed))
	}
	r.resid.v = 420
	evs := r.steps(3)
	if got, want := summary(evs), "1 residual:normal>alarm(threshold)"; got != want {
		t.Fatalf("events %s, want %s", got, want)
	}
	if summary(r.printed) != summary(evs) {
		t.Errorf("printed %s", summary(r.printed))
	}
	if !r.buzzer.on || !r.led.on {
		t.Errorf("buzzer %v led %v, want both on", r.buzzer.on, r.led.on)
	}
	ack := r.a.HandleCommand(context.Background(), &contract.Command{ID: "c1", Device: "mb-1", Name: contract.CmdAck, By: "w1"})
	if !ack.OK || r.buzzer.on || !r.led.on {
		t.Fatalf("after ack: %+v buzzer %v led %v, want silenced, LED on", ack, r.buzzer.on, r.led.on)
	}

	// Restart with the condition still there: still latched, no new event,
	// and the buzzer sounds again (a restart is not a silence).
	r.restart()
	if evs := r.steps(5); len(evs) != 0 {
		t.Fatalf("after restart: %s, want no event", summary(evs))
	}
	st := r.a.State(0)
	if st.Channels[1].State != contract.StateAlarm || !st.Channels[1].Latched {
		t.Fatalf("state after restart %+v", st.Channels)
	}
	if !r.buzzer.on {
		t.Error("buzzer off after restart with a latched alarm")
	}

	r.resid.v = 90
	ack = r.a.HandleCommand(context.Background(), &contract.Command{ID: "c2", Device: "mb-1", Name: contract.CmdReset, By: "w1"})
	if !ack.OK {
		t.Fatal(ack.Error)
	}
	if got, want := summary(r.printed), "2 residual:alarm>normal(reset)"; got != want {
		t.Fatalf("reset printed %s, want %s", got, want)
	}
	r.steps(1)
	if r.buzzer.on || r.led.on {
		t.Errorf("after reset: buzzer %v led %v", r.buzzer.on, r.led.on)
	}
}

func TestSensorStopsAnswering(t *testing.T) {
	r := newRig(t)
	r.steps(3)
	r.temp.err = fmt.Errorf("tmp117: %w", devices.ErrNoAnswer)
	var at int
	for i := 1; i <= 10 && at == 0; i++ {
		if evs := r.steps(1); len(evs) > 0 {
			if evs[0].To != contract.StateFault || evs[0].Cause != "no-answer" {
				t.Fatalf("got %s, want a fault", summary(evs))
			}
			at = i
		}
	}
	if at == 0 || at > 5 {
		t.Fatalf("fault after %d samples, want ≤ 5", at)
	}
	if r.buzzer.on {
		t.Error("a fault sounded the alarm buzzer")
	}
}

func TestSetThresholds(t *testing.T) {
	r := newRig(t)
	cmd := func(ch, pre, alarm string) *contract.CommandAck {
		return r.a.HandleCommand(context.Background(), &contract.Command{ID: "c", Device: "mb-1", Name: contract.CmdSetThresholds,
			Args: map[string]string{"channel": ch, "pre_alarm": pre, "alarm": alarm}})
	}
	if ack := cmd("busbar-l1", "60", "200"); ack.OK || !strings.Contains(ack.Error, "200 °C outside 55–140 °C") {
		t.Fatalf("out of range accepted: %+v", ack)
	}
	if ack := cmd("busbar-l1", "x", "80"); ack.OK {
		t.Fatalf("non-number accepted")
	}
	if ack := cmd("busbar-l1", "60", "80"); !ack.OK {
		t.Fatal(ack.Error)
	}
	r.restart()
	b := r.a.Birth(7)
	if b.Session != 7 || b.Channels[0].PreAlarm != 60 || b.Channels[0].Alarm != 80 || b.Channels[1].Alarm != 300 {
		t.Fatalf("birth after restart %+v", b)
	}
	if err := b.Validate(); err != nil {
		t.Error(err)
	}
	r.temp.v = 85
	if evs := r.steps(3); !strings.Contains(summary(evs), "busbar-l1:normal>alarm") {
		t.Errorf("85 °C with alarm at 80: %s", summary(evs))
	}
	if ack := r.a.HandleCommand(context.Background(), &contract.Command{ID: "c", Name: "dance"}); ack.OK {
		t.Error("unknown command accepted")
	}
}

func TestTelemetryAndReadings(t *testing.T) {
	r := newRig(t)
	r.steps(30) // steady values: first message, then heartbeats every 10 s
	st, _ := r.db.Outbox().Stats()
	if st.Telemetry != 3 {
		t.Errorf("steady 30 s: %d telemetry messages, want 3 (heartbeat 10 s)", st.Telemetry)
	}
	r.temp.v = 33 // moves by more than 1 °C: sent at once
	r.steps(1)
	st, _ = r.db.Outbox().Stats()
	if st.Telemetry != 4 {
		t.Errorf("after a change: %d telemetry, want 4", st.Telemetry)
	}
	items, _ := r.db.Outbox().Peek(0)
	last := items[len(items)-1]
	m, err := contract.Decode(last.Topic, last.Payload)
	if err != nil {
		t.Fatal(err)
	}
	tm := m.(*contract.Telemetry)
	if tm.Seq != 4 || len(tm.Readings) != 2 || tm.Readings[0].Value != 33 || last.Class != outbox.Telemetry {
		t.Errorf("telemetry %+v", tm)
	}
	// Readings are written every 10 s, in batches.
	kept, _, _ := r.db.ReadingStats()
	if kept != 62 {
		t.Errorf("%d readings stored after 31 samples, want 62 (flushed at 10, 20 and 30 s × 2 channels)", kept)
	}
	r.steps(5)
	if kept, _, _ = r.db.ReadingStats(); kept != 62 {
		t.Errorf("%d readings stored between flushes, want 62", kept)
	}
	if err := r.a.Flush(); err != nil {
		t.Fatal(err)
	}
	if kept, _, _ = r.db.ReadingStats(); kept != 72 {
		t.Errorf("after Flush: %d readings, want 72", kept)
	}
}

func TestCorruptDatabaseFaultKeepsSensing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sensord.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("garbage!", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, path: path, clk: &clock{time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)},
		temp: &fakeSensor{v: 30}, resid: &fakeSensor{v: 500}, buzzer: &pin{}, led: &pin{}}
	r.start()
	evs := r.steps(3)
	if got, want := summary(evs), "1 storage:normal>fault(corrupt-db); 2 residual:normal>alarm(threshold)"; got != want {
		t.Fatalf("events %s, want %s", got, want)
	}
	if !strings.Contains(evs[0].Detail, ".corrupt-") || evs[0].Kind != "device" {
		t.Errorf("storage event %+v", evs[0])
	}
	if !r.buzzer.on {
		t.Error("buzzer off")
	}
	if m, _ := filepath.Glob(path + ".corrupt-*"); len(m) != 1 {
		t.Errorf("corrupt file not kept: %v", m)
	}
	st := r.a.State(0)
	if err := st.Validate(); err != nil || len(st.Channels) != 3 || st.Health.QueueDepth < 2 {
		t.Errorf("state %+v %v", st, err)
	}
}

func TestSetThresholdsKeepsOtherChannels(t *testing.T) {
	r := newRig(t)
	cmd := func(ch, pre, alarm string) *contract.CommandAck {
		return r.a.HandleCommand(context.Background(), &contract.Command{ID: "c", Device: "mb-1", Name: contract.CmdSetThresholds,
			Args: map[string]string{"channel": ch, "pre_alarm": pre, "alarm": alarm}})
	}
	if ack := cmd("busbar-l1", "60", "80"); !ack.OK {
		t.Fatal(ack.Error)
	}
	if ack := cmd("residual", "150", "250"); !ack.OK {
		t.Fatal(ack.Error)
	}
	r.restart()
	b := r.a.Birth(1)
	if got := [4]float64{b.Channels[0].PreAlarm, b.Channels[0].Alarm, b.Channels[1].PreAlarm, b.Channels[1].Alarm}; got != [4]float64{60, 80, 150, 250} {
		t.Fatalf("set-points after restart %v, want [60 80 150 250]", got)
	}

	// Storage failing: refused, and nothing changes.
	r.db.Close()
	if ack := cmd("busbar-l1", "65", "85"); ack.OK {
		t.Fatal("set-thresholds accepted with the store closed")
	}
	if st := r.a.Engine().Statuses()[0]; st.PreAlarm != 60 || st.Alarm != 80 {
		t.Errorf("set-points %g/%g after a refused command, want 60/80", st.PreAlarm, st.Alarm)
	}
}

// TestHealthCountsStorageErrors checks that failed writes to the device's
// database show in its Health (and so in its retained state), one per
// failed write, while sensing goes on.
func TestHealthCountsStorageErrors(t *testing.T) {
	r := newRig(t)
	r.steps(3)
	if n := r.a.State(1).Health.StorageErrors; n != 0 {
		t.Fatalf("StorageErrors = %d on a healthy store, want 0", n)
	}
	r.db.Close()
	r.resid.v = 400 // an alarm whose event cannot be stored: retried every round
	r.steps(5)
	if n := r.a.State(1).Health.StorageErrors; n < 5 {
		t.Errorf("StorageErrors = %d after 5 rounds with a closed store, want at least 5 (one per failed commit)", n)
	}
	if !r.buzzer.on {
		t.Error("buzzer off: a storage failure must not silence the alarm")
	}
}

// TestResendCommand: the hub's "resend" queues the logged events after a
// seq in the outbox again; a seq that is not a number is refused.
func TestResendCommand(t *testing.T) {
	r := newRig(t)
	r.temp.v = 95
	if evs := r.steps(3); len(evs) == 0 {
		t.Fatal("no event to send again")
	}
	last := r.db.LastSeq()
	items, err := r.db.Outbox().Peek(0)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.db.Outbox().Delete(items...); err != nil {
		t.Fatal(err)
	}
	ack := r.a.HandleCommand(context.Background(), &contract.Command{ID: "c", Device: "mb-1", Name: contract.CmdResend, By: "gridhub",
		Args: map[string]string{"after": "0"}})
	if !ack.OK {
		t.Fatalf("resend refused: %s", ack.Error)
	}
	if items, _ := r.db.Outbox().Peek(0); uint64(len(items)) != last {
		t.Errorf("outbox holds %d items after resend from 0, want the %d logged events", len(items), last)
	}
	if ack := r.a.HandleCommand(context.Background(), &contract.Command{ID: "c2", Device: "mb-1", Name: contract.CmdResend,
		Args: map[string]string{"after": "x"}}); ack.OK || !strings.Contains(ack.Error, "after") {
		t.Errorf("resend after x: %+v, want a refusal naming the arg", ack)
	}
}
