package hub

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	bolt "go.etcd.io/bbolt"

	"linli/mqtt/contract"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines(sub string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, l := range strings.Split(s.b.String(), "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return out
}

// TestGarbageFloodLogBounded: 10,000 garbage messages from one device are
// counted exactly and logged in a few lines and a summary (issue 9, item
// 2: it was one WARN line each).
func TestGarbageFloodLogBounded(t *testing.T) {
	e := newEnv(t, "")
	_, e.url = embedded(t, e.cfg, "") // memory only: 10,000 bbolt commits are not the point
	var logs syncBuffer
	db, err := bolt.Open(filepath.Join(e.dir, "hub.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	h, err := New(db, e.cfg, &Options{Broker: e.url, Password: "hubpw", Clock: e.clock, Tick: time.Hour,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	var runErr error
	stop := sync.OnceFunc(func() { cancel(); runErr = <-done })
	defer stop()
	<-h.Ready()

	dev := paho.NewClient(paho.NewClientOptions().AddBroker(e.url).SetClientID("dev-1").
		SetUsername("dev-1").SetPassword("pw").SetProtocolVersion(4))
	if tok := dev.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer dev.Disconnect(0)
	const n = 10000
	toks := make([]paho.Token, 0, n)
	for i := range n {
		toks = append(toks, dev.Publish(contract.DeviceTopic("dev-1", "event"), 1, false, fmt.Sprintf("garbage %d", i)))
	}
	for _, tok := range toks {
		if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
	e.eventually("every garbage message counted", func() bool { return h.Stats().Malformed >= n })
	stop() // Run writes the pending summary
	if runErr != nil {
		t.Fatal(runErr)
	}

	st := h.Stats()
	if st.Malformed != n || st.Received != n {
		t.Errorf("Malformed = %d, Received = %d; want %d each", st.Malformed, st.Received, n)
	}
	if st.LinesSuppressed != n-5 {
		t.Errorf("LinesSuppressed = %d, want %d", st.LinesSuppressed, n-5)
	}
	dropped := logs.lines("message dropped")
	if len(dropped) != 6 {
		t.Errorf("%d lines about the flood, want 5 and a summary:\n%s", len(dropped), strings.Join(dropped, "\n"))
	}
	if sum := logs.lines(fmt.Sprintf("%d more like this from dev-1", n-5)); len(sum) != 1 || !strings.Contains(sum[0], "reason=malformed") {
		t.Errorf("summary = %q", sum)
	}
}
