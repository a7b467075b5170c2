package uplink

import (
	"strings"
	"testing"
	"time"

	"linli/mqtt/mqtttest"
)

// TestBrokerListFailover gives the uplink two brokers and stops the one
// it uses in the middle of a stream of alarms: it goes on on the other, and
// the two together received every alarm, in order on each. (Two separate
// mosquittos share no session, as the nodes of a NATS cluster do; the
// uplink's outbox makes up for that by sending again what was not
// acknowledged.)
func TestBrokerListFailover(t *testing.T) {
	a := mqtttest.Mosquitto(t, nil)
	b := mqtttest.Mosquitto(t, nil)
	const dev = "mb-0007"
	ra := newReceiver(t, a.URL(), "hub-a")
	rb := newReceiver(t, b.URL(), "hub-b")
	db, ob := openStore(t, "")
	u := newUplink(t, db, ob, testOptions(t, a.URL()+", "+b.URL(), dev))
	start(t, u)
	const n = 200
	stream(t, ob, func(s uint64) { putEvent(t, ob, dev, s) }, n, 2*time.Millisecond, a.Stop)
	msgs := rb.waitFor("the rest of the events", 30*time.Second, func(m []rx) bool {
		return len(dedupEvents(append(ra.snapshot(), m...), dev)) >= n
	})
	all := append(ra.snapshot(), msgs...)
	checkSeqs(t, dedupEvents(all, dev), n)
	s := waitStats(t, u, "outbox empty", func(s Stats) bool { return s.QueueDepth == 0 && s.Connected })
	if s.Reconnects < 1 {
		t.Errorf("reconnects = %d, want ≥ 1", s.Reconnects)
	}
}

func TestBrokerListErrors(t *testing.T) {
	db, ob := openStore(t, "")
	for _, list := range []string{"tcp://a:1883,ssl://b:8883", "tcp://a:1883,", "tcp://a:1883,ftp://b"} {
		o := testOptions(t, list, "mb-0001")
		if _, err := New(db, ob, o); err == nil || !strings.Contains(err.Error(), "uplink:") {
			t.Errorf("New(broker %q): err %v, want an uplink error", list, err)
		}
	}
}

// TestNextFirst: after a connection, the next one starts at the node after
// the one used (which may have died); after a failed one, at the node after
// the one tried first.
func TestNextFirst(t *testing.T) {
	u := &Uplink{brokers: []string{"tcp://a:1883", "tcp://b:1883", "ssl://c:8883"}}
	tests := []struct {
		first     int
		dialed    string
		connected bool
		want      int
	}{
		{0, "a:1883", true, 1},
		{0, "b:1883", true, 2},
		{1, "c:8883", true, 0},
		{2, "", false, 0},
		{0, "", false, 1},
	}
	for _, tt := range tests {
		u.first = tt.first
		c := &conn{u: u, dialed: tt.dialed}
		if got := u.nextFirst(c, tt.connected); got != tt.want {
			t.Errorf("first %d, dialed %q, connected %v: next %d, want %d", tt.first, tt.dialed, tt.connected, got, tt.want)
		}
	}
}
