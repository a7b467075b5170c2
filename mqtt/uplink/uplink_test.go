package uplink

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"

	mochi "github.com/mochi-mqtt/server/v2"
	bolt "go.etcd.io/bbolt"

	"linli/mqtt/contract"
	"linli/mqtt/mqtttest"
	"linli/mqtt/outbox"
)

func TestBackoff(t *testing.T) {
	min, max := 100*time.Millisecond, time.Second
	tests := []struct {
		n    int
		r    float64
		want time.Duration
	}{
		{1, 0, 50 * time.Millisecond},
		{1, 0.999999, 100 * time.Millisecond},
		{2, 0, 100 * time.Millisecond},
		{3, 0.5, 300 * time.Millisecond},
		{4, 0.999999, 800 * time.Millisecond},
		{5, 0.999999, time.Second},
		{5, 0, 500 * time.Millisecond},
		{60, 0.999999, time.Second},
		{1 << 20, 0, 500 * time.Millisecond},
	}
	for _, tt := range tests {
		got := backoff(tt.n, min, max, tt.r)
		if d := got - tt.want; d > time.Microsecond || d < -time.Microsecond {
			t.Errorf("backoff(%d, r=%v) = %v, want %v", tt.n, tt.r, got, tt.want)
		}
	}
}

// TestDeliverQueuedInOrder queues 100 alarms and some telemetry while the
// device is offline; on connect the hub must see the birth first, then all
// alarms in order exactly once (after de-dup), before any telemetry.
func TestDeliverQueuedInOrder(t *testing.T) {
	for _, b := range mqtttest.Brokers(t) {
		t.Run(b.Name, func(t *testing.T) {
			url := b.Start(t)
			const dev = "mb-0001"
			db, ob := openStore(t, "")
			for i := 1; i <= 30; i++ {
				putTelemetry(t, ob, dev, uint64(i))
			}
			for i := 1; i <= 100; i++ {
				putEvent(t, ob, dev, uint64(i))
			}
			r := newReceiver(t, url, "hub-"+b.Name)
			u := newUplink(t, db, ob, testOptions(t, url, dev))
			s0 := u.Stats().Session
			start(t, u)
			msgs := r.waitFor("100 events and 30 telemetry", 20*time.Second, func(m []rx) bool {
				n := 0
				for _, x := range m {
					if _, ok := x.msg.(*contract.Telemetry); ok {
						n++
					}
				}
				return n >= 30 && len(dedupEvents(m, dev)) >= 100
			})
			checkSeqs(t, dedupEvents(msgs, dev), 100)
			if _, ok := msgs[0].msg.(*contract.Birth); !ok {
				t.Errorf("first message is %T, want the birth", msgs[0].msg)
			}
			lastEvent, firstTele := -1, -1
			for i, m := range msgs {
				switch m.msg.(type) {
				case *contract.Event:
					lastEvent = i
				case *contract.Telemetry:
					if firstTele < 0 {
						firstTele = i
					}
				}
			}
			if firstTele < lastEvent {
				t.Errorf("telemetry at %d before the last event at %d: %s", firstTele, lastEvent, summary(msgs))
			}
			s := waitStats(t, u, "outbox empty", func(s Stats) bool { return s.QueueDepth == 0 })
			if !s.Connected || s.Session != s0+1 || s.Published != 130 {
				t.Errorf("stats = %+v, want connected, session %d, published 130", s, s0+1)
			}
		})
	}
}

// TestBirthAndWill checks the birth on every connect, the will when the
// network is cut, and the clean death on stop.
func TestBirthAndWill(t *testing.T) {
	url := mqtttest.Embedded(t)
	const dev = "mb-0002"
	r := newReceiver(t, url, "hub")
	p := newProxy(t, strings.TrimPrefix(url, "tcp://"))
	db, ob := openStore(t, "")
	o := testOptions(t, p.URL(), dev)
	o.KeepAlive = time.Second
	o.State = func(s uint32) *contract.DeviceState {
		return &contract.DeviceState{Health: contract.Health{Firmware: "test"}}
	}
	before := contract.FirstCounter(time.Now())
	u := newUplink(t, db, ob, o)
	// A new file's sessions start at the clock's seconds (FirstCounter).
	s0 := u.Stats().Session
	if after := contract.FirstCounter(time.Now()); s0 < before || s0 > after || before == 0 {
		t.Errorf("first session counter %d, want FirstCounter of now, in [%d, %d]", s0, before, after)
	}
	stop := start(t, u)
	r.waitFor("birth 1 and state", 10*time.Second, func(m []rx) bool { return len(births(m, dev)) == 1 && countStates(m) == 1 })

	p.Cut()
	msgs := r.waitFor("death 1 (will)", 10*time.Second, func(m []rx) bool { return len(deaths(m, dev)) == 1 })
	if got := deaths(msgs, dev); got[0] != s0+1 {
		t.Errorf("will session = %d, want %d", got[0], s0+1)
	}
	p.Restore()
	// Birth and then state on each connect.
	msgs = r.waitFor("birth 2 and state", 10*time.Second, func(m []rx) bool { return len(births(m, dev)) == 2 && countStates(m) == 2 })
	if got := births(msgs, dev); got[0] != s0+1 || got[1] != s0+2 {
		t.Errorf("births = %v, want sessions [%d %d]", got, s0+1, s0+2)
	}
	if _, ok := msgs[len(msgs)-1].msg.(*contract.DeviceState); !ok {
		t.Errorf("last message %T, want the state after birth 2", msgs[len(msgs)-1].msg)
	}
	waitStats(t, u, "connected", func(s Stats) bool { return s.Connected })
	if s := u.Stats(); s.Reconnects != 1 || s.Session != s0+2 {
		t.Errorf("stats = %+v, want 1 reconnect, session %d", s, s0+2)
	}
	stop()
	msgs = r.waitFor("clean death 2", 10*time.Second, func(m []rx) bool { return len(deaths(m, dev)) == 2 })
	if got := deaths(msgs, dev); got[1] != s0+2 {
		t.Errorf("deaths = %v, want sessions [%d %d]", got, s0+1, s0+2)
	}

	// The session counter survives a restart of the device.
	u2 := newUplink(t, db, ob, testOptions(t, url, dev))
	start(t, u2)
	msgs = r.waitFor("birth 3", 10*time.Second, func(m []rx) bool { return len(births(m, dev)) == 3 })
	if got := births(msgs, dev); got[2] != s0+3 {
		t.Errorf("births = %v, want session %d after restart", got, s0+3)
	}
}

// stream puts n alarms, one every gap, calling mid after half of them.
func stream(t *testing.T, ob interface{}, put func(seq uint64), n int, gap time.Duration, mid func()) {
	for i := 1; i <= n; i++ {
		put(uint64(i))
		if i == n/2 && mid != nil {
			mid()
		}
		time.Sleep(gap) // pacing a producer, not synchronising
	}
}

// TestBrokerRestartMidStream restarts mosquitto (with persistence) in the
// middle of a stream of alarms: nothing is lost, nothing reordered.
func TestBrokerRestartMidStream(t *testing.T) {
	m := mqtttest.Mosquitto(t, &mqtttest.MosquittoOpts{Persistence: true})
	const dev = "mb-0003"
	r := newReceiver(t, m.URL(), "hub")
	db, ob := openStore(t, "")
	u := newUplink(t, db, ob, testOptions(t, m.URL(), dev))
	start(t, u)
	const n = 200
	stream(t, ob, func(s uint64) { putEvent(t, ob, dev, s) }, n, 2*time.Millisecond, func() {
		m.Stop()
		time.Sleep(300 * time.Millisecond) // the broker stays down a while
		m.Start()
	})
	msgs := r.waitFor("all events", 30*time.Second, countEvents(dev, n))
	checkSeqs(t, dedupEvents(msgs, dev), n)
	s := waitStats(t, u, "outbox empty", func(s Stats) bool { return s.QueueDepth == 0 && s.Connected })
	if s.Reconnects < 1 {
		t.Errorf("reconnects = %d, want ≥ 1", s.Reconnects)
	}
}

// TestNetworkCutMidStream cuts the network in the middle of a stream of
// alarms and telemetry, for both brokers.
func TestNetworkCutMidStream(t *testing.T) {
	for _, b := range mqtttest.Brokers(t) {
		t.Run(b.Name, func(t *testing.T) {
			url := b.Start(t)
			const dev = "mb-0004"
			r := newReceiver(t, url, "hub")
			p := newProxy(t, strings.TrimPrefix(url, "tcp://"))
			db, ob := openStore(t, "")
			u := newUplink(t, db, ob, testOptions(t, p.URL(), dev))
			start(t, u)
			const n = 200
			stream(t, ob, func(s uint64) {
				putEvent(t, ob, dev, s)
				putTelemetry(t, ob, dev, s)
			}, n, time.Millisecond, func() {
				p.Cut()
				time.Sleep(500 * time.Millisecond)
				waitStats(t, u, "disconnected", func(s Stats) bool { return !s.Connected })
				p.Restore()
			})
			msgs := r.waitFor("all events", 30*time.Second, countEvents(dev, n))
			checkSeqs(t, dedupEvents(msgs, dev), n)
			waitStats(t, u, "outbox empty", func(s Stats) bool { return s.QueueDepth == 0 })
		})
	}
}

// fakeClock fires every After at once and records the delays asked for.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	delays []time.Duration
	asked  chan time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.delays = append(c.delays, d)
	now := c.now
	c.mu.Unlock()
	select {
	case c.asked <- d:
	default:
	}
	ch := make(chan time.Time, 1)
	ch <- now
	return ch
}

// authBroker is a mochi broker that knows one user.
func authBroker(t *testing.T, user, pass string) string {
	t.Helper()
	srv := mochi.New(&mochi.Options{Logger: testLog(t)})
	err := srv.AddHook(new(auth.Hook), &auth.Options{Ledger: &auth.Ledger{
		Auth: auth.AuthRules{{Username: auth.RString(user), Password: auth.RString(pass), Allow: true}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	l := listeners.NewTCP(listeners.Config{ID: "t", Address: "127.0.0.1:0"})
	if err := srv.AddListener(l); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return "tcp://" + l.Address()
}

// TestRefusedRetriesWithBackoff: a wrong password gives a clear error, the
// uplink keeps retrying with growing, capped delays and does not exit; the
// right password connects.
func TestRefusedRetriesWithBackoff(t *testing.T) {
	url := authBroker(t, "mb-0005", "secret")
	const dev = "mb-0005"
	db, ob := openStore(t, "")
	clk := &fakeClock{now: time.Unix(1e9, 0), asked: make(chan time.Duration, 100)}
	o := testOptions(t, url, dev)
	o.Username, o.Password = dev, "wrong"
	o.MinBackoff, o.MaxBackoff = 100*time.Millisecond, time.Second
	o.Clock = clk
	rs := []float64{0, 0.999999}
	var ri int
	o.Rand = func() float64 { ri++; return rs[ri%2] }
	u := newUplink(t, db, ob, o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	const attempts = 8
	for range attempts {
		select {
		case <-clk.asked:
		case err := <-done:
			t.Fatalf("Run returned %v while refused", err)
		case <-time.After(10 * time.Second):
			t.Fatal("no retry within 10s")
		}
	}
	s := u.Stats()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil after cancel", err)
	}
	if s.Connected || !strings.Contains(s.LastError, "refused") || !strings.Contains(s.LastError, "user name or password") && !strings.Contains(s.LastError, "not Authorized") {
		t.Errorf("stats = %+v, want not connected and a refusal naming the password", s)
	}
	clk.mu.Lock()
	delays := clk.delays[:attempts]
	clk.mu.Unlock()
	base := 100 * time.Millisecond
	for i, d := range delays {
		if d < base/2 || d > base {
			t.Errorf("delay %d = %v, want in [%v, %v]", i+1, d, base/2, base)
		}
		base = min(2*base, time.Second)
	}
	if delays[attempts-1] < 500*time.Millisecond || delays[attempts-1] > time.Second {
		t.Errorf("last delay %v not capped near 1s", delays[attempts-1])
	}

	// With the right password it connects and publishes.
	o2 := testOptions(t, url, dev)
	o2.Username, o2.Password = dev, "secret"
	u2 := newUplink(t, db, ob, o2)
	start(t, u2)
	putEvent(t, ob, dev, 1)
	waitStats(t, u2, "published", func(s Stats) bool { return s.Connected && s.Published == 1 })
}

func TestNewErrors(t *testing.T) {
	db, ob := openStore(t, "")
	tests := []struct {
		name string
		o    Options
	}{
		{"no birth", Options{Broker: "tcp://127.0.0.1:1", ClientID: "a"}},
		{"bad id", Options{Broker: "tcp://127.0.0.1:1", ClientID: "a/b", Birth: birthFor("a")}},
		{"bad url", Options{Broker: "127.0.0.1:1", ClientID: "a", Birth: birthFor("a")}},
		{"bad scheme", Options{Broker: "http://127.0.0.1:1", ClientID: "a", Birth: birthFor("a")}},
		{"missing CA", Options{Broker: "ssl://127.0.0.1:1", ClientID: "a", Birth: birthFor("a"), CAFile: "/nonexistent/ca.pem"}},
	}
	for _, tt := range tests {
		if _, err := New(db, ob, &tt.o); err == nil {
			t.Errorf("%s: New succeeded, want an error", tt.name)
		}
	}
	if _, err := New(db, ob, nil); err == nil {
		t.Error("New(nil options) succeeded")
	}
}

func TestPublishNotConnected(t *testing.T) {
	db, ob := openStore(t, "")
	u := newUplink(t, db, ob, testOptions(t, "tcp://127.0.0.1:1", "a"))
	if err := u.Publish(context.Background(), "x", nil, 1, false); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Publish = %v, want ErrNotConnected", err)
	}
}

func countStates(msgs []rx) int {
	n := 0
	for _, m := range msgs {
		if _, ok := m.msg.(*contract.DeviceState); ok {
			n++
		}
	}
	return n
}

// TestSilentNetworkCut drops all traffic without closing anything (a pulled
// cable, a dead 4G link) in the middle of a stream: the uplink must notice
// through its ack timeout and keep-alive, keep retrying, and deliver every
// alarm in order once the link is back.
func TestSilentNetworkCut(t *testing.T) {
	for _, b := range mqtttest.Brokers(t) {
		t.Run(b.Name, func(t *testing.T) {
			url := b.Start(t)
			const dev = "mb-0009"
			r := newReceiver(t, url, "hub")
			p := newProxy(t, strings.TrimPrefix(url, "tcp://"))
			db, ob := openStore(t, "")
			o := testOptions(t, p.URL(), dev)
			o.KeepAlive, o.AckTimeout, o.ConnectTimeout = time.Second, time.Second, time.Second
			u := newUplink(t, db, ob, o)
			start(t, u)
			const n = 200
			stream(t, ob, func(s uint64) { putEvent(t, ob, dev, s) }, n, 2*time.Millisecond, func() {
				p.Blackhole()
				waitStats(t, u, "cut noticed", func(s Stats) bool { return !s.Connected })
				time.Sleep(time.Second) // more alarms pile up, attempts fail
				p.Restore()
			})
			msgs := r.waitFor("all events", 30*time.Second, countEvents(dev, n))
			checkSeqs(t, dedupEvents(msgs, dev), n)
			s := waitStats(t, u, "outbox empty", func(s Stats) bool { return s.QueueDepth == 0 && s.Connected })
			if s.Reconnects < 1 || s.LastError == "" {
				t.Errorf("stats = %+v, want a reconnect and the error logged", s)
			}
		})
	}
}

// TestDropPolicy: with the telemetry bound reached while offline, the oldest
// telemetry is dropped and counted, no event is, and what is left drains.
func TestDropPolicy(t *testing.T) {
	url := mqtttest.Embedded(t)
	const dev = "mb-0010"
	db, _ := openStore(t, "")
	ob, err := outbox.Open(db, &outbox.Options{MaxTelemetry: 10, Prefix: "small"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 25; i++ {
		putTelemetry(t, ob, dev, uint64(i))
		if i%5 == 0 {
			putEvent(t, ob, dev, uint64(i/5))
		}
	}
	r := newReceiver(t, url, "hub")
	u := newUplink(t, db, ob, testOptions(t, url, dev))
	if s := u.Stats(); s.Dropped != 15 || s.QueueDepth != 15 {
		t.Fatalf("offline stats = %+v, want 15 dropped, 15 waiting", s)
	}
	start(t, u)
	msgs := r.waitFor("5 events and 10 telemetry", 10*time.Second, func(m []rx) bool {
		n := 0
		for _, x := range m {
			if _, ok := x.msg.(*contract.Telemetry); ok {
				n++
			}
		}
		return n == 10 && len(dedupEvents(m, dev)) == 5
	})
	checkSeqs(t, dedupEvents(msgs, dev), 5)
	var tele []uint64
	for _, x := range msgs {
		if m, ok := x.msg.(*contract.Telemetry); ok {
			tele = append(tele, m.Seq)
		}
	}
	for i, s := range tele {
		if s != uint64(16+i) {
			t.Fatalf("telemetry seqs = %v, want the newest, 16..25", tele)
		}
	}
	waitStats(t, u, "drained", func(s Stats) bool { return s.QueueDepth == 0 && s.Dropped == 15 })
}

// TestCorruptItemDoesNotBlock: an unreadable item in the outbox (garbage in
// the bucket) is set aside and counted; the items behind it are delivered.
func TestCorruptItemDoesNotBlock(t *testing.T) {
	url := mqtttest.Embedded(t)
	const dev = "mb-0011"
	db, ob := openStore(t, "")
	for i := uint64(1); i <= 3; i++ {
		putEvent(t, ob, dev, i)
	}
	err := db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("outbox.event")).Put([]byte{0, 0, 0, 0, 0, 0, 0, 2}, []byte("garbage"))
	})
	if err != nil {
		t.Fatal(err)
	}
	r := newReceiver(t, url, "hub")
	u := newUplink(t, db, ob, testOptions(t, url, dev))
	start(t, u)
	r.waitFor("events 1 and 3", 10*time.Second, func(m []rx) bool { return len(dedupEvents(m, dev)) == 2 })
	if got := dedupEvents(r.snapshot(), dev); !slices.Equal(got, []uint64{1, 3}) {
		t.Errorf("events delivered: %v, want [1 3]", got)
	}
	s := waitStats(t, u, "drained", func(s Stats) bool { return s.QueueDepth == 0 })
	if s.Corrupt != 1 {
		t.Errorf("Stats.Corrupt = %d, want 1", s.Corrupt)
	}
}

// TestStopWithSilentBroker stops the uplink while the network silently
// drops everything: the clean Death is never acknowledged, and Run must
// give up on it after a few seconds, not after the AckTimeout.
func TestStopWithSilentBroker(t *testing.T) {
	url := mqtttest.Embedded(t)
	const dev = "mb-0009"
	p := newProxy(t, strings.TrimPrefix(url, "tcp://"))
	db, ob := openStore(t, "")
	o := testOptions(t, p.URL(), dev)
	o.AckTimeout = time.Minute
	o.KeepAlive = 5 * time.Minute // the keep-alive must not notice the cut first
	u := newUplink(t, db, ob, o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	defer cancel()
	waitStats(t, u, "connected", func(s Stats) bool { return s.Connected })

	p.Blackhole()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("Run did not return 20s after cancel with the broker silent (AckTimeout %v)", o.AckTimeout)
	}
}
