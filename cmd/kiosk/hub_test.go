package main

// The real other end for the kiosk's tests: the gridhub binary (with its
// embedded broker, or as a client of mosquitto) and a grid worker speaking
// to it over MQTT, as gridctl does.

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"linli/cmd/internal/bintest"
	"linli/mqtt/contract"
	"linli/mqtt/hubclient"
)

// hubConfig is the community of these tests: one grid of four buildings,
// its worker, the kiosk and a meter-box sensor.
const hubConfig = `{
  "subdistrict": "sd",
  "hub": {"id": "gridhub", "password": "hubpw"},
  "communities": [{"id": "east", "name": "East", "grids": [{"id": "g1", "name": "Grid 1", "buildings": ["1", "2", "3", "4"]}]}],
  "workers": [
    {"id": "w1", "name": "王芳", "role": "grid-worker", "grid": "g1", "on_duty": true, "password": "pw"}
  ],
  "devices": [
    {"id": "kiosk-01", "kind": "kiosk", "password": "kpw", "location": {"community": "east", "building": "1"}},
    {"id": "mb-1", "kind": "sensor", "password": "mpw", "location": {"community": "east", "building": "1", "unit": "1"}}
  ],
  "escalation": {"grid": "1h", "community": "1h"}
}`

// kioskConfig is the kiosk's configuration file for these tests.
const kioskConfig = `{
  "device": "kiosk-01",
  "code": "K01",
  "location": {"community": "east", "building": "1"},
  "buildings": ["1", "2", "3", "4"],
  "lang": "zh",
  "idle_timeout": "10m"
}`

// bins is gridhub, built once per test run.
var bins = bintest.Binaries{Pkgs: []string{"linli/cmd/gridhub"}}

// gridhub is a running gridhub process.
type gridhub struct {
	url    string // where devices and workers connect
	cmd    *exec.Cmd
	out    *bintest.Buffer
	exited chan struct{}
}

// startGridhub runs gridhub with its embedded broker on listen (broker
// "") or as a client of broker, and waits until it answers a worker.
func startGridhub(t testing.TB, listen, broker string) *gridhub {
	t.Helper()
	dir := t.TempDir()
	config := filepath.Join(dir, "hub.json")
	if err := os.WriteFile(config, []byte(hubConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"run", "--config", config, "--data", filepath.Join(dir, "data"), "--log-level", "info"}
	h := &gridhub{url: broker, out: new(bintest.Buffer), exited: make(chan struct{})}
	if broker == "" {
		args = append(args, "--listen", listen)
		h.url = "tcp://" + listen
	} else {
		args = append(args, "--broker", broker)
	}
	h.cmd = exec.Command(bins.Path(t, "gridhub"), args...)
	// How gridhub logs in to an external broker: the hub account of the
	// configuration, the password from the environment.
	h.cmd.Env = append(os.Environ(), "GRIDHUB_BROKER_PASSWORD=hubpw")
	h.cmd.Stdout, h.cmd.Stderr = h.out, h.out
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = h.cmd.Wait(); close(h.exited) }()
	t.Cleanup(func() {
		_ = h.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-h.exited:
		case <-time.After(20 * time.Second):
			_ = h.cmd.Process.Kill()
			<-h.exited
		}
		if t.Failed() {
			t.Logf("gridhub output:\n%s", h.out.String())
		}
	})
	bintest.WaitReady(t, "gridhub", 30*time.Second, h.exited, h.out, func(ctx context.Context) error {
		c, err := dialWorker(ctx, h.url)
		if err != nil {
			return err
		}
		defer c.Close()
		var list []contract.TicketStatus
		cctx, ccancel := context.WithTimeout(ctx, time.Second)
		defer ccancel()
		return c.Call(cctx, contract.OpTicketsList, nil, nil, &list)
	})
	return h
}

// dialWorker connects as grid worker w1, as gridctl does.
func dialWorker(ctx context.Context, url string) (*hubclient.Client, error) {
	return hubclient.Dial(ctx, &hubclient.Options{Broker: url, User: "w1", Password: "pw"})
}

// worker is grid worker w1 connected to the hub for the whole test.
func worker(t testing.TB, url string) *hubclient.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := dialWorker(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// call makes a worker's request and fails the test if the hub refuses it.
func call(t testing.TB, c *hubclient.Client, op string, args map[string]string, out any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Call(ctx, op, args, nil, out); err != nil {
		t.Fatalf("%s %v: %v", op, args, err)
	}
}

// startKiosk starts the kiosk's backend as `kiosk run` does (data, service,
// uplink to url as kiosk-01, daily prune), without a screen.
func startKiosk(t testing.TB, url string) *deps {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "kiosk.json")
	if err := os.WriteFile(cfg, []byte(kioskConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	logw := new(bintest.Buffer)
	c := &cliConfig{cmd: "run", configFile: cfg, data: filepath.Join(dir, "data"), broker: url,
		user: "kiosk-01", pass: "kpw", logw: logw, maxBackoff: time.Second}
	d, stop, err := start(context.Background(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("kiosk log:\n%s", logw.String())
		}
	})
	return d
}

// eventually polls cond (another process is at work) until it holds, or
// fails the test after 60 s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s: %s", what)
		}
		time.Sleep(20 * time.Millisecond) // polling other processes and goroutines
	}
}
