package hub

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"linli/grid/config"
	"linli/mqtt/contract"
)

// TestApplyBatch applies events in one transaction, as the event loop does
// when several wait: an alarm and its reset in the same batch raise and
// clear one alert, a second copy is dropped, an event ahead of its
// predecessor in the batch waits for it, and every event is acknowledged
// once.
func TestApplyBatch(t *testing.T) {
	cfg, err := config.Parse([]byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(filepath.Join(t.TempDir(), "hub.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	h, err := New(db, cfg, &Options{Broker: "tcp://127.0.0.1:1", Logger: logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	acked := map[string]int{}
	ev := func(seq uint64, from, to contract.State, cause string) queuedEvent {
		e := &contract.Event{ID: fmt.Sprintf("dev-1-e%d", seq), Device: "dev-1", Session: 1, Seq: seq, Channel: "busbar-l1",
			Kind: "temperature", From: from, To: to, Cause: cause, Value: 95, Unit: "°C"}
		return queuedEvent{ev: e, ack: func() { acked[e.ID]++ }}
	}
	alarm := ev(1, contract.StateNormal, contract.StateAlarm, "threshold")
	reset := ev(2, contract.StateAlarm, contract.StateNormal, "reset")
	again := ev(3, contract.StateNormal, contract.StateAlarm, "threshold")
	h.applyBatch([]queuedEvent{alarm, again, reset, alarm})

	evs, err := h.Events("dev-1")
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for _, e := range evs {
		seqs = append(seqs, e.Seq)
	}
	if fmt.Sprint(seqs) != "[1 2 3]" {
		t.Errorf("events applied in the order %v, want [1 2 3]", seqs)
	}
	all, err := h.Alerts(true)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || !all[0].Cleared || all[0].EventID != alarm.ev.ID || all[1].Cleared || all[1].EventID != again.ev.ID {
		t.Errorf("alerts = %+v, want the first cleared by the reset and the second active", all)
	}
	st := h.Stats()
	if st.AlertsRaised != 2 || st.AlertsCleared != 1 || st.Duplicates != 1 {
		t.Errorf("raised %d cleared %d duplicates %d, want 2, 1, 1", st.AlertsRaised, st.AlertsCleared, st.Duplicates)
	}
	want := map[string]int{alarm.ev.ID: 2, reset.ev.ID: 1, again.ev.ID: 1}
	if fmt.Sprint(acked) != fmt.Sprint(want) {
		t.Errorf("acknowledged %v, want %v", acked, want)
	}
	// An event that came on a connection since lost is applied but not
	// acknowledged: the broker sends it again.
	h.conn.Add(1)
	late := ev(4, contract.StateAlarm, contract.StateNormal, "reset")
	h.applyBatch([]queuedEvent{late})
	if acked[late.ev.ID] != 0 {
		t.Errorf("event of a lost connection acknowledged")
	}
	if evs, _ := h.Events("dev-1"); len(evs) != 4 {
		t.Errorf("%d events stored, want 4", len(evs))
	}
}
