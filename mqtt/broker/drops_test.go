package broker

import (
	"bytes"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"linli/mqtt/contract"
)

// TestQueueFullDropsCounted: when publishers queue messages for a
// subscriber faster than its connection takes them, mochi drops what does
// not fit in its send queue (here of one place, Options.MaxQueued). Each
// drop is counted in Stats and logged as an ERROR naming the client: for
// the hub's session it may be an alarm, which mochi drops in silence.
func TestQueueFullDropsCounted(t *testing.T) {
	s, b := startLoggedWith(t, &Options{MaxQueued: 1}, slog.LevelInfo)
	defer s.Close()
	hub := mustConnect(t, s, "gridhub")
	if err := wait(t, hub.Subscribe(contract.Root+"/dev/+/event", 1, func(paho.Client, paho.Message) {})); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, id := range []string{"mb-0001", "mb-0002"} {
		dev := mustConnect(t, s, id)
		wg.Go(func() {
			for i := 0; i < 20000 && s.Stats().DeliveriesDropped == 0; i++ {
				dev.Publish(contract.DeviceTopic(id, "event"), 1, false, bytes.Repeat([]byte("x"), 1000)).Wait()
			}
		})
	}
	wg.Wait()
	if s.Stats().DeliveriesDropped == 0 {
		t.Fatal("nothing dropped: two publishers never outran a one-place queue")
	}
	if !b.await("level=ERROR", "message dropped", "client=gridhub", "qos=1") {
		t.Errorf("no ERROR line naming the client:\n%s", b.String())
	}
}

// TestCloseWithConnectionInProgress: a connection accepted but not yet a
// client (no CONNECT yet: a device connecting at the moment gridhub
// stops) kept mochi's Close waiting for it, for ever; gridhub hung on
// SIGINT now and then. Close ends it.
func TestCloseWithConnectionInProgress(t *testing.T) {
	s := startServer(t, t.TempDir())
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(50 * time.Millisecond) // accepted, waiting for CONNECT
	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close waits for a connection that never sent CONNECT")
	}
}

// TestUnackedDropsCounted: a subscriber that reads but never
// acknowledges (its handler never returns; paho acknowledges after it)
// fills mochi's store of unacknowledged QoS 1 messages for it (8,192);
// what mochi then drops for it is counted in Stats, not lost in silence.
func TestUnackedDropsCounted(t *testing.T) {
	s := startServer(t, "")
	defer s.Close()
	stuck := make(chan struct{})
	defer close(stuck)
	o := paho.NewClientOptions().AddBroker("tcp://" + s.Addr()).SetClientID("gridhub").SetUsername("gridhub").
		SetPassword(testPasswords["gridhub"]).SetOrderMatters(false).SetAutoReconnect(false).SetProtocolVersion(4)
	hub := paho.NewClient(o)
	if err := wait(t, hub.Connect()); err != nil {
		t.Fatal(err)
	}
	defer hub.Disconnect(0)
	if err := wait(t, hub.Subscribe(contract.Root+"/dev/+/event", 1, func(paho.Client, paho.Message) { <-stuck })); err != nil {
		t.Fatal(err)
	}
	dev := mustConnect(t, s, "mb-0001")
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; s.Stats().DeliveriesDropped == 0; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("nothing dropped after %d messages the subscriber never acknowledged", i)
		}
		if err := wait(t, dev.Publish(contract.DeviceTopic("mb-0001", "event"), 1, false, "x")); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStalledSubscriberCut: a subscriber that stops reading (here its
// message handler never returns) held up every publisher of its topics
// for as long as it kept its connection (mochi writes under the client's
// lock): a device got no PUBACK. Now its connection is closed after
// WriteTimeout, and the publisher goes on.
func TestStalledSubscriberCut(t *testing.T) {
	s, b := startLoggedWith(t, &Options{WriteTimeout: time.Second}, slog.LevelInfo)
	defer s.Close()
	hub := mustConnect(t, s, "gridhub")
	stuck := make(chan struct{})
	defer close(stuck)
	if err := wait(t, hub.Subscribe(contract.Root+"/dev/+/event", 1, func(paho.Client, paho.Message) { <-stuck })); err != nil {
		t.Fatal(err)
	}
	dev := mustConnect(t, s, "mb-0001")
	payload := bytes.Repeat([]byte("x"), 60<<10)
	for i := range 300 {
		tok := dev.Publish(contract.DeviceTopic("mb-0001", "event"), 1, false, payload)
		if !tok.WaitTimeout(5 * time.Second) {
			t.Fatalf("publish %d not acknowledged in 5 s: a stalled subscriber holds up the publisher", i)
		}
		if err := tok.Error(); err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Stats(); st.ClientsStalled != 1 {
		t.Errorf("ClientsStalled = %d, want 1", st.ClientsStalled)
	}
	if l := b.lines("level=WARN", "client disconnected", "stopped reading"); len(l) != 1 {
		t.Errorf("want one WARN line on the stalled client, got %q", l)
	}
}

// TestQueuesByRole: a device's connection gets Options.DeviceQueue
// places, everybody else's MaxQueued (mochi has one size for all). The
// same burst to a meter box with a one-place queue and to a grid worker
// overflows the box's queue and leaves the worker's alone; the box's
// connection still works.
func TestQueuesByRole(t *testing.T) {
	s, b := startLoggedWith(t, &Options{DeviceQueue: 1}, slog.LevelInfo)
	defer s.Close()
	nop := func(paho.Client, paho.Message) {}
	dev := mustConnect(t, s, "mb-0001")
	if err := wait(t, dev.Subscribe(contract.DeviceTopic("mb-0001", "cmd"), 0, nop)); err != nil {
		t.Fatal(err)
	}
	w := mustConnect(t, s, "w-li")
	if err := wait(t, w.Subscribe(contract.GridAlertTopic("g1"), 0, nop)); err != nil {
		t.Fatal(err)
	}
	hub := mustConnect(t, s, "gridhub")
	payload := bytes.Repeat([]byte("x"), 1000)
	sent := 0
	for ; sent < 20000 && s.Stats().DeliveriesDropped == 0; sent++ {
		hub.Publish(contract.DeviceTopic("mb-0001", "cmd"), 0, false, payload)
		hub.Publish(contract.GridAlertTopic("g1"), 0, false, payload)
	}
	if !b.await("message dropped", "client=mb-0001") {
		t.Fatalf("%d messages to a one-place device queue, none dropped:\n%s", sent, b.String())
	}
	if l := b.lines("message dropped", "client=w-li"); len(l) > 0 {
		t.Fatalf("the worker's queue (MaxQueued) overflowed after %d messages, like the device's:\n%s", sent, strings.Join(l, "\n"))
	}
	if err := wait(t, dev.Publish(contract.DeviceTopic("mb-0001", "state"), 1, false, []byte("{}"))); err != nil {
		t.Fatalf("the device after its queue overflowed: %v", err)
	}
	t.Logf("the device's queue overflowed after %d messages", sent)
}
