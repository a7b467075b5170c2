package hub

import (
	"testing"

	"linli/mqtt/contract"
	"linli/mqtt/mqtttest"
)

// TestResendAsked: an event arrives after a gap (the broker lost the one
// before it). The hub asks the device at once to send its events after
// the last one applied, instead of waiting out the reorder window (a
// minute here), and applies everything in order when they come.
func TestResendAsked(t *testing.T) {
	e := newEnv(t, "")
	_, e.url = embedded(t, e.cfg, t.TempDir())
	hub := e.start()
	d := e.device("dev-1")
	cmds := d.c.Subscribe(contract.DeviceTopic("dev-1", "cmd"), 1)
	first := d.event("ch", contract.StateAlarm, "threshold")
	e.eventually("event 1", applied(hub.h, "dev-1", 1))
	// Event 2 is lost on the way: the device sends 3.
	d.seq++
	lost := &contract.Event{ID: "dev-1-e2", Device: "dev-1", Session: 1, Seq: 2, Channel: "ch", Kind: "temperature",
		From: contract.StateAlarm, To: contract.StateNormal, Cause: "reset", Value: 20, Unit: "°C"}
	d.event("ch", contract.StateAlarm, "threshold")

	m := mqtttest.Next(t, cmds)
	msg, err := contract.Decode(m.Topic, m.Payload)
	if err != nil {
		t.Fatal(err)
	}
	cmd := msg.(*contract.Command)
	if cmd.Name != contract.CmdResend || cmd.Args["after"] != "1" || cmd.Device != "dev-1" {
		t.Fatalf("command %+v, want resend after 1", cmd)
	}
	// The device sends 2 and 3 again (3's copy is dropped by id).
	d.send(lost, "event", false)
	e.eventually("events 1-3 in order", applied(hub.h, "dev-1", 3))
	evs, _ := hub.h.Events("dev-1")
	for i, ev := range evs {
		if ev.Seq != uint64(i+1) {
			t.Fatalf("event %d has seq %d", i, ev.Seq)
		}
	}
	if evs[0].ID != first.ID {
		t.Errorf("first event %s, want %s", evs[0].ID, first.ID)
	}
	st := hub.h.Stats()
	if st.Missing != 0 || st.Resends != 1 {
		t.Errorf("missing %d, resends %d; want 0 and 1", st.Missing, st.Resends)
	}
}
