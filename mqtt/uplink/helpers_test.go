package uplink

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	bolt "go.etcd.io/bbolt"

	"linli/mqtt/contract"
	"linli/mqtt/outbox"
)

func TestMain(m *testing.M) {
	if db := os.Getenv(childEnv); db != "" {
		os.Exit(runChild(db, os.Getenv(childEnv+"_BROKER")))
	}
	os.Exit(m.Run())
}

// testLog discards unless -v.
func testLog(t testing.TB) *slog.Logger {
	if !testing.Verbose() {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(tlogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tlogWriter struct{ t testing.TB }

func (w tlogWriter) Write(p []byte) (int, error) {
	defer func() { _ = recover() }() // t.Log after the test ended panics
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

// openStore opens a bbolt file in dir (a fresh temp dir when "") and its outbox.
func openStore(t testing.TB, dir string) (*bolt.DB, *outbox.Outbox) {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	db, err := bolt.Open(filepath.Join(dir, "dev.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ob, err := outbox.Open(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	return db, ob
}

func birthFor(dev string) func(uint32) *contract.Birth {
	return func(s uint32) *contract.Birth {
		return &contract.Birth{Device: dev, Kind: "sensor", Firmware: "test"}
	}
}

// testOptions are fast options for dev at broker.
func testOptions(t testing.TB, broker, dev string) *Options {
	return &Options{
		Broker:         broker,
		ClientID:       dev,
		Birth:          birthFor(dev),
		MinBackoff:     20 * time.Millisecond,
		MaxBackoff:     200 * time.Millisecond,
		ConnectTimeout: 3 * time.Second,
		AckTimeout:     5 * time.Second,
		Logger:         testLog(t),
	}
}

// start runs u until the test ends and returns a func that stops it and
// waits for Run to return.
func start(t testing.TB, u *Uplink) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Errorf("Run did not return 20s after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func newUplink(t testing.TB, db *bolt.DB, ob *outbox.Outbox, o *Options) *Uplink {
	t.Helper()
	u, err := New(db, ob, o)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func putEvent(t testing.TB, ob *outbox.Outbox, dev string, seq uint64) {
	t.Helper()
	e := &contract.Event{ID: fmt.Sprintf("%s-e%d", dev, seq), Device: dev, Seq: seq, Channel: "busbar-l1",
		Kind: "temperature", From: contract.StateNormal, To: contract.StateAlarm, Cause: "threshold", Value: 90, Unit: "°C"}
	if _, err := ob.Put(outbox.Item{Class: outbox.Event, Topic: contract.DeviceTopic(dev, "event"), Payload: contract.MustEncode(e), QoS: 1}); err != nil {
		t.Fatal(err)
	}
}

func telemetryItem(dev string, seq uint64, channels int) outbox.Item {
	m := &contract.Telemetry{Device: dev, Seq: seq}
	for i := range channels {
		m.Readings = append(m.Readings, contract.Reading{Channel: fmt.Sprintf("ch%d", i), Value: 20 + float64(i), Unit: "°C"})
	}
	return outbox.Item{Class: outbox.Telemetry, Topic: contract.DeviceTopic(dev, "telemetry"), Payload: contract.MustEncode(m), QoS: 1}
}

func putTelemetry(t testing.TB, ob *outbox.Outbox, dev string, seq uint64) {
	t.Helper()
	if _, err := ob.Put(telemetryItem(dev, seq, 8)); err != nil {
		t.Fatal(err)
	}
}

// rx is a message seen by a receiver.
type rx struct {
	topic string
	msg   contract.Message
}

// receiver stands in for the hub: a persistent paho session that
// reconnects by itself and records every device message in arrival order.
type receiver struct {
	t      testing.TB
	cl     paho.Client
	mu     sync.Mutex
	msgs   []rx
	notify chan struct{}
}

func newReceiver(t testing.TB, broker, id string) *receiver {
	t.Helper()
	r := &receiver{t: t, notify: make(chan struct{}, 1)}
	filter := contract.Root + "/dev/+/+"
	o := paho.NewClientOptions().AddBroker(broker).SetClientID(id).
		SetCleanSession(false).SetAutoReconnect(true).SetMaxReconnectInterval(100 * time.Millisecond).
		SetConnectRetry(true).SetConnectRetryInterval(100 * time.Millisecond).
		SetOrderMatters(true).SetProtocolVersion(4)
	o.SetDefaultPublishHandler(r.handle)
	o.SetOnConnectHandler(func(c paho.Client) {
		c.Subscribe(filter, 1, nil) // the default handler records
	})
	r.cl = paho.NewClient(o)
	tok := r.cl.Connect()
	select {
	case <-tok.Done():
		if tok.Error() != nil {
			t.Fatalf("receiver connect: %v", tok.Error())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("receiver connect timeout")
	}
	st := r.cl.Subscribe(filter, 1, nil)
	select {
	case <-st.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("receiver subscribe timeout")
	}
	t.Cleanup(func() { r.cl.Disconnect(100) })
	return r
}

func (r *receiver) handle(_ paho.Client, m paho.Message) {
	msg, err := contract.Decode(m.Topic(), m.Payload())
	if err != nil {
		return
	}
	r.mu.Lock()
	r.msgs = append(r.msgs, rx{m.Topic(), msg})
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

func (r *receiver) snapshot() []rx {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]rx(nil), r.msgs...)
}

// waitFor waits until cond holds on the messages so far.
func (r *receiver) waitFor(what string, timeout time.Duration, cond func([]rx) bool) []rx {
	r.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		msgs := r.snapshot()
		if cond(msgs) {
			return msgs
		}
		select {
		case <-r.notify:
		case <-deadline.C:
			r.t.Fatalf("receiver: %s not seen within %v; got %d messages:\n%s", what, timeout, len(msgs), summary(msgs))
			return nil
		}
	}
}

func summary(msgs []rx) string {
	s := ""
	for i, m := range msgs {
		if i > 60 {
			return s + "…"
		}
		switch v := m.msg.(type) {
		case *contract.Event:
			s += fmt.Sprintf("event %d; ", v.Seq)
		case *contract.Telemetry:
			s += fmt.Sprintf("tele %d; ", v.Seq)
		case *contract.Birth:
			s += fmt.Sprintf("birth s%d; ", v.Session)
		case *contract.Death:
			s += fmt.Sprintf("death s%d; ", v.Session)
		default:
			s += fmt.Sprintf("%T; ", v)
		}
	}
	return s
}

// dedupEvents returns the seqs of dev's events in first-arrival order,
// de-duplicated by id as the hub does.
func dedupEvents(msgs []rx, dev string) []uint64 {
	seen := map[string]bool{}
	var out []uint64
	for _, m := range msgs {
		if e, ok := m.msg.(*contract.Event); ok && e.Device == dev && !seen[e.ID] {
			seen[e.ID] = true
			out = append(out, e.Seq)
		}
	}
	return out
}

func countEvents(dev string, n int) func([]rx) bool {
	return func(msgs []rx) bool { return len(dedupEvents(msgs, dev)) >= n }
}

// checkSeqs fails unless got is exactly 1..n.
func checkSeqs(t testing.TB, got []uint64, n int) {
	t.Helper()
	if len(got) != n {
		t.Errorf("got %d distinct events, want %d", len(got), n)
	}
	for i, s := range got {
		if s != uint64(i+1) {
			t.Fatalf("event %d has seq %d, want %d (order or gap): %v", i, s, i+1, got)
		}
	}
}

func births(msgs []rx, dev string) []uint32 {
	var out []uint32
	for _, m := range msgs {
		if b, ok := m.msg.(*contract.Birth); ok && b.Device == dev {
			out = append(out, b.Session)
		}
	}
	return out
}

func deaths(msgs []rx, dev string) []uint32 {
	var out []uint32
	for _, m := range msgs {
		if b, ok := m.msg.(*contract.Death); ok && b.Device == dev {
			out = append(out, b.Session)
		}
	}
	return out
}

// proxy forwards TCP to a broker and can cut the network.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	cut    bool
	black  atomic.Bool // forward nothing, close nothing: a silent cut
	wg     sync.WaitGroup
}

func newProxy(t testing.TB, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.Cut()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) URL() string { return "tcp://" + p.ln.Addr().String() }

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		if p.black.Load() { // accept, then swallow everything
			p.conns = append(p.conns, c)
			p.mu.Unlock()
			p.wg.Add(1)
			go func() { defer p.wg.Done(); io.Copy(io.Discard, c) }()
			continue
		}
		b, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns = append(p.conns, c, b)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); p.pipe(b, c); b.Close() }()
		go func() { defer p.wg.Done(); p.pipe(c, b); c.Close() }()
	}
}

// pipe copies src to dst, dropping what arrives while blackholed.
func (p *proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.black.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Blackhole silently drops all traffic, as a pulled cable does, until
// Restore: no connection is closed.
func (p *proxy) Blackhole() { p.black.Store(true) }

// Cut closes every connection and refuses new ones until Restore.
func (p *proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *proxy) Restore() {
	p.mu.Lock()
	p.cut = false
	p.black.Store(false)
	p.mu.Unlock()
}

// waitStats polls u.Stats until cond holds (Stats has no change channel).
func waitStats(t testing.TB, u *Uplink, what string, cond func(Stats) bool) Stats {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := u.Stats()
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached; stats %+v", what, s)
		}
		time.Sleep(5 * time.Millisecond) // polling counters
	}
}
