package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// TestHANATSNodes runs the subdistrict topology of the README as three
// machines would: three gridhub processes, each with its own embedded NATS
// node (--nats-node, clustered by --nats-routes) and --ha on that node.
// 10 devices stream alarms through the nodes' MQTT listeners while the
// active hub is SIGKILLed, which takes its node down with it: a standby
// takes over, every alarm is exactly one alert with an id of its own, and
// the killed machine, started again, stands by.
func TestHANATSNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three gridhub processes with NATS nodes")
	}
	const devices, last = 10, 20
	r := newHAConfig(t)
	r.replicas = 3
	names := []string{"a", "b", "c"}
	type node struct{ mqtt, nats, cluster string }
	nodes := map[string]node{}
	var routes []string
	for _, name := range names {
		n := node{freePort(t), freePort(t), freePort(t)}
		nodes[name] = n
		routes = append(routes, "nats-route://"+n.cluster)
		r.brokers = append(r.brokers, "tcp://"+n.mqtt)
	}
	start := func(name string) *haHub {
		n := nodes[name]
		h := &haHub{name: name, out: &lockedWriter{w: new(bytes.Buffer)}}
		h.cmd = exec.Command(binary, "run", "--config", r.cfg, "--data", filepath.Join(r.dir, name),
			"--listen", n.mqtt, "--nats-node", "node-"+name, "--nats", n.nats, "--nats-cluster", n.cluster,
			"--nats-routes", strings.Join(routes, ","),
			"--ha", "nats://"+n.nats, "--ha-name", name, "--ha-lease", r.lease, "--ha-replicas", "3", "--log-level", "debug")
		h.cmd.Stderr = h.out
		if err := h.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			h.cmd.Process.Kill()
			h.cmd.Wait()
			if t.Failed() {
				h.logTail(t, 40)
			}
		})
		return h
	}
	hubs := map[string]*haHub{}
	for _, name := range names {
		hubs[name] = start(name)
	}
	active := func() *haHub {
		var last *haHub
		for _, h := range hubs {
			if strings.Contains(h.log(), "msg=active") && (last == nil || takeoverAt(h) > takeoverAt(last)) {
				last = h
			}
		}
		return last
	}
	for deadline := time.Now().Add(60 * time.Second); active() == nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no hub active after 60 s")
		}
	}
	active().waitLog(t, "msg=subscribed", 30*time.Second)

	var devs []paho.Client
	for d := 1; d <= devices; d++ {
		devs = append(devs, r.client(t, haDevice(d), "mb-dev"))
	}
	liu := newRequester(t, r, "s-liu", "liu-dev")
	var killed *haHub
	alarmStream(t, devs, 1, last, func() {
		killed = active()
		killed.signal(t, syscall.SIGKILL)
		_ = killed.cmd.Wait()
		delete(hubs, killed.name)
		t.Logf("killed hub %s and its node", killed.name)
	})
	waitEvents(t, liu, devices, last)
	// Alarms in flight to the killed hub reach its successor after the
	// nodes' MQTT ack wait (2 s), after later ones.
	time.Sleep(5 * time.Second)

	// The killed machine comes back: its node rejoins, its hub stands by.
	back := start(killed.name)
	back.waitLog(t, "msg=standby", 60*time.Second)
	hubs[killed.name] = back

	checkAlarms(t, liu.alerts(t), devices, last, 0)
	for _, h := range hubs {
		h.signal(t, syscall.SIGTERM)
	}
	for _, h := range hubs {
		if err := h.cmd.Wait(); err != nil {
			t.Errorf("%s: %v", h.name, err)
		}
	}
}
