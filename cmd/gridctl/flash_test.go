package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
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

	"linli/firmware/bundle"
	"linli/firmware/campaign"
	"linli/firmware/transfer"
	"linli/mqtt/contract"
	"linli/mqtt/hubclient/hubclienttest"
	"linli/mqtt/mqtttest"
)

// makeBundle writes a signed bundle holding a random "sensord" of size
// bytes and returns its path.
func makeBundle(t testing.TB, version string, size int) string {
	t.Helper()
	dir := t.TempDir()
	bin := make([]byte, size)
	rand.Read(bin)
	if err := os.WriteFile(filepath.Join(dir, "sensord"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	privPEM, _, err := bundle.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	priv, err := bundle.ParsePrivateKey(privPEM)
	if err != nil {
		t.Fatal(err)
	}
	b, err := bundle.Bytes(bundle.Manifest{Product: "linli", Version: version, Security: 2, Target: "linux/arm/7",
		Created: time.Unix(1790000000, 0).UTC()}, []bundle.Source{{Name: "sensord", Path: filepath.Join(dir, "sensord"), Mode: 0o755}}, priv)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "sensord-"+version+".lfw")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Simulated device behaviours.
const (
	simOK       = "ok"
	simFail     = "fail"     // fails verifying the bundle
	simRollback = "rollback" // installs, then rolls back in trial
	simOffline  = "offline"  // the hub cannot reach it
)

// simDevice is a device of the simulated fleet: its own MQTT connection,
// a real transfer.Receiver downloading over the broker, and fwstatus
// reports like firmware/device's.
type simDevice struct {
	id, mode, running string
	conn              paho.Client
	recv              *transfer.Receiver
}

// fleet is the simulated devices and the fake hub in front of them.
type fleet struct {
	t     testing.TB
	url   string
	hub   *hubclienttest.Hub
	devs  map[string]*simDevice
	order []string
	ctx   context.Context
	wg    sync.WaitGroup

	mu       sync.Mutex
	commands []string        // devices sent "update", in order
	finished map[string]bool // devices that reported a final state
	early    []string        // devices started before the first group finished
	first    int             // size of the first group, for the staging check
	onBlock  func()          // called on every block a device receives
}

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// newFleet starts a broker, a fake hub and n devices running "1.0.0";
// modes gives the behaviour of some devices by index (default ok).
func newFleet(t testing.TB, n int, modes map[int]string) *fleet {
	t.Helper()
	url := mqtttest.Embedded(t)
	ctx, cancel := context.WithCancel(context.Background())
	fl := &fleet{t: t, url: url, hub: hubclienttest.New(t, url), devs: map[string]*simDevice{}, ctx: ctx, finished: map[string]bool{}}
	t.Cleanup(func() { cancel(); fl.wg.Wait() })
	var infos []contract.DeviceInfo
	for i := range n {
		d := &simDevice{id: fmt.Sprintf("mb-%04d", i), mode: modes[i], running: "1.0.0"}
		if d.mode == "" {
			d.mode = simOK
		}
		fl.devs[d.id] = d
		fl.order = append(fl.order, d.id)
		infos = append(infos, contract.DeviceInfo{Device: d.id, Kind: "sensor", Online: true, Firmware: d.running,
			Location: contract.Location{Community: "幸福里", Grid: fmt.Sprintf("g%d", i%2+1)}})
		fl.connect(d)
	}
	infos = append(infos, contract.DeviceInfo{Device: "kiosk-01", Kind: "kiosk", Firmware: "1.0.0",
		Location: contract.Location{Community: "幸福里", Grid: "g1"}})
	fl.hub.Reply(contract.OpDevices, infos)
	fl.hub.Handle(contract.OpDeviceCmd, fl.command)
	return fl
}

func (fl *fleet) connect(d *simDevice) {
	t := fl.t
	c := mqtttest.Client(t, fl.url, "sim-"+d.id)
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
	blocks := c.Subscribe(contract.DeviceTopic(d.id, "fw"), 1)
	fl.wg.Add(1)
	go func() {
		defer fl.wg.Done()
		for {
			select {
			case <-fl.ctx.Done():
				return
			case m := <-blocks:
				d.recv.HandleBlock(m.Payload)
				fl.mu.Lock()
				f := fl.onBlock
				fl.mu.Unlock()
				if f != nil {
					f()
				}
			}
		}
	}()
}

// status publishes a device's FirmwareStatus, retained, as a device does.
func (fl *fleet) status(d *simDevice, st contract.FirmwareStatus) {
	st.Device, st.Running = d.id, d.running
	b := contract.MustEncode(&st)
	ctx, cancel := context.WithTimeout(fl.ctx, 10*time.Second)
	defer cancel()
	_ = mqtttest.Wait(ctx, d.conn.Publish(contract.DeviceTopic(d.id, "fwstatus"), 1, true, b))
	if st.State == contract.FwCommitted || st.State == contract.FwFailed || st.State == contract.FwRolledBack {
		fl.mu.Lock()
		fl.finished[d.id] = true
		fl.mu.Unlock()
	}
}

// command is the fake hub's device.cmd: it hands the offer to the device.
func (fl *fleet) command(r contract.Request) (any, error) {
	d := fl.devs[r.Args["device"]]
	if d == nil {
		return nil, fmt.Errorf("no device %q", r.Args["device"])
	}
	if r.Args["name"] != contract.CmdUpdate {
		return nil, fmt.Errorf("unexpected command %q", r.Args["name"])
	}
	fl.mu.Lock()
	fl.commands = append(fl.commands, d.id)
	if fl.first > 0 && len(fl.commands) > fl.first {
		for _, id := range fl.commands[:fl.first] {
			if !fl.finished[id] {
				fl.early = append(fl.early, d.id)
				break
			}
		}
	}
	fl.mu.Unlock()
	if d.mode == simOffline {
		return nil, fmt.Errorf("device %s is offline", d.id)
	}
	o, err := transfer.OfferFromArgs(r.Args)
	if err != nil {
		return contract.CommandAck{Device: d.id, Error: err.Error()}, nil
	}
	fl.wg.Add(1)
	go func() {
		defer fl.wg.Done()
		fl.update(d, o)
	}()
	return contract.CommandAck{ID: "c", Device: d.id, OK: true}, nil
}

// update downloads and "installs" o the way the device's mode says.
func (fl *fleet) update(d *simDevice, o transfer.Offer) {
	if err := d.recv.Offer(o); err != nil {
		fl.status(d, contract.FirmwareStatus{Transfer: o.Transfer, Version: o.Version, State: contract.FwFailed, Error: err.Error()})
		return
	}
	_, _, err := d.recv.Run(fl.ctx)
	if fl.ctx.Err() != nil {
		return
	}
	d.recv.Finish()
	st := contract.FirmwareStatus{Transfer: o.Transfer, Version: o.Version}
	send := func(state, msg string) {
		st.State, st.Error = state, msg
		fl.status(d, st)
	}
	switch {
	case err != nil:
		return // the receiver reported failed
	case d.mode == simFail:
		send(contract.FwFailed, "bundle: bad signature — possible attack")
		return
	}
	send(contract.FwInstalling, "")
	d.running = o.Version
	send(contract.FwTrial, "")
	if d.mode == simRollback {
		d.running = "1.0.0"
		send(contract.FwRolledBack, "no broker connection in trial")
		return
	}
	send(contract.FwCommitted, "")
}

func (fl *fleet) commanded() []string {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	return append([]string(nil), fl.commands...)
}

// flashRunCtx runs gridctl with ctx as the maintenance user.
func flashRunCtx(ctx context.Context, url string, args ...string) result {
	var out, errb bytes.Buffer
	code := run(ctx, args, testSystem(url, &out, &errb))
	return result{out.String(), errb.String(), code}
}

func flashRun2(t testing.TB, url string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return flashRunCtx(ctx, url, args...)
}

// reportLines returns the report table's rows by device.
func reportLines(out string) map[string]string {
	rows := map[string]string{}
	i := strings.LastIndex(out, "DEVICE ")
	if i < 0 {
		return rows
	}
	for _, l := range strings.Split(out[i:], "\n")[1:] {
		if f := strings.Fields(l); len(f) > 0 {
			rows[f[0]] = l
		}
	}
	return rows
}

// TestFlashCampaign50: a staged campaign to 50 simulated devices behind
// a fake hub, three of which fail or roll back, completes with their
// reasons in the report and the kiosk left out. The clean campaign through
// the real hub is TestFlashCampaign50ThroughHub.
func TestFlashCampaign50(t *testing.T) {
	modes := map[int]string{17: simRollback, 33: simFail, 41: simRollback}
	fl := newFleet(t, 50, modes)
	fl.first = 5
	bundlePath := makeBundle(t, "2.0.0", 20<<10)
	r := flashRun2(t, fl.url, "flash", "--bundle", bundlePath, "--all", "--yes", "--block-size", "4096", "--parallel", "10")
	if r.code != 1 || !strings.Contains(r.stderr, "3 of 50 devices did not update") {
		t.Fatalf("exit %d, stderr %q; want 1 and 3 of 50 failed\n%s", r.code, r.stderr, r.stdout)
	}
	if !strings.Contains(r.stdout, "left out kiosk-01: a kiosk; the bundle is for sensor devices") {
		t.Errorf("the kiosk was not left out:\n%s", r.stdout)
	}
	if got := len(fl.commanded()); got != 50 {
		t.Errorf("%d update commands, want 50", got)
	}
	if len(fl.early) > 0 {
		t.Errorf("devices %v started before the first group finished", fl.early)
	}
	rows := reportLines(r.stdout)
	for i, id := range fl.order {
		want := "committed"
		switch modes[i] {
		case simRollback:
			want = "rolled-back  no broker connection in trial"
		case simFail:
			want = "failed       bundle: bad signature — possible attack"
		}
		row := rows[id]
		if !strings.Contains(row, want) {
			t.Errorf("report row of %s = %q, want %q", id, row, want)
		}
		if modes[i] == "" && !strings.Contains(row, "1.0.0 → 2.0.0") {
			t.Errorf("report row of %s = %q, want 1.0.0 → 2.0.0", id, row)
		}
	}
	if !strings.Contains(r.stdout, "2.0.0 in ") || !strings.Contains(r.stdout, "47 committed, 1 failed, 2 rolled-back") {
		t.Errorf("no summary line:\n%s", r.stdout)
	}
}

func TestFlashPauseOnThreshold(t *testing.T) {
	fl := newFleet(t, 20, map[int]string{0: simRollback, 1: simFail})
	bundlePath := makeBundle(t, "2.0.0", 8<<10)
	r := flashRun2(t, fl.url, "flash", "--bundle", bundlePath, "--grid", "g1", "--first", "3", "--yes")
	// grid g1: devices 0, 2, 4, … (10 of them); first group 0, 2, 4 has
	// one failure in 3 (33 % > 20 %).
	if r.code != 1 || !strings.Contains(r.stderr, "campaign paused: 1 of 3 finished devices failed (33 %, threshold 20 %); 7 devices not started") {
		t.Fatalf("exit %d, stderr %q\n%s", r.code, r.stderr, r.stdout)
	}
	if got := fl.commanded(); len(got) != 3 {
		t.Errorf("commands sent to %v, want only the first group of 3", got)
	}
	if rows := reportLines(r.stdout); !strings.Contains(rows["mb-0006"], "pending") || !strings.Contains(rows["mb-0000"], "rolled-back") {
		t.Errorf("report:\n%s", r.stdout)
	}
}

func TestFlashCancel(t *testing.T) {
	fl := newFleet(t, 6, nil)
	bundlePath := makeBundle(t, "2.0.0", 64<<10)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var once sync.Once
	fl.onBlock = func() { once.Do(cancel) } // Ctrl-C as soon as a block arrived
	r := flashRunCtx(ctx, fl.url, "flash", "--bundle", bundlePath, "--device", "mb-0000,mb-0001", "--device", "mb-0002",
		"--first", "2", "--block-size", "1024", "--yes")
	if r.code != 1 || r.stderr != "gridctl: flash: campaign cancelled\n" {
		t.Fatalf("exit %d, stderr %q\n%s", r.code, r.stderr, r.stdout)
	}
	rows := reportLines(r.stdout)
	if f := strings.Fields(rows["mb-0002"]); len(f) < 7 || f[4] != "cancelled" || f[5] != "not" {
		t.Errorf("mb-0002: %q\n%s", rows["mb-0002"], r.stdout)
	}
	if !strings.Contains(rows["mb-0000"], "cancelled") || !strings.Contains(rows["mb-0000"], "cancelled while") {
		t.Errorf("mb-0000: %q", rows["mb-0000"])
	}
	if got := fl.commanded(); len(got) != 2 {
		t.Errorf("commands sent to %v, want the first group of 2", got)
	}
}

func TestFlashJSONReport(t *testing.T) {
	fl := newFleet(t, 4, map[int]string{3: simOffline})
	bundlePath := makeBundle(t, "2.0.0", 8<<10)
	r := flashRun2(t, fl.url, "--json", "flash", "--bundle", bundlePath, "--group", "幸福里", "--failure-threshold", "1", "--yes")
	if r.code != 1 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	var rep campaign.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("not a JSON report: %v\n%s", err, r.stdout)
	}
	if rep.Version != "2.0.0" || rep.Counts[campaign.Committed] != 3 || rep.Counts[campaign.Failed] != 1 || len(rep.Devices) != 4 {
		t.Errorf("report: %+v", rep)
	}
	if d := rep.Devices[3]; d.ID != "mb-0003" || d.Reason != "hub refused the update: device mb-0003 is offline" {
		t.Errorf("mb-0003: %+v", d)
	}
	if d := rep.Devices[0]; d.From != "1.0.0" || d.Running != "2.0.0" || d.Started.IsZero() {
		t.Errorf("mb-0000: %+v", d)
	}
}

func TestFlashPlanOnly(t *testing.T) {
	fl := newFleet(t, 3, nil)
	bundlePath := makeBundle(t, "2.0.0", 4<<10)
	groups := filepath.Join(t.TempDir(), "groups")
	os.WriteFile(groups, []byte("# test groups\nbuilding3: mb-0000, mb-0002 kiosk-01\n"), 0o644)
	r := flashRun2(t, fl.url, "flash", "--bundle", bundlePath, "--group", "building3", "--groups", groups)
	want := "bundle  linli 2.0.0  target linux/arm/7  security 2  (signature not checked here (use --roots); every device checks it)\n" +
		"devices 2: first group 1, then the rest; at most 16 at once; pause above 20 % failures\n" +
		"left out kiosk-01: a kiosk; the bundle is for sensor devices\n" +
		"nothing flashed: add --yes to start the campaign\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("exit %d, stderr %q, stdout:\n%s\nwant:\n%s", r.code, r.stderr, r.stdout, want)
	}
	if got := fl.commanded(); len(got) != 0 {
		t.Errorf("commands sent without --yes: %v", got)
	}
}

func TestFlashUsage(t *testing.T) {
	fl := newFleet(t, 1, nil)
	bundlePath := makeBundle(t, "2.0.0", 1<<10)
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"flash", "--all"}, 2, "--bundle FILE is required"},
		{[]string{"flash", "--bundle", bundlePath}, 2, "choose the devices with one of"},
		{[]string{"flash", "--bundle", bundlePath, "--all", "--grid", "g1"}, 2, "choose the devices with one of"},
		{[]string{"flash", "--bundle", bundlePath, "--device", "a/b"}, 2, `"a/b" is not a device id`},
		{[]string{"flash", "--bundle", bundlePath, "--grid", "g9"}, 1, "no device to flash"},
		{[]string{"flash", "--bundle", bundlePath, "--local"}, 2, "--local needs --device-url"},
		{[]string{"flash", "--bundle", bundlePath, "--local", "--usb", "/tmp"}, 2, "exclude each other"},
		{[]string{"flash", "--bundle", "/nonexistent.lfw", "--all"}, 1, "no such file"},
		{[]string{"flash", "--bundle", bundlePath, "--device", "mb-0000", "--roots", bundlePath}, 1, "bundle:"},
	}
	for _, tt := range tests {
		r := flashRun2(t, fl.url, tt.args...)
		if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d, %q", tt.args, r.code, r.stderr, tt.code, tt.want)
		}
	}
}

func TestFlashRoots(t *testing.T) {
	fl := newFleet(t, 1, nil)
	dir := t.TempDir()
	privPEM, pubPEM, _ := bundle.GenerateKey()
	priv, _ := bundle.ParsePrivateKey(privPEM)
	os.WriteFile(filepath.Join(dir, "sensord"), []byte("binary"), 0o755)
	b, err := bundle.Bytes(bundle.Manifest{Product: "linli", Version: "3.1", Security: 3, Target: "linux/arm64"},
		[]bundle.Source{{Name: "sensord", Path: filepath.Join(dir, "sensord")}}, priv)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "b.lfw"), b, 0o644)
	os.WriteFile(filepath.Join(dir, "roots.pub"), pubPEM, 0o644)
	r := flashRun2(t, fl.url, "flash", "--bundle", filepath.Join(dir, "b.lfw"), "--roots", filepath.Join(dir, "roots.pub"), "--all")
	if r.code != 0 || !strings.Contains(r.stdout, "bundle  linli 3.1  target linux/arm64  security 3  (signature OK)") {
		t.Errorf("exit %d, stderr %q, stdout:\n%s", r.code, r.stderr, r.stdout)
	}
}

func TestFlashUSB(t *testing.T) {
	bundlePath := makeBundle(t, "2.0.0", 4<<10)
	stick := t.TempDir()
	r := gridctl(t, "tcp://127.0.0.1:1", "flash", "--bundle", bundlePath, "--usb", stick)
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	got, err := os.ReadFile(filepath.Join(stick, "linli-update", "sensord-2.0.0.lfw"))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(bundlePath)
	if !bytes.Equal(got, want) {
		t.Error("the bundle on the stick differs from the original")
	}
	readme, err := os.ReadFile(filepath.Join(stick, "linli-update", "README.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"linli-update/sensord-2.0.0.lfw", "linli 2.0.0 (security version 2)", "Target:   linux/arm/7"} {
		if !strings.Contains(string(readme), w) {
			t.Errorf("README.txt lacks %q:\n%s", w, readme)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(stick, "linli-update"))
	if len(entries) != 2 {
		t.Errorf("stick holds %d files, want 2 (no .tmp left)", len(entries))
	}
	if r := gridctl(t, "tcp://127.0.0.1:1", "flash", "--bundle", bundlePath, "--usb", filepath.Join(stick, "nope")); r.code != 1 ||
		!strings.Contains(r.stderr, "is not a folder") {
		t.Errorf("missing stick: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestFlashLocal(t *testing.T) {
	bundlePath := makeBundle(t, "2.0.0", 4<<10)
	want, _ := os.ReadFile(bundlePath)
	refuse := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch {
		case r.Method != http.MethodPost || r.URL.Path != "/update":
			http.Error(w, "not found", http.StatusNotFound)
		case !bytes.Equal(body, want):
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(localAnswer{Error: "body is not the bundle"})
		case refuse:
			w.WriteHeader(http.StatusConflict)
			json.NewEncoder(w).Encode(localAnswer{Error: "bundle: older security version (anti-rollback)"})
		default:
			json.NewEncoder(w).Encode(localAnswer{OK: true, Version: "2.0.0"})
		}
	}))
	defer srv.Close()
	r := gridctl(t, "tcp://127.0.0.1:1", "flash", "--local", "--device-url", srv.URL+"/", "--bundle", bundlePath)
	if r.code != 0 || !strings.HasSuffix(r.stdout, "OK: the device installed 2.0.0\n") {
		t.Errorf("exit %d, stderr %q, stdout %q", r.code, r.stderr, r.stdout)
	}
	refuse = true
	r = gridctl(t, "tcp://127.0.0.1:1", "flash", "--local", "--device-url", srv.URL, "--bundle", bundlePath)
	if want := "gridctl: flash: the device refused the update (409 Conflict): bundle: older security version (anti-rollback)\n"; r.code != 1 || r.stderr != want {
		t.Errorf("exit %d, stderr %q, want %q", r.code, r.stderr, want)
	}
	r = gridctl(t, "tcp://127.0.0.1:1", "--json", "flash", "--local", "--device-url", srv.URL+"/nothing", "--bundle", bundlePath)
	if r.code != 1 || !strings.Contains(r.stderr, "404 Not Found") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestFlashTerminal: on a terminal the progress is a redrawn table with a
// bar per device, followed by the report.
func TestFlashTerminal(t *testing.T) {
	fl := newFleet(t, 3, nil)
	bundlePath := makeBundle(t, "2.0.0", 8<<10)
	var out, errb bytes.Buffer
	sys := testSystem(fl.url, &out, &errb)
	sys.terminal = true
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if code := run(ctx, []string{"flash", "--bundle", bundlePath, "--all", "--yes"}, sys); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	s := out.String()
	last := s[strings.LastIndex(s, "\x1b[H\x1b[2J"):]
	for _, w := range []string{"flashing 2.0.0 to 3 devices", "mb-0002          [########################]  committed", "3 committed"} {
		if !strings.Contains(last, w) {
			t.Errorf("last screen lacks %q:\n%s", w, last)
		}
	}
}
