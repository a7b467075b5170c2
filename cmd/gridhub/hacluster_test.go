package main

import (
	"io"
	"log/slog"
	"strings"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"

	"linli/grid/config"
	"linli/mqtt/contract"
	"linli/mqtt/natsbroker/natstest"
)

// TestHACluster runs three gridhub --ha processes on an in-process 3-node
// NATS cluster: MQTT through the nodes' listeners (--broker lists all
// three), journal and lease R3 on its JetStream. 50 devices stream 1,050
// alarms in three phases: (a) the active hub is SIGKILLed, (b) one NATS
// node is killed and restarted, (c) both at once. Every alarm is exactly
// one alert with one id, and an escalation deadline that falls in the
// takeovers is kept (± 1 s).
func TestHACluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS cluster and gridhub processes")
	}
	r := newHAConfig(t)
	cfg, err := config.Parse(haConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	cl, err := natstest.Start(&natstest.Options{Accounts: cfg.Accounts(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	r.brokers = cl.MQTTURLs()
	r.connectJS(t, strings.Join(cl.NATSURLs(), ","), 3, nats.UserInfo("gridhub", "hub-dev"), nats.MaxReconnects(-1))

	hubs := map[string]*haHub{}
	var all []*haHub
	for _, name := range []string{"a", "b", "c"} {
		hubs[name] = r.start(t, name)
		all = append(all, hubs[name])
	}
	active := func() *haHub { // the running hub that took over last
		var last *haHub
		for _, h := range hubs {
			if strings.Contains(h.log(), "msg=active") && (last == nil ||
				takeoverAt(h) > takeoverAt(last)) {
				last = h
			}
		}
		return last
	}
	for deadline := time.Now().Add(30 * time.Second); active() == nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no hub active after 30 s")
		}
	}
	active().waitLog(t, `msg=subscribed`, 30*time.Second)
	logs := func() {
		for name, h := range hubs {
			t.Logf("%s:\n%s", name, h.log())
		}
	}

	var devs []paho.Client
	for d := 1; d <= haDevices; d++ {
		devs = append(devs, r.client(t, haDevice(d), "mb-dev"))
	}
	liu := newRequester(t, r, "s-liu", "liu-dev")

	esc := r.client(t, "mb-0006", "mb-dev")
	publish(t, esc, contract.DeviceTopic("mb-0006", "event"), contract.MustEncode(&contract.Event{
		ID: "mb-0006-1", Device: "mb-0006", Session: 1, Seq: 1, Channel: "busbar-l1", Kind: "temperature",
		To: contract.StateAlarm, Cause: "threshold", Value: 95, Unit: "°C"}))
	var escBefore contract.Alert
	waitAlerts(t, liu, func(m map[string]contract.Alert) bool { escBefore = m["mb-0006-1"]; return escBefore.ID != "" })

	killHub := func() {
		h := active()
		h.signal(t, syscall.SIGKILL)
		_ = h.cmd.Wait()
		delete(hubs, h.name)
		t.Logf("killed hub %s", h.name)
	}
	nodeDone := make(chan error, 1)
	bounceNode := func(i int) {
		if err := cl.Kill(i); err != nil {
			t.Error(err)
		}
		go func() {
			time.Sleep(time.Second)
			nodeDone <- cl.Restart(i)
		}()
	}
	const last1, last2, last3 = 14, 28, 42
	// (a) the active hub killed.
	alarmStream(t, devs, 1, last1, killHub)
	waitEvents(t, liu, haDevices, last1)
	// (b) a NATS node killed and restarted.
	alarmStream(t, devs, last1+1, last2, func() { bounceNode(0) })
	if err := <-nodeDone; err != nil {
		t.Fatalf("restart node 1: %v", err)
	}
	waitEvents(t, liu, haDevices, last2)
	// (c) both: the active hub and another node.
	alarmStream(t, devs, last2+1, last3, func() { killHub(); bounceNode(1) })
	if err := <-nodeDone; err != nil {
		t.Fatalf("restart node 2: %v", err)
	}
	waitEvents(t, liu, haDevices, last3)
	if wait := time.Until(escBefore.EscalateAt.Add(1500 * time.Millisecond)); wait > 0 {
		time.Sleep(wait)
	}

	// Alarms in flight to a killed hub reach its successor after the
	// nodes' MQTT ack wait (2 s), after later ones: give them that.
	time.Sleep(5 * time.Second)
	// The list is too large for one response: read the last active hub's
	// file once it stopped.
	last := active()
	takeovers := takeoverTimes(all...)
	for _, h := range hubs {
		h.signal(t, syscall.SIGTERM)
		if err := h.cmd.Wait(); err != nil {
			t.Errorf("%s: %v", h.name, err)
		}
	}
	got := alertsByEvent(t, r, last)
	checkAlarms(t, got, haDevices, last3, 1)
	checkEscalation(t, escBefore, got["mb-0006-1"], takeovers)
	if t.Failed() {
		logs()
	}
}

// takeoverAt is the time of the hub's last "active" log line.
func takeoverAt(h *haHub) string {
	log := h.log()
	i := strings.LastIndex(log, "msg=active")
	j := strings.LastIndex(log[:i], "time=")
	return log[j:i]
}

// takeoverTimes returns the times of the hubs' "active" log lines.
func takeoverTimes(hubs ...*haHub) []time.Time {
	var at []time.Time
	for _, h := range hubs {
		for _, line := range strings.Split(h.log(), "\n") {
			if strings.Contains(line, "msg=active") {
				if t, err := time.Parse(time.RFC3339Nano, strings.Fields(strings.TrimPrefix(line, "time="))[0]); err == nil {
					at = append(at, t)
				}
			}
		}
	}
	return at
}

// checkEscalation checks that an alert escalated to the community level
// at its deadline, as set before any takeover: not before it, and within
// 1 s of it or, when the deadline fell while no hub was active, within
// 2 s of the takeover that followed (the new hub first applies the
// events queued for it). A deadline reset by a takeover is a grid period
// (6 s) late.
func checkEscalation(t *testing.T, before, after contract.Alert, takeovers []time.Time) {
	t.Helper()
	escalated := after.EscalateAt.Add(-time.Minute) // the community period
	onTime := func() bool {
		d := escalated.Sub(before.EscalateAt)
		if d < -100*time.Millisecond {
			return false
		}
		if d <= time.Second {
			return true
		}
		for _, at := range takeovers {
			if d := escalated.Sub(at); at.After(before.EscalateAt.Add(-time.Second)) && d >= 0 && d <= 2*time.Second {
				return true
			}
		}
		return false
	}
	if after.Level != "community" || !onTime() {
		t.Errorf("escalation: level %s at %s, want community at %s + 1 s or within 2 s of a takeover after it (takeovers %v)",
			after.Level, escalated.Format(time.StampMilli), before.EscalateAt.Format(time.StampMilli), takeovers)
	}
}
