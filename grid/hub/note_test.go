package hub

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"linli/mqtt/contract"
)

// TestAlarmNote sends what sensord logs when the sensor of a channel latched
// in alarm fails and recovers: events from alarm to alarm. They must not
// raise a second alert nor move the escalation; the alert's description
// tells the latest of them.
func TestAlarmNote(t *testing.T) {
	e := newEnv(t, "")
	_, e.url = embedded(t, e.cfg, t.TempDir())
	h := e.start().h
	w1 := e.client("w1")
	alerts := w1.Subscribe(contract.Root+"/grid/+/alert", 1)
	d := e.device("dev-1")

	d.event("busbar-l1", contract.StateAlarm, "threshold")
	a := nextAlert(t, alerts)

	note := func(channel, cause string) {
		d.seq++
		d.send(&contract.Event{ID: d.id + "-n" + cause + channel, Device: d.id, Session: 1, Seq: d.seq, Channel: channel,
			Kind: "temperature", From: contract.StateAlarm, To: contract.StateAlarm, Cause: cause}, "event", false)
	}
	e.clock.Advance(time.Minute)
	for _, cause := range []string{"sensor-fault:no-answer", "sensor-recovered"} {
		note("busbar-l1", cause)
		got := nextAlert(t, alerts)
		if got.ID != a.ID || got.Level != a.Level || !got.EscalateAt.Equal(a.EscalateAt) || got.Cleared {
			t.Errorf("after %s: alert %s level %s escalate %v cleared %v, want %s level %s escalate %v active",
				cause, got.ID, got.Level, got.EscalateAt, got.Cleared, a.ID, a.Level, a.EscalateAt)
		}
		if want := a.Description + noteSep + cause; got.Description != want {
			t.Errorf("after %s: description %q, want %q", cause, got.Description, want)
		}
	}
	// A note of a channel without an alert raises none.
	note("residual", "sensor-fault:no-answer")
	e.eventually("all events applied", func() bool {
		evs, _ := h.Events("dev-1")
		return len(evs) == 4
	})
	if st := h.Stats(); st.AlertsRaised != 1 || st.AlertsCleared != 0 {
		t.Errorf("raised %d cleared %d, want 1 raised, none cleared", st.AlertsRaised, st.AlertsCleared)
	}
	active, err := h.Alerts(false)
	if err != nil {
		t.Fatal(err)
	}
	if len(active) != 1 || active[0].ID != a.ID || !strings.HasSuffix(active[0].Description, "sensor-recovered") {
		t.Errorf("active alerts = %+v, want only %s noting sensor-recovered", active, a.ID)
	}
	// The escalation keeps its time: it happens 5 min after the alarm,
	// not 5 min after the notes.
	e.clock.Advance(4 * time.Minute)
	h.tick()
	if got := nextAlert(t, alerts); got.ID != a.ID || got.Level != LevelCommunity {
		t.Errorf("after 5 min: %s level %s, want %s escalated to community", got.ID, got.Level, a.ID)
	}
	select {
	case m := <-alerts:
		t.Errorf("unexpected alert message %s", m)
	default:
	}
}

func TestWithNote(t *testing.T) {
	tests := []struct{ desc, note, want string }{
		{"temperature alarm 95°C on d/c", "sensor-fault:no-answer", "temperature alarm 95°C on d/c; latest: sensor-fault:no-answer"},
		{"x; latest: sensor-fault:no-answer", "sensor-recovered", "x; latest: sensor-recovered"},
		{"x; latest: sensor-recovered", "", "x"},
	}
	for _, tt := range tests {
		if got := withNote(tt.desc, tt.note); got != tt.want {
			t.Errorf("withNote(%q, %q) = %q, want %q", tt.desc, tt.note, got, tt.want)
		}
	}
}

// TestResetIntoFault resets a latched alarm whose sensor is broken too: the
// device goes alarm → fault (cause reset). The alarm alert must end and a
// fault alert take its place; when the sensor answers again (fault →
// normal) that ends too, and the next alarm raises a new alert — before,
// the stale alarm alert swallowed it.
func TestResetIntoFault(t *testing.T) {
	e := newEnv(t, "")
	_, e.url = embedded(t, e.cfg, t.TempDir())
	h := e.start().h
	d := e.device("dev-1")
	step := func(from, to contract.State, cause string) {
		d.seq++
		d.send(&contract.Event{ID: fmt.Sprintf("%s-%d", d.id, d.seq), Device: d.id, Session: 1, Seq: d.seq, Channel: "residual",
			Kind: "residual", From: from, To: to, Cause: cause}, "event", false)
		n := d.seq
		e.eventually(fmt.Sprintf("event %d applied", n), func() bool {
			evs, _ := h.Events("dev-1")
			return uint64(len(evs)) == n
		})
	}
	active := func() []contract.State {
		as, err := h.Alerts(false)
		if err != nil {
			t.Fatal(err)
		}
		var st []contract.State
		for _, a := range as {
			st = append(st, a.State)
		}
		return st
	}
	step(contract.StateNormal, contract.StateAlarm, "threshold")
	if got := active(); len(got) != 1 || got[0] != contract.StateAlarm {
		t.Fatalf("after alarm: active %v, want [alarm]", got)
	}
	step(contract.StateAlarm, contract.StateFault, "reset")
	if got := active(); len(got) != 1 || got[0] != contract.StateFault {
		t.Fatalf("after reset into fault: active %v, want [fault]", got)
	}
	step(contract.StateFault, contract.StateNormal, "sensor-recovered")
	if got := active(); len(got) != 0 {
		t.Fatalf("after recovery: active %v, want none", got)
	}
	step(contract.StateNormal, contract.StateAlarm, "threshold")
	if got := active(); len(got) != 1 || got[0] != contract.StateAlarm {
		t.Fatalf("second alarm: active %v, want [alarm]", got)
	}
	if st := h.Stats(); st.AlertsRaised != 3 || st.AlertsCleared != 2 {
		t.Errorf("raised %d cleared %d, want 3 and 2", st.AlertsRaised, st.AlertsCleared)
	}
}
