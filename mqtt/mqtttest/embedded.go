package mqtttest

import (
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// Embedded starts an in-process mochi-mqtt v2 broker that allows every
// client and topic, listening on a free 127.0.0.1 port, and returns its URL
// ("tcp://127.0.0.1:PORT"). The broker is closed by t.Cleanup. Its log goes
// to the test log when the test runs with -v and is discarded otherwise.
func Embedded(t testing.TB) string {
	t.Helper()
	_, url := EmbeddedServer(t)
	return url
}

// EmbeddedServer is Embedded for tests that need the broker itself, for
// example to publish inline or to count clients. The server is started and
// closed by t.Cleanup; callers must not Close it.
func EmbeddedServer(t testing.TB) (*mochi.Server, string) {
	t.Helper()
	srv := mochi.New(&mochi.Options{
		Logger:       testLogger(t, "embedded"),
		InlineClient: true,
	})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatalf("mqtttest: add allow-all hook: %v", err)
	}
	l := listeners.NewTCP(listeners.Config{ID: "t1", Address: "127.0.0.1:0"})
	if err := srv.AddListener(l); err != nil { // AddListener binds the port.
		t.Fatalf("mqtttest: listen: %v", err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatalf("mqtttest: serve: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv, "tcp://" + l.Address()
}

// testLogger logs to t when the test runs verbosely and discards otherwise.
func testLogger(t testing.TB, component string) *slog.Logger {
	if !testing.Verbose() {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(newTWriter(t), &slog.HandlerOptions{Level: slog.LevelError})).With("component", component)
}

// tWriter writes to t.Log until the test's cleanup, and drops what
// goroutines of the broker write after it (t.Log would panic).
type tWriter struct {
	t    testing.TB
	mu   sync.Mutex
	done bool
}

func newTWriter(t testing.TB) *tWriter {
	w := &tWriter{t: t}
	t.Cleanup(func() { // registered first, so it runs after the broker's cleanup
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return w
}

func (w *tWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}
