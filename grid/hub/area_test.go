package hub

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"linli/mqtt/contract"
)

// TestAreaAlertsFit: a building with hundreds of active alerts still gets a
// retained AreaAlerts under contract.MaxPayload (it went over at ~114, and
// every event of the building was refused from then on), keeping the alarms
// and the newest and counting what it left out.
func TestAreaAlertsFit(t *testing.T) {
	h := &Hub{alerts: map[string]*contract.Alert{}}
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	const n = 300
	for i := range n {
		st := contract.StateAlarm
		if i%3 == 0 {
			st = contract.StateFault
		}
		id := fmt.Sprintf("A%08d", i+1)
		h.alerts[id] = &contract.Alert{ID: id, Device: fmt.Sprintf("mb-%04d", i), Channel: "residual", Kind: "residual",
			State: st, Location: contract.Location{Community: "east", Building: "b1", Unit: "1"}, Raised: t0.Add(time.Duration(i) * time.Second),
			Level: "grid", Assigned: []string{"w-li"}, EventID: id + "-ev", Description: strings.Repeat("描述", 40)}
	}
	m := h.areaAlerts([2]string{"east", "b1"}, nil, t0)
	b, err := contract.Encode(m)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	if m.Omitted == 0 || len(m.Alerts)+m.Omitted != n {
		t.Fatalf("%d alerts and %d omitted, want some omitted and %d in all", len(m.Alerts), m.Omitted, n)
	}
	if len(b) > contract.MaxPayload || len(b) < contract.MaxPayload/2 {
		t.Errorf("message of %d bytes: want under %d and not needlessly short", len(b), contract.MaxPayload)
	}
	faults := 0
	for _, a := range m.Alerts {
		if a.State == contract.StateFault {
			faults++
		}
	}
	if alarms := n - n/3; len(m.Alerts) <= alarms && faults > 0 {
		t.Errorf("kept %d faults while leaving out alarms", faults)
	}
	for i := 1; i < len(m.Alerts); i++ {
		if m.Alerts[i-1].ID >= m.Alerts[i].ID {
			t.Fatalf("alerts not in id order at %d", i)
		}
	}
	if newest := fmt.Sprintf("A%08d", n); m.Alerts[len(m.Alerts)-1].ID != newest {
		t.Errorf("newest alarm %s left out", newest)
	}
}
