package hub

import (
	"testing"

	"linli/mqtt/contract"
	"linli/mqtt/mqtttest"
)

// TestAckSaysWhoComes checks that an acknowledgement tells kiosks who is on
// the way: the grid alert and the building's retained AreaAlerts carry the
// worker's public role and name, and nothing of the kind before the ack.
func TestAckSaysWhoComes(t *testing.T) {
	e := newEnv(t, "")
	_, e.url = embedded(t, e.cfg, t.TempDir())
	e.start()
	w1 := e.client("w1")
	alerts := w1.Subscribe(contract.Root+"/grid/+/alert", 1)
	resp := w1.Subscribe(contract.ResponseTopic("w1"), 1)

	d := e.device("dev-1")
	d.send(&contract.Birth{Device: "dev-1", Kind: "sensor", Session: 1, Firmware: "1.2.3"}, "birth", true)
	d.event("busbar-l1", contract.StateAlarm, "threshold")
	a := nextAlert(t, alerts)
	if a.AckedRole != "" || a.AckedName != "" {
		t.Fatalf("new alert says %s %s is coming before anyone acknowledged", a.AckedRole, a.AckedName)
	}
	if r := request(t, w1, resp, "w1", contract.OpAlertAck, map[string]string{"id": a.ID}); !r.OK {
		t.Fatalf("ack: %s", r.Error)
	}
	b := nextAlert(t, alerts)
	if b.AckedBy != "w1" || b.AckedRole != "grid-worker" || b.AckedName != "Li" {
		t.Errorf("acked alert: by %q role %q name %q, want w1 grid-worker Li", b.AckedBy, b.AckedRole, b.AckedName)
	}

	// A kiosk connecting now gets the retained list with the responder (or,
	// if the hub's outbox has not sent it yet, the list before it, then it).
	kiosk := e.client("kiosk-1")
	area := kiosk.Subscribe(contract.AreaAlertsTopic("east", "b1"), 1)
	for {
		aa := mustDecode(t, mqtttest.Next(t, area)).(*contract.AreaAlerts)
		if len(aa.Alerts) != 1 || aa.Alerts[0].ID != a.ID {
			t.Fatalf("area alerts: %+v, want only %s", aa.Alerts, a.ID)
		}
		got := aa.Alerts[0]
		if got.AckedBy == "" {
			continue
		}
		if got.AckedRole != "grid-worker" || got.AckedName != "Li" {
			t.Errorf("retained area alert %s: role %q name %q, want grid-worker Li", got.ID, got.AckedRole, got.AckedName)
		}
		break
	}
}
