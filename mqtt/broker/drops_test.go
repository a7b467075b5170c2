package broker

import (
	"bytes"
	"log/slog"
	"net"
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
	var b logBuffer
	s, err := New(&Options{Listen: "127.0.0.1:0", Accounts: testAccounts, MaxQueued: 1,
		Logger: slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
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
	if l := b.lines("level=ERROR", "message dropped", "client=gridhub", "qos=1"); len(l) == 0 {
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
