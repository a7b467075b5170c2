package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	gridconfig "linli/grid/config"
	"linli/mqtt/contract"
)

// proc is one child process of the community.
type proc struct {
	name  string
	color string
	cmd   *exec.Cmd
	done  chan struct{}
	err   error
	// ready is closed at the first output line containing readyLine.
	readyLine string
	ready     chan struct{}
}

type community struct {
	cfg   config
	mu    sync.Mutex // serialises output lines
	out   io.Writer
	procs []*proc
	tty   bool
}

var colors = []string{"36", "33", "35", "32", "34", "31", "96", "93"}

func (c *community) printf(name, color, format string, a ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	prefix := fmt.Sprintf("%-9s│ ", name)
	if c.tty {
		prefix = "\x1b[" + color + "m" + prefix + "\x1b[0m"
	}
	fmt.Fprintf(c.out, prefix+format+"\n", a...)
}

// start runs bin/name with args, showing its output under label.
func (c *community) start(ctx context.Context, label, binary string, args ...string) (*proc, error) {
	return c.startWatching(ctx, "", label, binary, args...)
}

// startWatching is start with p.ready closed at the first line of the
// child's output that contains readyLine.
func (c *community) startWatching(_ context.Context, readyLine, label, binary string, args ...string) (*proc, error) {
	p := &proc{name: label, color: colors[len(c.procs)%len(colors)], done: make(chan struct{}),
		readyLine: readyLine, ready: make(chan struct{})}
	p.cmd = exec.Command(filepath.Join(c.cfg.bin, binary), args...)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p.cmd.Env = append(os.Environ(), "LANG=zh_CN.UTF-8")
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p.cmd.Stderr = p.cmd.Stdout
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", label, err)
	}
	c.procs = append(c.procs, p)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		ready := p.readyLine == ""
		if ready {
			close(p.ready)
		}
		for sc.Scan() {
			c.printf(p.name, p.color, "%s", sc.Text())
			if !ready && strings.Contains(sc.Text(), p.readyLine) {
				ready = true
				close(p.ready)
			}
		}
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// stopAll ends every child: SIGTERM, then SIGKILL after a grace period.
func (c *community) stopAll() {
	for i := len(c.procs) - 1; i >= 0; i-- {
		p := c.procs[i]
		select {
		case <-p.done:
			continue
		default:
		}
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM) // ESRCH: already gone
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	}
}

// waitReady waits for p's ready line.
func waitReady(ctx context.Context, p *proc) error {
	select {
	case <-p.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-p.done:
		return fmt.Errorf("%s exited before it was ready: %w", p.name, p.err)
	}
}

// waitPort waits until addr accepts connections (p's web console, which
// gridhub starts once the hub is ready).
func waitPort(ctx context.Context, addr string, p *proc) error {
	for {
		conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.done:
			return fmt.Errorf("%s exited before listening on %s: %w", p.name, addr, p.err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func run(ctx context.Context, cfg config) error {
	if cfg.sensors < 1 || cfg.sensors > 6 {
		return fmt.Errorf("community: --sensors %d outside 1-6 (the demo community has 6 meter boxes)", cfg.sensors)
	}
	for _, b := range []string{"gridhub", "sensord", "gridctl"} {
		if _, err := os.Stat(filepath.Join(cfg.bin, b)); err != nil {
			return fmt.Errorf("community: %s not built in %s (run make build): %w", b, cfg.bin, err)
		}
	}
	if err := os.RemoveAll(cfg.dir); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.dir, 0o755); err != nil {
		return err
	}
	hubCfg, err := demoConfig(cfg)
	if err != nil {
		return err
	}
	hubPath := filepath.Join(cfg.dir, "hub.json")
	if err := os.WriteFile(hubPath, hubCfg.raw, 0o600); err != nil {
		return err
	}
	fi, _ := os.Stdout.Stat()
	c := &community{cfg: cfg, out: os.Stdout, tty: fi != nil && fi.Mode()&os.ModeCharDevice != 0}
	defer c.stopAll()

	url := "tcp://" + cfg.listen
	hubArgs := []string{"run", "--config", hubPath, "--data", filepath.Join(cfg.dir, "hub"), "--listen", cfg.listen}
	if cfg.http != "" {
		hubArgs = append(hubArgs, "--http", cfg.http)
	}
	// gridhub's "hub ready" line (cmd/gridhub.ReadyMessage): the embedded
	// broker refuses devices until the hub is subscribed, and each refusal
	// is a WARN of the device.
	hub, err := c.startWatching(ctx, `msg="hub ready"`, "gridhub", "gridhub", hubArgs...)
	if err != nil {
		return err
	}
	if err := waitReady(ctx, hub); err != nil {
		return err
	}
	w := hubCfg.worker
	c.printf("community", "1", "hub up, embedded MQTT broker on %s. Attach yourself with:", cfg.listen)
	c.printf("community", "1", "  %s/gridctl --broker %s --user %s --pass %s watch", cfg.bin, url, w.ID, w.Password)
	// As the worker: the embedded broker gives the hub account a secret of
	// its run, not the configuration's password, and a worker may read
	// the alerts and the devices' state but not the whole tree.
	c.printf("community", "1", "  mosquitto_sub -h %s -p %s -u %s -P %s -t '%s' -t '%s' -v", host(cfg.listen), port(cfg.listen), w.ID, w.Password,
		contract.GridAlertTopic("+"), contract.DeviceTopic("+", "state"))
	if cfg.http != "" {
		if err := waitPort(ctx, cfg.http, hub); err != nil {
			return err
		}
		c.printf("community", "1", "web console: http://%s/  (log in as %s / %s; residents: http://%s/report)", cfg.http, w.ID, w.Password, cfg.http)
	}

	if _, err := c.start(ctx, "watch", "gridctl", "--broker", url, "--user", w.ID, "--pass", w.Password, "watch"); err != nil {
		return err
	}
	for i, d := range hubCfg.sensors {
		if i >= cfg.sensors {
			break
		}
		args, err := sensorArgs(cfg, d, url)
		if err != nil {
			return err
		}
		if _, err := c.start(ctx, d.ID, "sensord", args...); err != nil {
			return err
		}
	}
	if cfg.kiosk && hubCfg.kiosk != nil {
		if _, err := os.Stat(filepath.Join(cfg.bin, "kiosk")); err == nil {
			args, err := kioskArgs(cfg, *hubCfg.kiosk, url)
			if err != nil {
				return err
			}
			if _, err := c.start(ctx, hubCfg.kiosk.ID, "kiosk", args...); err != nil {
				return err
			}
			c.printf("community", "1", "kiosk %s renders its screen to %s", hubCfg.kiosk.ID, filepath.Join(cfg.dir, "kiosk.png"))
		}
	}
	select {
	case <-ctx.Done():
	case <-hub.done:
		return fmt.Errorf("community: gridhub exited: %w", hub.err)
	}
	c.printf("community", "1", "stopping") // Ctrl-C or --duration: a normal end
	return nil
}

type demo struct {
	raw     []byte
	worker  gridconfig.Worker
	sensors []gridconfig.Device
	kiosk   *gridconfig.Device
}

// demoConfig is the hub's example community with escalation shortened so
// that it shows within a demo.
func demoConfig(cfg config) (*demo, error) {
	var m map[string]any
	if err := json.Unmarshal(gridconfig.Example(), &m); err != nil {
		return nil, err
	}
	m["escalation"] = map[string]any{"grid": cfg.escalate.String(), "community": (2 * cfg.escalate).String()}
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	parsed, err := gridconfig.Parse(raw)
	if err != nil {
		return nil, err
	}
	d := &demo{raw: raw}
	for _, dev := range parsed.Devices {
		switch dev.Kind {
		case "sensor":
			d.sensors = append(d.sensors, dev)
		case "kiosk":
			if d.kiosk == nil {
				k := dev
				d.kiosk = &k
			}
		}
	}
	// The watching worker is the on-duty grid worker of the burning box.
	for _, dev := range d.sensors {
		if dev.ID != cfg.fire {
			continue
		}
		grid, _ := parsed.GridOf(dev.Location.Community, dev.Location.Building)
		for _, w := range parsed.Workers {
			if w.Grid == grid && w.OnDuty {
				d.worker = w
			}
		}
	}
	if d.worker.ID == "" {
		return nil, fmt.Errorf("community: no on-duty worker for %s", cfg.fire)
	}
	return d, nil
}

func host(addr string) string { h, _, _ := net.SplitHostPort(addr); return h }
func port(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }
