package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"linli/cmd/internal/bintest"
	"linli/grid/config"
	"linli/mqtt/contract"
)

var (
	binary string
	update = flag.Bool("update", false, "rewrite testdata/example.json")
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gridhub-test")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "gridhub")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build gridhub: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestParseRun(t *testing.T) {
	env := func(string) string { return "" }
	tests := []struct {
		args    string
		wantErr string
		listen  string
	}{
		{"--config c --data d", "", "127.0.0.1:1883"},
		{"--config c --data d --listen :0", "", ":0"},
		{"--config c --data d --broker tcp://x:1883", "", ""},
		{"--config c", "required", ""},
		{"--config c --data d --broker tcp://x --listen :1", "exclude", ""},
		{"--config c --data d --tls-listen :8883", "needs --cert", ""},
		{"--config c --data d extra", "unexpected", ""},
		{"--config c --data d --nats-node a --nats-cluster :6222 --nats-routes nats-route://b:6222", "", "127.0.0.1:1883"},
		{"--config c --data d --nats-node a --broker tcp://x:1883", "excludes", ""},
		{"--config c --data d --nats-cluster :6222", "need --nats-node", ""},
		{"--config c --data d --http :8080 --cert c.pem", "go together", ""},
		{"--config c --data d --http 127.0.0.1:8080", "", "127.0.0.1:1883"},
		{"--config c --data d --http 127.0.0.1:8080 --http-trusted-proxy 10.0.0.0/8,127.0.0.1", "", "127.0.0.1:1883"},
		{"--config c --data d --http 127.0.0.1:8080 --http-trusted-proxy proxy.lan", "not an address or CIDR", ""},
		{"--config c --data d --http-trusted-proxy 10.0.0.1", "needs --http", ""},
		{"--config c --data d --broker tcp://x:1883 --ha nats://n:4222 --ha-name a", "", ""},
		{"--config c --data d --ha nats://n:4222", "--ha needs --broker", ""},
		{"--config c --data d --broker tcp://x --ha nats://n --ha-lease 10ms", "want at least 1s", ""},
		{"--config c --data d --broker tcp://x --ha nats://n --ha-compact-mb -1", "want 0 (never) or more", ""},
	}
	for _, tt := range tests {
		o, err := parseRun(strings.Fields(tt.args), env)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: err = %v, want %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.args, err)
			continue
		}
		if o.Listen != tt.listen {
			t.Errorf("%q: listen = %q, want %q", tt.args, o.Listen, tt.listen)
		}
	}
}

func TestConfigExample(t *testing.T) {
	out, err := exec.Command(binary, "config", "example").Output()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := config.Parse(out); err != nil {
		t.Errorf("example does not load: %v", err)
	}
	golden := filepath.Join("testdata", "example.json")
	if *update {
		if err := os.WriteFile(golden, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("gridhub config example differs from %s (run go test -update)", golden)
	}
}

func freePort(t *testing.T) string { return bintest.FreeAddr(t) }

type proc struct {
	cmd *exec.Cmd
	out *bytes.Buffer
}

func startHub(t *testing.T, cfg, data, addr string) *proc {
	t.Helper()
	p := &proc{out: new(bytes.Buffer)}
	p.cmd = exec.Command(binary, "run", "--config", cfg, "--data", data, "--listen", addr, "--log-level", "debug")
	p.cmd.Stderr = &lockedWriter{w: p.out}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return p
		}
		if time.Now().After(deadline) {
			p.cmd.Process.Kill()
			t.Fatalf("gridhub did not listen: %s", p.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (p *proc) kill() {
	p.cmd.Process.Kill() // SIGKILL: no shutdown of any kind
	p.cmd.Wait()
}

func mqttClient(t testing.TB, addr, id, pass string) paho.Client {
	o := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).SetUsername(id).SetPassword(pass).
		SetCleanSession(false).SetAutoReconnect(true).SetConnectRetry(true).
		SetConnectRetryInterval(50 * time.Millisecond).SetMaxReconnectInterval(200 * time.Millisecond).
		SetProtocolVersion(4)
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(20*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

// publish sends until the broker acknowledges, as a device's outbox does.
func publish(t *testing.T, c paho.Client, topic string, payload []byte) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		tok := c.Publish(topic, 1, false, payload)
		if tok.WaitTimeout(2*time.Second) && tok.Error() == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("publish %s: no acknowledgement", topic)
}

// TestKill9 kills gridhub (and with it the embedded broker) in the middle
// of a stream of alarms: every alarm reaches the hub exactly once, in order.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts gridhub processes")
	}
	dir := t.TempDir()
	cfgPath := exampleFile(t)
	data := filepath.Join(dir, "data")
	addr := freePort(t)
	p := startHub(t, cfgPath, data, addr)
	first := p

	dev := mqttClient(t, addr, "mb-0001", "mb-dev")
	const n = 60 // 30 alarms, each reset
	restarted := make(chan *proc, 1)
	for i := 1; i <= n; i++ {
		if i == n/3 {
			// Kill while the stream goes on; the device keeps re-sending
			// what was not acknowledged, as its outbox does.
			old := p
			go func() {
				old.kill()
				restarted <- startHub(t, cfgPath, data, addr)
			}()
		}
		to, cause := contract.StateAlarm, "threshold"
		if i%2 == 0 {
			to, cause = contract.StateNormal, "reset"
		}
		ev := &contract.Event{ID: fmt.Sprintf("mb-0001-%d", i), Device: "mb-0001", Session: 1, Seq: uint64(i),
			Channel: "busbar-l1", Kind: "temperature", To: to, Cause: cause, Value: 90, Unit: "°C"}
		publish(t, dev, contract.DeviceTopic("mb-0001", "event"), contract.MustEncode(ev))
	}

	p = <-restarted
	defer p.kill()
	w := mqttClient(t, addr, "w-li", "li-dev")
	resp := make(chan *contract.Response, 10)
	if tok := w.Subscribe(contract.ResponseTopic("w-li"), 1, func(_ paho.Client, m paho.Message) {
		if msg, err := contract.Decode(m.Topic(), m.Payload()); err == nil {
			resp <- msg.(*contract.Response)
		}
	}); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal("subscribe", tok.Error())
	}
	var alerts []contract.Alert
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		req := &contract.Request{ID: fmt.Sprint(time.Now().UnixNano()), From: "w-li", Op: contract.OpAlertsList, Args: map[string]string{"all": "true"}}
		publish(t, w, contract.RequestTopic("w-li"), contract.MustEncode(req))
		select {
		case r := <-resp:
			if !r.OK {
				t.Fatalf("alerts.list: %s", r.Error)
			}
			alerts = nil
			if err := json.Unmarshal(r.Body, &alerts); err != nil {
				t.Fatal(err)
			}
		case <-ctx.Done():
		}
		if len(alerts) >= n/2 && alerts[len(alerts)-1].Cleared {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(alerts) != n/2 {
		var ids []string
		for _, a := range alerts {
			ids = append(ids, fmt.Sprintf("%s:%v", a.EventID, a.Cleared))
		}
		t.Fatalf("got %d alerts, want %d: %v\nfirst run:\n%s\nsecond run:\n%s", len(alerts), n/2, ids, first.out, p.out)
	}
	for i, a := range alerts {
		if want := fmt.Sprintf("mb-0001-%d", 2*i+1); a.EventID != want || !a.Cleared {
			t.Errorf("alert %d: event %s cleared=%v, want event %s cleared", i, a.EventID, a.Cleared, want)
		}
	}
}

// TestTelemetryInProcess: with its embedded broker gridhub takes telemetry
// from the broker in its own process (the broker's telemetry hook, no
// telemetry connection), and a device's telemetry still brings it back
// online in the registry.
func TestTelemetryInProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a gridhub process")
	}
	dir := t.TempDir()
	cfgPath := exampleFile(t)
	addr := freePort(t)
	p := startHub(t, cfgPath, filepath.Join(dir, "data"), addr)
	defer p.kill()
	dev := mqttClient(t, addr, "mb-0001", "mb-dev")
	publish(t, dev, contract.DeviceTopic("mb-0001", "death"), contract.MustEncode(&contract.Death{Device: "mb-0001", Session: 1}))
	w := mqttClient(t, addr, "w-li", "li-dev")
	resp := make(chan *contract.Response, 10)
	if tok := w.Subscribe(contract.ResponseTopic("w-li"), 1, func(_ paho.Client, m paho.Message) {
		if msg, err := contract.Decode(m.Topic(), m.Payload()); err == nil {
			resp <- msg.(*contract.Response)
		}
	}); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal("subscribe", tok.Error())
	}
	device := func() contract.DeviceInfo {
		req := &contract.Request{ID: fmt.Sprint(time.Now().UnixNano()), From: "w-li", Op: contract.OpDevices}
		publish(t, w, contract.RequestTopic("w-li"), contract.MustEncode(req))
		select {
		case r := <-resp:
			var list []contract.DeviceInfo
			if err := json.Unmarshal(r.Body, &list); err != nil {
				t.Fatal(err)
			}
			for _, d := range list {
				if d.Device == "mb-0001" {
					return d
				}
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no answer to devices")
		}
		return contract.DeviceInfo{}
	}
	tele := contract.MustEncode(&contract.Telemetry{Device: "mb-0001", Session: 2, Seq: 1,
		Readings: []contract.Reading{{Channel: "busbar-l1", Value: 30, Unit: "°C"}}})
	deadline := time.Now().Add(20 * time.Second)
	for d := device(); !d.Online || d.Session != 2; d = device() {
		if time.Now().After(deadline) {
			p.kill()
			t.Fatalf("mb-0001 after telemetry of session 2: %+v\n%s", d, p.out)
		}
		dev.Publish(contract.DeviceTopic("mb-0001", "telemetry"), 0, false, tele)
		time.Sleep(100 * time.Millisecond)
	}
	p.kill() // its output is complete
	if out := p.out.String(); !strings.Contains(out, "hook=linli-telemetry") {
		t.Errorf("gridhub's broker has no telemetry hook: the hub subscribes to telemetry instead:\n%s", out)
	}
}
