package main

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"linli/mqtt/contract"
)

// TestQuietStartStop: a first start of gridhub with its embedded broker, a
// device and a worker connecting, and a stop with SIGINT print no ERROR or
// WARN line (issue 9, item 6: the broker's store printed an ERROR at every
// first start, WARN lines with an empty message and a packet dump at
// shutdown, and the hub logged its connections as lost).
func TestQuietStartStop(t *testing.T) {
	dir := t.TempDir()
	cfgPath := exampleFile(t)
	addr := freePort(t)
	p := startHub(t, cfgPath, filepath.Join(dir, "data"), addr)
	defer p.kill()
	dev := mqttClient(t, addr, "mb-0001", "mb-dev")
	birth := &contract.Birth{Device: "mb-0001", Kind: "sensor", Session: 1, Firmware: "test"}
	publish(t, dev, contract.DeviceTopic("mb-0001", "birth"), contract.MustEncode(birth))
	mqttClient(t, addr, "w-li", "li-dev") // still connected at the stop
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.output(), "device online") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("gridhub: %v\n%s", err, p.output())
	}
	out := p.output()
	for _, want := range []string{"hub connected", "device online", "hub stopped", "broker stopped"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "level=ERROR") || strings.Contains(l, "level=WARN") || strings.Contains(l, " pk=") {
			t.Errorf("unexpected line: %s", l)
		}
	}
}

// output returns what the process wrote so far.
func (p *proc) output() string {
	lw := p.cmd.Stderr.(*lockedWriter)
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.w.String()
}
