package hub

import (
	"context"
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
	applied := func(h *Hub, n int) func() bool {
		return func() bool { evs, _ := h.Events("dev-1"); return len(evs) == n }
	}
	d.event("temp-1", contract.StatePreAlarm, "threshold") // seq 1
	e.eventually("event 1 applied", applied(r.h, 1))
	d.seq = 2
	d.event("temp-1", contract.StatePreAlarm, "threshold") // seq 3: held for 2
	e.eventually("event 3 held", func() bool { return r.h.Stats().Held == 1 })
	time.Sleep(time.Second) // several ack waits: NATS sends event 3 again
	r.stop()

	r2 := e.start()
	d.seq = 1
	d.event("temp-1", contract.StatePreAlarm, "threshold") // seq 2
	e.eventually("events 1, 2 and 3 applied", applied(r2.h, 3))
	if st := r2.h.Stats(); st.Missing != 0 {
		t.Errorf("hub counts %d missing events, want 0", st.Missing)
	}
}
