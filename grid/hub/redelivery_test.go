package hub

import (
	"context"
	"strings"
	"testing"
	"time"

	"linli/mqtt/contract"
	"linli/mqtt/natsbroker"
)

// TestHeldEventRedelivered: NATS sends a QoS 1 message that is not
// acknowledged within its ack wait again on the same connection, flagged
// DUP and with the same packet id. The hub holds an event that arrives
// ahead of a missing one unacknowledged; acknowledging the redelivered copy
// acknowledged the held event itself, so a hub stopped before the gap
// filled lost it for good.
func TestHeldEventRedelivered(t *testing.T) {
	e := newEnv(t, "")
	srv, err := natsbroker.New(&natsbroker.Options{Name: "hub-test", MQTTListen: "127.0.0.1:0", Listen: "127.0.0.1:0",
		DataDir: t.TempDir(), Accounts: e.cfg.Accounts(), AckWait: 200 * time.Millisecond, Logger: logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	e.url = srv.MQTTURL()
	r := e.start()
	d := e.device("dev-1")
	d.event("temp-1", contract.StatePreAlarm, "threshold") // seq 1
	e.eventually("event 1 applied", applied(r.h, "dev-1", 1))
	d.seq = 2
	d.event("temp-1", contract.StatePreAlarm, "threshold") // seq 3: held for 2
	e.eventually("event 3 held", func() bool { return r.h.Stats().Held == 1 })
	time.Sleep(time.Second) // several ack waits: NATS sends event 3 again
	r.stop()

	r2 := e.start()
	d.seq = 1
	d.event("temp-1", contract.StatePreAlarm, "threshold") // seq 2
	e.eventually("events 1, 2 and 3 applied", applied(r2.h, "dev-1", 3))
	if st := r2.h.Stats(); st.Missing != 0 {
		t.Errorf("hub counts %d missing events, want 0", st.Missing)
	}
}

// TestLateEvent: an event that arrives after a later one of its channel
// (in flight to a killed hub, delivered again to its successor after the
// ones that followed) must not set the channel's state back. A late alarm
// stays on record as an alert cleared on arrival; before, it raised an
// active alert for a channel already reset, and the channel's next alarm
// was folded into that stale alert instead of raising its own.
func TestLateEvent(t *testing.T) {
	e := newEnv(t, "")
	_, e.url = embedded(t, e.cfg, t.TempDir())
	r := e.start()
	d := e.device("dev-1")
	send := func(seq uint64, channel string, to contract.State, cause string) {
		d.seq = seq - 1
		d.event(channel, to, cause)
	}
	send(4, "temp-1", contract.StateNormal, "reset") // the first to arrive
	send(1, "temp-1", contract.StateAlarm, "threshold")
	send(2, "temp-2", contract.StateAlarm, "threshold") // late for the device, not for its channel
	send(3, "temp-1", contract.StateAlarm, "threshold")
	send(5, "temp-1", contract.StateAlarm, "threshold")
	e.eventually("5 events applied", func() bool { evs, _ := r.h.Events("dev-1"); return len(evs) == 5 })

	all, err := r.h.Alerts(true)
	if err != nil {
		t.Fatal(err)
	}
	byEvent := map[string]contract.Alert{}
	for _, a := range all {
		byEvent[a.EventID] = a
	}
	for ev, wantCleared := range map[string]bool{"dev-1-e1": true, "dev-1-e2": false, "dev-1-e3": true, "dev-1-e5": false} {
		a, ok := byEvent[ev]
		switch {
		case !ok:
			t.Errorf("event %s: no alert", ev)
		case a.Cleared != wantCleared:
			t.Errorf("event %s: alert %s cleared %v, want %v", ev, a.ID, a.Cleared, wantCleared)
		case wantCleared && (!a.EscalateAt.IsZero() || !strings.Contains(a.Description, "arrived after event 4")):
			t.Errorf("event %s: late alert %+v: want no escalation and a description naming event 4", ev, a)
		}
	}
	if len(all) != 4 {
		t.Errorf("%d alerts, want 4 (one per alarm event): %+v", len(all), all)
	}
	active, _ := r.h.Alerts(false)
	if len(active) != 2 {
		t.Errorf("%d active alerts, want 2 (events 2 and 5): %+v", len(active), active)
	}
}

// TestLateResetEndsFoldedAlert: alarm 10 raised an alert; alarm 12,
// released from the reorder hold without 11, was folded into it; then 11,
// a reset, arrives. In order, 11 ended the first alert and 12 raised its
// own: so it must be after the fact, or alarm 12 has no alert of its own.
func TestLateResetEndsFoldedAlert(t *testing.T) {
	e := newEnv(t, "")
	_, e.url = embedded(t, e.cfg, t.TempDir())
	r := e.start()
	d := e.device("dev-2")
	d.seq = 9
	d.event("temp-1", contract.StateAlarm, "threshold") // 10
	e.eventually("event 10 applied", applied(r.h, "dev-2", 1))
	d.seq = 11
	d.event("temp-1", contract.StateAlarm, "threshold") // 12: held for 11
	e.eventually("event 12 held", func() bool { return r.h.Stats().Held == 1 })
	e.clock.Advance(2 * time.Minute) // past the reorder window
	r.h.tick()
	e.eventually("event 12 applied", applied(r.h, "dev-2", 2))
	d.seq = 10
	d.event("temp-1", contract.StateNormal, "reset") // 11, late
	e.eventually("event 11 applied", applied(r.h, "dev-2", 3))

	all, err := r.h.Alerts(true)
	if err != nil {
		t.Fatal(err)
	}
	byEvent := map[string]contract.Alert{}
	for _, a := range all {
		byEvent[a.EventID] = a
	}
	if a, ok := byEvent["dev-2-e10"]; !ok || !a.Cleared {
		t.Errorf("alarm 10: alert %+v, want one cleared by the late reset", a)
	}
	if a, ok := byEvent["dev-2-e12"]; !ok || a.Cleared {
		t.Errorf("alarm 12: alert %+v, want an active one of its own", a)
	}
	if len(all) != 2 {
		t.Errorf("%d alerts, want 2: %+v", len(all), all)
	}
}

// TestStoreReplaced: a device whose store was lost (moved aside as
// corrupt, or a new board) numbers its events from 1 again under a higher
// session (contract.FirstCounter). Its alarm raises a live alert instead of
// being taken for a stale copy, and an event of the old numbering that
// arrives afterwards ends nothing.
func TestStoreReplaced(t *testing.T) {
	e := newEnv(t, "")
	_, e.url = embedded(t, e.cfg, t.TempDir())
	r := e.start()
	d := e.device("dev-2")
	for range 2 {
		d.event("temp-1", contract.StateAlarm, "threshold")
		d.event("temp-1", contract.StateNormal, "reset")
	}
	e.eventually("old numbering applied", applied(r.h, "dev-2", 4))

	const boot = 1_780_000_000 // the new file's boot count, from the clock
	send := func(id string, session uint32, seq uint64, from, to contract.State, cause string) {
		d.send(&contract.Event{ID: id, Device: "dev-2", Session: session, Seq: seq, Channel: "temp-1", Kind: "temperature",
			From: from, To: to, Cause: cause, Value: 88, Unit: "°C", SetPoint: 70}, "event", false)
	}
	send("dev-2-new-1", boot, 1, contract.StateNormal, contract.StateAlarm, "threshold")
	e.eventually("new alarm applied", applied(r.h, "dev-2", 5))
	// A copy of the old numbering, late: a reset the old store sent
	// before it was lost.
	send("dev-2-e5", 1, 5, contract.StateAlarm, contract.StateNormal, "reset")
	e.eventually("old reset applied", applied(r.h, "dev-2", 6))

	alert := func() contract.Alert {
		all, err := r.h.Alerts(true)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range all {
			if a.EventID == "dev-2-new-1" {
				return a
			}
		}
		t.Fatalf("no alert for the new numbering's alarm: %+v", all)
		return contract.Alert{}
	}
	if a := alert(); a.Cleared {
		t.Fatalf("the new numbering's alarm: %+v, want an active alert (the old numbering's reset ends nothing)", a)
	}
	for _, info := range r.h.Devices() {
		if info.Device == "dev-2" && info.LastEventSeq != 1 {
			t.Errorf("device %+v, want last event seq 1 (the new numbering)", info)
		}
	}
	send("dev-2-new-2", boot, 2, contract.StateAlarm, contract.StateNormal, "reset")
	e.eventually("new reset applied", applied(r.h, "dev-2", 7))
	if a := alert(); !a.Cleared {
		t.Errorf("after the new numbering's reset: %+v, want cleared", a)
	}
}

// applied is a condition for env.eventually: h has stored n events of dev.
func applied(h *Hub, dev string, n int) func() bool {
	return func() bool { evs, _ := h.Events(dev); return len(evs) == n }
}
