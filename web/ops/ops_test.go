package ops_test

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	bolt "go.etcd.io/bbolt"

	"linli/grid/config"
	"linli/grid/hub"
	"linli/mqtt/broker"
	"linli/mqtt/contract"
	"linli/mqtt/mqtttest"
	"linli/web/ops"
)

var update = flag.Bool("update", false, "rewrite testdata/metrics.golden")

func TestMain(m *testing.M) { os.Exit(m.Run()) }

func logger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

var t0 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

// community is the example community's hub on the embedded broker.
type community struct {
	cfg *config.Config
	srv *broker.Server
	url string
	db  *bolt.DB
	h   *hub.Hub
}

// startCommunity starts the embedded broker and a hub with the example
// configuration; both stop at the end of the test.
func startCommunity(t testing.TB) *community {
	t.Helper()
	cfg, err := config.Parse(config.Example())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	srv, err := broker.New(&broker.Options{Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "broker"), Accounts: cfg.Accounts(), Logger: logger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	db, err := bolt.Open(filepath.Join(dir, "hub.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	url := "tcp://" + srv.Addr()
	h, err := hub.New(db, cfg, &hub.Options{Broker: url, Password: "hub-dev", Clock: fixedClock{t0}, Tick: time.Hour, Logger: logger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := h.Run(ctx); err != nil {
			t.Error(err)
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait(); db.Close() })
	select {
	case <-h.Ready():
	case <-time.After(15 * time.Second):
		t.Fatal("hub did not connect")
	}
	return &community{cfg: cfg, srv: srv, url: url, db: db, h: h}
}

func (c *community) device(t testing.TB, id, pass string) *mqtttest.Conn {
	return mqtttest.ClientWith(t, c.url, id, &mqtttest.ClientOpts{Configure: func(o *paho.ClientOptions) {
		o.SetUsername(id).SetPassword(pass)
	}})
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// latency is a web server's request histogram with a few requests.
func latency() ops.HistogramSnapshot {
	h := ops.NewHistogram(nil)
	for _, d := range []time.Duration{500 * time.Microsecond, 3 * time.Millisecond, 3 * time.Millisecond, 40 * time.Millisecond, 2 * time.Second, 20 * time.Second} {
		h.Observe(d)
	}
	return h.Snapshot()
}

// TestMetricsFromRealHub fills a real hub (a sensor and a kiosk online, one
// alarm, a backlog reported by the sensor, a refused connect at the
// broker), serves /metrics over HTTP, reads it with the strict parser,
// checks the figures and compares the whole output with
// testdata/metrics.golden.
func TestMetricsFromRealHub(t *testing.T) {
	c := startCommunity(t)
	mb := c.device(t, "mb-0001", "mb-dev")
	k := c.device(t, "kiosk-01", "kiosk-dev")
	mb.Publish(contract.DeviceTopic("mb-0001", "birth"), contract.MustEncode(&contract.Birth{Device: "mb-0001", Kind: "sensor", Session: 1, Firmware: "1.2.3"}), 1, true)
	k.Publish(contract.DeviceTopic("kiosk-01", "birth"), contract.MustEncode(&contract.Birth{Device: "kiosk-01", Kind: "kiosk", Session: 1, Firmware: "1.2.3"}), 1, true)
	mb.Publish(contract.DeviceTopic("mb-0001", "state"), contract.MustEncode(&contract.DeviceState{Device: "mb-0001", Session: 1,
		Health: contract.Health{QueueDepth: 3, Dropped: 1, Firmware: "1.2.3"}}), 1, true)
	mb.Publish(contract.DeviceTopic("mb-0001", "event"), contract.MustEncode(&contract.Event{ID: "mb-0001-e1", Device: "mb-0001", Session: 1, Seq: 1,
		Channel: "residual", Kind: "residual", From: contract.StatePreAlarm, To: contract.StateAlarm, Cause: "threshold", Value: 320, Unit: "mA", SetPoint: 300}), 1, false)
	mb.Publish(contract.DeviceTopic("mb-0001", "event"), []byte(`{"v":1,"type":"event"`), 1, false) // cut short
	// A wrong password at the broker.
	bad := paho.NewClient(paho.NewClientOptions().AddBroker(c.url).SetClientID("intruder").SetUsername("mb-0002").SetPassword("guess").SetConnectRetry(false).SetProtocolVersion(4))
	if tok := bad.Connect(); tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
		t.Fatal("a wrong password connected")
	}
	eventually(t, "the hub to apply everything", func() bool {
		st := c.h.Stats()
		online := 0
		for _, d := range c.h.Devices() {
			if d.Online {
				online++
			}
		}
		return st.Received == 5 && st.Malformed == 1 && st.AlertsRaised == 1 && online == 2 && c.srv.Stats().ConnectsRefused == 1
	})

	o := ops.New(&ops.Options{
		Hub:    c.h,
		Broker: c.srv.Stats,
		HTTP: func() ops.HTTPStats {
			return ops.HTTPStats{RefusedLogins: 4, SSEClients: 2, Latency: latency()}
		},
		Counters: func() map[string]uint64 {
			return map[string]uint64{"hub_messages_in/event": 7, "refused_connects_total": 2}
		},
		Replica: func() ops.ReplicaStats {
			return ops.ReplicaStats{Active: true, Epoch: 4, Applied: 1234, Compactions: 2}
		},
		Checks: []ops.Check{ops.HubConnected(c.h.Ready(), nil), ops.StoreOpen(c.db)},
		Now:    func() time.Time { return t0.Add(-time.Hour) },
		Logger: logger(),
	})
	srv := httptest.NewServer(o.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/plain; version=0.0.4; charset=utf-8" {
		t.Fatalf("GET /metrics: %s, Content-Type %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	x, err := ops.ParseExposition(string(body))
	if err != nil {
		t.Fatalf("the exposition does not parse: %v\n%s", err, body)
	}
	for _, w := range []struct {
		name string
		kv   []string
		want float64
	}{
		{"linli_alerts_raised_total", nil, 1},
		{"linli_alerts_active", []string{"level", "grid", "state", "alarm"}, 1},
		{"linli_alerts_active", []string{"level", "community", "state", "alarm"}, 0},
		{"linli_alerts_unacknowledged", nil, 1},
		{"linli_devices", []string{"kind", "sensor"}, 6},
		{"linli_devices", []string{"kind", "kiosk"}, 2},
		{"linli_devices_online", []string{"kind", "sensor"}, 1},
		{"linli_devices_online", []string{"kind", "kiosk"}, 1},
		{"linli_devices_outbox_depth", nil, 3},
		{"linli_devices_telemetry_dropped", nil, 1},
		{"linli_hub_messages_received_total", nil, 5},
		{"linli_hub_messages_refused_total", []string{"reason", "malformed"}, 1},
		{"linli_broker_connects_refused_total", []string{"reason", "login"}, 1},
		{"linli_broker_connects_refused_total", []string{"reason", "client-id"}, 0},
		{"linli_http_logins_refused_total", nil, 4},
		{"linli_http_sse_clients", nil, 2},
		{"linli_http_request_duration_seconds_bucket", []string{"le", "0.005"}, 3},
		{"linli_http_request_duration_seconds_bucket", []string{"le", "10"}, 5},
		{"linli_http_request_duration_seconds_count", nil, 6},
		{"linli_hub_messages_in_event_total", nil, 7},
		{"linli_refused_connects_total", nil, 2},
		{"linli_replica_active", nil, 1},
		{"linli_replica_journal_applied", nil, 1234},
		{"linli_replica_compactions_total", nil, 2},
		{"linli_replica_restores_total", nil, 0},
		{"process_start_time_seconds", nil, float64(t0.Add(-time.Hour).Unix())},
	} {
		if got, ok := x.Value(w.name, w.kv...); !ok || got != w.want {
			t.Errorf("%s%v = %v (present %v), want %v", w.name, w.kv, got, ok, w.want)
		}
	}
	golden(t, filepath.Join("testdata", "metrics.golden"), varies(body, "linli_hub_outbox_depth", "linli_hub_outbox_depth_max"))

	for path, want := range map[string]string{"/healthz": "ok\n", "/readyz": "ready\n"} {
		code, got := get(t, srv.URL+path)
		if code != 200 || got != want {
			t.Errorf("GET %s = %d %q, want 200 %q", path, code, got, want)
		}
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// varies replaces the values of series that depend on timing (how fast
// the hub's outbox drained) with "VARIES", for the golden file.
func varies(body []byte, names ...string) []byte {
	lines := strings.Split(string(body), "\n")
	for i, l := range lines {
		for _, n := range names {
			if strings.HasPrefix(l, n+" ") {
				lines[i] = n + " VARIES"
			}
		}
	}
	return []byte(strings.Join(lines, "\n"))
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update and read the file)", err)
	}
	if string(got) != string(want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < max(len(gl), len(wl)); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs at line %d:\n got %q\nwant %q\n(run go test -update if the change is meant)", path, i+1, g, w)
			}
		}
	}
}

// TestReadyz checks that /readyz answers 503 naming each unmet condition —
// the hub not connected yet, the store closed — and 200 once all are met,
// while /healthz answers 200 throughout.
func TestReadyz(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "hub.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	connected := true
	o := ops.New(&ops.Options{
		Checks: []ops.Check{ops.HubConnected(ready, func() bool { return connected }), ops.StoreOpen(db)},
		Logger: logger(),
	})
	srv := httptest.NewServer(o.Handler())
	defer srv.Close()

	want := func(code int, body ...string) {
		t.Helper()
		got, b := get(t, srv.URL+"/readyz")
		if got != code {
			t.Errorf("GET /readyz = %d %q, want %d", got, b, code)
		}
		for _, w := range body {
			if !strings.Contains(b, w) {
				t.Errorf("GET /readyz body %q lacks %q", b, w)
			}
		}
		if hc, hb := get(t, srv.URL+"/healthz"); hc != 200 || hb != "ok\n" {
			t.Errorf("GET /healthz = %d %q", hc, hb)
		}
	}
	want(503, "broker: hub not connected to the broker")
	close(ready)
	want(200, "ready")
	connected = false
	want(503, "broker: hub not connected")
	connected = true
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	want(503, "store: store not open")
	if err := o.Ready(context.Background()); err == nil {
		t.Fatal("Ready = nil with the store closed")
	}
	if code, _ := get(t, srv.URL+"/nothing"); code != 404 {
		t.Errorf("GET /nothing = %d, want 404", code)
	}
	resp, err := http.Post(srv.URL+"/metrics", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics = %d, want 405", resp.StatusCode)
	}
}

// failingHub is a hub whose store cannot be read.
type failingHub struct{}

func (failingHub) Stats() hub.Stats                      { return hub.Stats{} }
func (failingHub) Devices() []contract.DeviceInfo        { return nil }
func (failingHub) Alerts(bool) ([]contract.Alert, error) { return nil, errors.New("disk on fire") }

// TestMetricsSourceFails checks that a failing source gives a 500 naming
// the failure, not a truncated exposition.
func TestMetricsSourceFails(t *testing.T) {
	srv := httptest.NewServer(ops.New(&ops.Options{Hub: failingHub{}, Logger: logger()}).Handler())
	defer srv.Close()
	code, body := get(t, srv.URL+"/metrics")
	if code != 500 || !strings.Contains(body, "disk on fire") || strings.Contains(body, "process_start") {
		t.Errorf("GET /metrics = %d %q, want 500 naming the failure", code, body)
	}
}

// TestMetricsToken: with a token, /metrics wants it as a bearer token;
// /healthz stays open.
func TestMetricsToken(t *testing.T) {
	srv := httptest.NewServer(ops.New(&ops.Options{MetricsToken: "s3cret", Logger: logger()}).Handler())
	defer srv.Close()
	for _, auth := range []string{"", "Bearer wrong", "s3cret", "Basic czNjcmV0", "Bearer s3cret2"} {
		req, _ := http.NewRequest("GET", srv.URL+"/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("Authorization %q: %d, want 401 with a challenge", auth, resp.StatusCode)
		}
	}
	req, _ := http.NewRequest("GET", srv.URL+"/metrics", nil)
	req.Header.Set("Authorization", "bearer s3cret") // the scheme is case-insensitive (RFC 7235)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "process_start_time_seconds") {
		t.Errorf("with the token: %d %.80q", resp.StatusCode, b)
	}
	if code, _ := get(t, srv.URL+"/healthz"); code != 200 {
		t.Errorf("/healthz = %d, want 200 without a token", code)
	}
}
