package e2e

import (
	"context"
	"fmt"
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

// hubConfig is the community of these tests: one grid, its worker, the
// simulated meter box of TestFaults, the benchmark's device and the
// device whose state messages measure the bare MQTT floor.
const hubConfig = `{
  "subdistrict": "sd",
  "hub": {"id": "gridhub", "password": "hubpw"},
  "communities": [{"id": "east", "name": "East", "grids": [{"id": "g1", "name": "Grid 1", "buildings": ["b1"]}]}],
  "workers": [
    {"id": "w1", "name": "Li", "role": "grid-worker", "grid": "g1", "on_duty": true, "password": "pw"},
    {"id": "s1", "name": "Liu", "role": "subdistrict", "on_duty": true, "password": "pw"}
  ],
  "devices": [
    {"id": "e2e-1", "kind": "sensor", "password": "pw", "location": {"community": "east", "building": "b1", "unit": "1"}},
    {"id": "bench-1", "kind": "sensor", "password": "pw", "location": {"community": "east", "building": "b1", "unit": "2"}},
    {"id": "floor-1", "kind": "sensor", "password": "pw", "location": {"community": "east", "building": "b1", "unit": "3"}}
  ],
  "escalation": {"grid": "1h", "community": "1h"}
}`

// bins are gridhub, sensord and gridctl, built once per test run.
var bins = bintest.Binaries{Pkgs: []string{"linli/cmd/gridhub", "linli/cmd/sensord", "linli/cmd/gridctl"}}

func TestMain(m *testing.M) {
	code := m.Run()
	closeCluster()
	bins.Remove()
	os.Exit(code)
}

// proc is a binary started by a test.
type proc struct {
	t      testing.TB
	name   string
	cmd    *exec.Cmd
	out    *bintest.Buffer
	exited chan struct{}
}

func start(t testing.TB, name string, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bins.Path(t, name), args...)
	cmd.Env = append(os.Environ(), env...)
	p := &proc{t: t, name: name, cmd: cmd, out: new(bintest.Buffer), exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() && testing.Verbose() {
			t.Logf("%s output:\n%s", name, p.out.String())
		}
	})
	return p
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// stop sends SIGTERM and waits up to 20 s for a clean exit.
func (p *proc) stop() {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		p.kill()
		p.t.Errorf("%s did not stop on SIGTERM:\n%s", p.name, p.out.String())
	}
}

// wait waits up to d for the process to exit by itself.
func (p *proc) wait(d time.Duration) error {
	select {
	case <-p.exited:
		if !p.cmd.ProcessState.Success() {
			return fmt.Errorf("%s: %v\n%s", p.name, p.cmd.ProcessState, p.out.String())
		}
		return nil
	case <-time.After(d):
		return fmt.Errorf("%s did not exit within %v", p.name, d)
	}
}

// hub is a gridhub process and what it needs to be restarted.
type hub struct {
	t              testing.TB
	config, data   string
	listen, broker string // --listen for the embedded broker, or --broker
	url            string // where devices and workers connect
	p              *proc
}

// startHub runs gridhub with its embedded broker (broker "") or as a client
// of broker, and waits until it answers a worker's request.
func startHub(t testing.TB, broker string) *hub {
	t.Helper()
	dir := t.TempDir()
	h := &hub{t: t, config: filepath.Join(dir, "hub.json"), data: filepath.Join(dir, "data"), broker: broker, url: broker}
	if err := os.WriteFile(h.config, []byte(hubConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	if broker == "" {
		h.listen = bintest.FreeAddr(t)
		h.url = "tcp://" + h.listen
	}
	h.start()
	return h
}

func (h *hub) start() {
	h.t.Helper()
	args := []string{"run", "--config", h.config, "--data", h.data, "--log-level", "warn"}
	if h.broker == "" {
		args = append(args, "--listen", h.listen)
	} else {
		args = append(args, "--broker", h.broker)
	}
	h.p = start(h.t, "gridhub", []string{"GRIDHUB_BROKER_PASSWORD=hubpw"}, args...)
	bintest.WaitReady(h.t, "gridhub", 30*time.Second, h.p.exited, h.p.out, func(ctx context.Context) error {
		c, err := worker(ctx, h.url)
		if err != nil {
			return err
		}
		defer c.Close()
		var list []contract.Alert
		cctx, ccancel := context.WithTimeout(ctx, time.Second)
		defer ccancel()
		return c.Call(cctx, contract.OpAlertsList, nil, nil, &list)
	})
}

// worker connects as grid worker w1.
func worker(ctx context.Context, url string) (*hubclient.Client, error) {
	c, err := hubclient.Dial(ctx, &hubclient.Options{Broker: url, User: "w1", Password: "pw"})
	if err != nil {
		return nil, err
	}
	return c, nil
}
