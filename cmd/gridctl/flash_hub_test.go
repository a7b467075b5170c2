package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	bolt "go.etcd.io/bbolt"

	"linli/cmd/internal/bintest"
	"linli/firmware/campaign"
	"linli/firmware/transfer"
	gridconfig "linli/grid/config"
	"linli/grid/hub"
	"linli/mqtt/broker"
	"linli/mqtt/contract"
	"linli/mqtt/mqtttest"
)

// hubFleetSize is the number of simulated meter boxes of the issue's
// figure.
const hubFleetSize = 50

// hubFleet is the real hub (grid/hub on the embedded mqtt/broker, wired
// as cmd/gridhub's run does) in front of simulated meter boxes that log in
// with their own accounts, so the broker's ACLs apply to every message.
//
// What is real: the broker with the configuration's accounts and ACLs, the
// hub (device registry from births, device.cmd authorised for the
// maintenance worker and forwarded to the device's cmd topic, waiting for
// its CommandAck), gridctl's campaign code, and on every device a real
// transfer.Receiver (bbolt bitmap, fsync'd blocks in the test's temporary
// folder) downloading the bundle over MQTT from gridctl. What is not: the
// devices do not verify the signature, install, restart or run a trial.
// After the download they report installing, publish a new birth with the
// bundle's version (as a restarted device would), then trial and
// committed, each FirmwareStatus retained on their fwstatus topic.
// TestFlashThroughHub runs the real gridhub and sensord binaries with three
// devices.
type hubFleet struct {
	t      testing.TB
	url    string // tcp://ADDR of the broker
	hub    *hub.Hub
	broker *broker.Server
	hubLog *bintest.Buffer
	ctx    context.Context
	wg     sync.WaitGroup
	devs   []*hubDevice
}

// hubDevice is one simulated meter box.
type hubDevice struct {
	id      string
	loc     contract.Location
	conn    paho.Client
	recv    *transfer.Receiver
	mu      sync.Mutex
	running string
	session uint32
}

// hubConfig returns gridconfig.Example() with its meter boxes replaced by
// mb-0001…mb-00NN (password "mb-dev"), spread over the example's
// buildings and so over its three grids; the kiosks and workers (among
// them the maintenance worker m-zhou) are kept.
func hubConfig(t testing.TB, n int) *gridconfig.Config {
	t.Helper()
	var raw map[string]any
	if err := json.Unmarshal(gridconfig.Example(), &raw); err != nil {
		t.Fatal(err)
	}
	var buildings []string
	for _, c := range raw["communities"].([]any) {
		for _, g := range c.(map[string]any)["grids"].([]any) {
			for _, b := range g.(map[string]any)["buildings"].([]any) {
				buildings = append(buildings, b.(string))
			}
		}
	}
	var devs []any
	for _, d := range raw["devices"].([]any) {
		if d.(map[string]any)["kind"] != "sensor" {
			devs = append(devs, d)
		}
	}
	for i := range n {
		devs = append(devs, map[string]any{
			"id": fmt.Sprintf("mb-%04d", i+1), "kind": "sensor", "password": "mb-dev",
			"location": map[string]string{"community": "east", "building": buildings[i%len(buildings)], "unit": fmt.Sprint(i/len(buildings) + 1)},
		})
	}
	raw["devices"] = devs
	b, err := json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := gridconfig.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	w, ok := cfg.Worker("m-zhou")
	if !ok || w.Role != gridconfig.RoleMaintenance {
		t.Fatal("the example configuration has no maintenance worker m-zhou")
	}
	return cfg
}

// newHubFleet starts the broker and the hub as gridhub does, then n
// devices running "1.0.0", and waits until the hub lists them all online.
func newHubFleet(t testing.TB, n int) *hubFleet {
	t.Helper()
	cfg := hubConfig(t, n)
	ctx, cancel := context.WithCancel(context.Background())
	fl := &hubFleet{t: t, ctx: ctx, hubLog: &bintest.Buffer{}}
	log := slog.New(slog.NewTextHandler(fl.hubLog, &slog.HandlerOptions{Level: slog.LevelWarn}))

	// As cmd/gridhub's run: the hub logs in with a secret of this run; the
	// other accounts wait for Admit, closed once the hub's session is up.
	secret := rand.Text()
	accounts := cfg.Accounts()
	accounts[cfg.Hub.ID] = broker.Entry{Account: broker.Account{ID: cfg.Hub.ID, Role: broker.RoleHub}, Password: secret}
	admit := make(chan struct{})
	srv, err := broker.New(&broker.Options{Listen: "127.0.0.1:0", DataDir: filepath.Join(t.TempDir(), "broker"),
		Accounts: accounts, Admit: admit, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	fl.url, fl.broker = "tcp://"+srv.Addr(), srv
	db, err := bolt.Open(filepath.Join(t.TempDir(), "hub.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	fl.hub, err = hub.New(db, cfg, &hub.Options{Broker: fl.url, Username: cfg.Hub.ID, Password: secret, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	hubDone := make(chan error, 1)
	go func() { hubDone <- fl.hub.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		fl.wg.Wait()
		if err := <-hubDone; err != nil {
			t.Errorf("hub: %v", err)
		}
		if err := srv.Close(); err != nil {
			t.Errorf("broker: %v", err)
		}
		db.Close()
		if t.Failed() {
			t.Logf("--- hub and broker warnings:\n%s", fl.hubLog.String())
		}
	})
	select {
	case <-fl.hub.Ready():
		close(admit)
	case err := <-hubDone:
		t.Fatalf("hub: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("the hub is not ready")
	}

	for _, d := range cfg.Devices {
		if d.Kind == "sensor" {
			dev := &hubDevice{id: d.ID, loc: d.Location, running: "1.0.0", session: 1}
			fl.devs = append(fl.devs, dev)
			fl.connect(dev)
		}
	}
	// Stop the devices' goroutines before their connections close (the
	// cleanups run last registered first).
	t.Cleanup(func() { cancel(); fl.wg.Wait() })
	fl.waitListed("1.0.0")
	return fl
}

// connect logs d in with its own account, subscribes its cmd and fw
// topics and publishes its birth.
func (fl *hubFleet) connect(d *hubDevice) {
	t := fl.t
	t.Helper()
	death := contract.MustEncode(&contract.Death{Device: d.id, Session: d.session})
	c := mqtttest.ClientWith(t, fl.url, d.id, &mqtttest.ClientOpts{
		Will:      &mqtttest.Message{Topic: contract.DeviceTopic(d.id, "death"), Payload: death, QoS: 1, Retained: true},
		Configure: func(o *paho.ClientOptions) { o.SetUsername(d.id).SetPassword("mb-dev") },
	})
	d.conn = c.Paho()
	db, err := bolt.Open(filepath.Join(t.TempDir(), d.id+".db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	d.recv, err = transfer.NewReceiver(db, &transfer.ReceiverOptions{Device: d.id, Dir: t.TempDir(), Logger: quietLog,
		Request: func(ctx context.Context, p []byte) error {
			return mqtttest.Wait(ctx, d.conn.Publish(contract.DeviceTopic(d.id, "fwreq"), 1, false, p))
		},
		Progress: func(st contract.FirmwareStatus) { fl.status(d, st) }})
	if err != nil {
		t.Fatal(err)
	}
	cmds := c.Subscribe(contract.DeviceTopic(d.id, "cmd"), 1)
	blocks := c.Subscribe(contract.DeviceTopic(d.id, "fw"), 1)
	fl.birth(d)
	fl.wg.Go(func() {
		for {
			select {
			case <-fl.ctx.Done():
				return
			case m := <-blocks:
				d.recv.HandleBlock(m.Payload)
			}
		}
	})
	fl.wg.Go(func() {
		for {
			select {
			case <-fl.ctx.Done():
				return
			case m := <-cmds:
				fl.command(d, m.Topic, m.Payload)
			}
		}
	})
}

// publish publishes v on d's leaf topic and waits for the broker.
func (fl *hubFleet) publish(d *hubDevice, leaf string, retained bool, v contract.Message) {
	ctx, cancel := context.WithTimeout(fl.ctx, 10*time.Second)
	defer cancel()
	b := contract.MustEncode(v)
	if err := mqtttest.Wait(ctx, d.conn.Publish(contract.DeviceTopic(d.id, leaf), 1, retained, b)); err != nil && fl.ctx.Err() == nil {
		fl.t.Errorf("%s: publish %s %s: %v", d.id, leaf, b, err)
	}
}

// birth announces d with the version it runs, retained.
func (fl *hubFleet) birth(d *hubDevice) {
	d.mu.Lock()
	b := &contract.Birth{Device: d.id, Kind: "sensor", Session: d.session, Firmware: d.running, Location: d.loc}
	d.mu.Unlock()
	fl.publish(d, "birth", true, b)
}

// status publishes d's FirmwareStatus, retained, as firmware/device does.
func (fl *hubFleet) status(d *hubDevice, st contract.FirmwareStatus) {
	d.mu.Lock()
	st.Device, st.Running = d.id, d.running
	d.mu.Unlock()
	fl.publish(d, "fwstatus", true, &st)
}

// command answers a command the hub forwarded: an update is acknowledged
// and run in the background; anything else is refused.
func (fl *hubFleet) command(d *hubDevice, topic string, payload []byte) {
	msg, err := contract.Decode(topic, payload)
	cmd, ok := msg.(*contract.Command)
	if err != nil || !ok {
		fl.t.Errorf("%s: command %q: %v", d.id, payload, err)
		return
	}
	ack := &contract.CommandAck{ID: cmd.ID, Device: d.id, OK: true}
	var o transfer.Offer
	switch {
	case cmd.Name != contract.CmdUpdate:
		ack.OK, ack.Error = false, "unexpected command "+cmd.Name
	default:
		if o, err = transfer.OfferFromArgs(cmd.Args); err != nil {
			ack.OK, ack.Error = false, err.Error()
		}
	}
	fl.publish(d, "cmdack", false, ack)
	if ack.OK {
		fl.wg.Go(func() { fl.update(d, o) })
	}
}

// update downloads o with the device's receiver and reports the stages of
// an installation up to committed, without installing anything.
func (fl *hubFleet) update(d *hubDevice, o transfer.Offer) {
	if err := d.recv.Offer(o); err != nil {
		fl.status(d, contract.FirmwareStatus{Transfer: o.Transfer, Version: o.Version, State: contract.FwFailed, Error: err.Error()})
		return
	}
	_, _, err := d.recv.Run(fl.ctx)
	if err != nil || fl.ctx.Err() != nil {
		return // the receiver reported failed, or the test is over
	}
	d.recv.Finish()
	st := contract.FirmwareStatus{Transfer: o.Transfer, Version: o.Version, State: contract.FwInstalling}
	fl.status(d, st)
	d.mu.Lock()
	d.running = o.Version
	d.session++
	d.mu.Unlock()
	fl.birth(d) // "restarted" into the new version
	st.State = contract.FwTrial
	fl.status(d, st)
	st.State = contract.FwCommitted
	fl.status(d, st)
}

// waitListed waits until the hub lists every device online with version.
func (fl *hubFleet) waitListed(version string) {
	t := fl.t
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var good int
		var bad []string
		for _, d := range fl.hub.Devices() {
			switch {
			case !strings.HasPrefix(d.Device, "mb-"):
			case d.Online && d.Firmware == version && d.Kind == "sensor":
				good++
			default:
				bad = append(bad, fmt.Sprintf("%s %s online=%v", d.Device, d.Firmware, d.Online))
			}
		}
		if good == len(fl.devs) && len(bad) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hub lists %d devices online with %s; not: %v", good, version, bad)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// gridctl runs gridctl in-process as the maintenance worker m-zhou.
func (fl *hubFleet) gridctl(args ...string) result {
	env := map[string]string{"LINLI_BROKER": fl.url, "LINLI_USER": "m-zhou", "LINLI_PASS": "zhou-dev"}
	var out, errb bytes.Buffer
	sys := &system{stdout: &out, stderr: &errb, getenv: func(k string) string { return env[k] }, now: time.Now, loc: time.UTC}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := run(ctx, args, sys)
	return result{out.String(), errb.String(), code}
}

// campaign runs gridctl --json flash --bundle bundlePath --all --first 5
// --yes and checks its report: every device committed from "from" to
// version, the first group of five finished before any other device
// started. It returns the report.
func (fl *hubFleet) campaign(bundlePath, from, version string) campaign.Report {
	t := fl.t
	t.Helper()
	r := fl.gridctl("--json", "flash", "--bundle", bundlePath, "--all", "--first", "5", "--yes")
	var rep campaign.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 {
		t.Fatalf("flash: exit %d, stderr %q, report %v\n%s", r.code, r.stderr, err, r.stdout)
	}
	if rep.Version != version || rep.Counts[campaign.Committed] != len(fl.devs) || len(rep.Devices) != len(fl.devs) {
		t.Fatalf("report: version %s, counts %v, %d devices; want %s, %d committed", rep.Version, rep.Counts, len(rep.Devices), version, len(fl.devs))
	}
	var firstDone time.Time
	var first []string
	for _, d := range rep.Devices {
		if d.State != campaign.Committed || d.From != from || d.Running != version {
			t.Errorf("%s: %s %s → %s (%s), want committed %s → %s", d.ID, d.State, d.From, d.Running, d.Reason, from, version)
		}
		if d.Stage == 1 {
			first = append(first, d.ID)
			if d.Finished.After(firstDone) {
				firstDone = d.Finished
			}
		}
	}
	if len(first) != 5 {
		t.Errorf("first group %v, want 5 devices", first)
	}
	for _, d := range rep.Devices {
		if d.Stage != 1 && d.Started.Before(firstDone) {
			t.Errorf("%s (stage %d) started %s, before the first group %v finished %s",
				d.ID, d.Stage, d.Started.Format(time.StampMicro), first, firstDone.Format(time.StampMicro))
		}
	}
	return rep
}

// TestFlashCampaign50ThroughHub is the figure through the real hub:
// a staged campaign (--first 5) to 50 simulated devices completes, with
// its report, in one command; the hub then lists the new version for
// every device. See hubFleet for what is simulated.
func TestFlashCampaign50ThroughHub(t *testing.T) {
	fl := newHubFleet(t, hubFleetSize)
	bundlePath := makeBundle(t, "2.0.0", 64<<10)
	start := time.Now()
	rep := fl.campaign(bundlePath, "1.0.0", "2.0.0")
	t.Logf("%d devices committed in %s (report: %s)", len(rep.Devices), time.Since(start).Round(time.Millisecond), rep.Finished.Sub(rep.Started).Round(time.Millisecond))
	fl.waitListed("2.0.0")
	if slices.ContainsFunc(rep.Devices, func(d campaign.DeviceReport) bool { return d.Reason != "" }) {
		t.Errorf("reasons in a clean campaign: %+v", rep.Devices)
	}
	// Every device and gridctl stayed within its account's ACL.
	if st := fl.broker.Stats(); st != (broker.Stats{}) {
		t.Errorf("broker refused something: %+v", st)
	}
}

// BenchmarkFlashCampaign50 is the figure: a staged campaign
// (gridctl flash --all --first 5 --yes) to 50 simulated devices through
// the real hub and broker, with its report, in one command. It reports
// the seconds per campaign. Every iteration flashes a new version (the
// devices would skip one they already run); waiting for the hub to list
// it is not timed. See hubFleet for what is simulated.
func BenchmarkFlashCampaign50(b *testing.B) {
	fl := newHubFleet(b, hubFleetSize)
	bundles := make([]string, b.N)
	for i := range bundles {
		bundles[i] = makeBundle(b, fmt.Sprintf("2.0.%d", i), 64<<10)
	}
	from := "1.0.0"
	var total time.Duration
	b.ResetTimer()
	for i := range b.N {
		version := fmt.Sprintf("2.0.%d", i)
		start := time.Now()
		fl.campaign(bundles[i], from, version)
		total += time.Since(start)
		b.StopTimer()
		fl.waitListed(version)
		from = version
		b.StartTimer()
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s/campaign")
}
