package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"linli/cmd/internal/bintest"
	"linli/firmware/bundle"
	"linli/firmware/campaign"
	"linli/firmware/updater"
	"linli/mqtt/contract"
)

// TestFlashThroughHub is the maintenance worker's whole job against the
// real binaries: gridhub with its embedded broker and the example
// community's maintenance worker m-zhou, three sensord meter boxes (built
// for this machine, amd64 in CI) each in a temporary update root with v1
// installed and committed, and gridctl as the worker runs it.
//
//   - A staged campaign (--first 1) of v2 through the hub: every device is
//     transferred, verified, switched, tried and committed, the rest only
//     after the first group, and the hub then lists v2 for each.
//   - What can go wrong, each ending with every device on a good version
//     and the reason in the report: a bundle signed by an unknown key
//     (refused, "possible attack"); an older security version and a
//     bundle for another target (refused); a v3 whose self-test fails
//     (rolled back by the device, with the reason), which pauses the
//     campaign with the other devices not started.
//   - On site: gridctl flash --local pushes to one device's LAN endpoint;
//     a forged bundle is refused with the reason, v4 is installed, runs on
//     trial and is committed.
func TestFlashThroughHub(t *testing.T) {
	if testing.Short() {
		t.Skip("builds gridhub and three versions of sensord and runs them")
	}
	t0 := time.Now()
	phase := func(what string) { t.Logf("%6s: %s", time.Since(t0).Round(100*time.Millisecond), what) }
	work := t.TempDir()
	e := &e2e{t: t, work: work}

	// Binaries: gridhub, and sensord v1 to v4 (v3 fails its self-test).
	var wg sync.WaitGroup
	bins := map[string]string{}
	var mu sync.Mutex
	builds := []struct{ name, pkg, version, extra string }{
		{"gridhub", "linli/cmd/gridhub", "", ""},
		{"sensord-v1", "linli/cmd/sensord", "v1", ""},
		{"sensord-v2", "linli/cmd/sensord", "v2", ""},
		{"sensord-v3", "linli/cmd/sensord", "v3", "main.failSelfTest=drill"},
		{"sensord-v4", "linli/cmd/sensord", "v4", ""},
	}
	for _, b := range builds {
		wg.Go(func() {
			p := e2eBuild(t, work, b.name, b.pkg, b.version, b.extra)
			mu.Lock()
			bins[b.name] = p
			mu.Unlock()
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	phase("built")

	// Keys and bundles, made with gridctl as a release manager would.
	keys := filepath.Join(work, "keys")
	e.ok("keys", "generate", "--out", keys)
	e.ok("keys", "generate", "--out", keys, "--name", "stranger")
	key, roots := filepath.Join(keys, "linli-release.key"), filepath.Join(keys, "linli-release.pub")
	target := updater.DefaultTarget()
	mk := func(version string, security int, key, bin string) string {
		out := filepath.Join(work, fmt.Sprintf("linli-%s-s%d-%s.bundle", version, security, filepath.Base(key)))
		e.ok("bundle", "create", "--key", key, "--out", out, "--version", version, "--security", fmt.Sprint(security),
			"--target", target, "--epoch", "1800000000", "sensord="+bin+":755")
		return out
	}
	v1b := mk("v1", 1, key, bins["sensord-v1"])
	v2b := mk("v2", 2, key, bins["sensord-v2"])
	v3b := mk("v3", 3, key, bins["sensord-v3"])
	v4b := mk("v4", 3, key, bins["sensord-v4"])
	// The refusals happen before the program is looked at: a small stand-in
	// keeps them quick.
	small := filepath.Join(work, "stand-in")
	rnd := make([]byte, 64<<10)
	rand.Read(rnd)
	if err := os.WriteFile(small, rnd, 0o755); err != nil {
		t.Fatal(err)
	}
	forged := mk("v9-forged", 3, filepath.Join(keys, "stranger.key"), small)
	older := mk("v9-older", 1, key, small)
	otherArch := filepath.Join(work, "linli-v9-arm.bundle")
	e.ok("bundle", "create", "--key", key, "--out", otherArch, "--version", "v9-arm", "--security", "3",
		"--target", "linux/arm/7", "sensord="+small+":755")
	phase("bundles signed")

	// The hub: the example community, with only the three meter boxes
	// that run here as its devices.
	e.startHub(bins["gridhub"])
	phase("hub up")

	// Three meter boxes, v1 installed and committed; mb-0003 also serves
	// on-site pushes.
	lan := bintest.FreeAddr(t)
	for i, id := range []string{"mb-0001", "mb-0002", "mb-0003"} {
		var extra []string
		if i == 2 {
			extra = []string{"--update-listen", lan}
		}
		e.startSensor(id, v1b, roots, extra...)
	}
	e.waitFirmware("v1", "mb-0001", "mb-0002", "mb-0003")
	phase("3 sensors run v1")

	// 1. The staged campaign: v2 to every device, the first group of one
	// before the rest.
	rep, r := e.flash("--bundle", v2b, "--all", "--first", "1", "--yes")
	if r.code != 0 {
		t.Fatalf("v2 campaign: exit %d, stderr %q\n%s", r.code, r.stderr, r.stdout)
	}
	if rep.Counts[campaign.Committed] != 3 || len(rep.Devices) != 3 {
		t.Fatalf("v2 campaign: counts %v, want 3 committed\n%s", rep.Counts, r.stdout)
	}
	var first campaign.DeviceReport
	for _, d := range rep.Devices {
		if d.State != campaign.Committed || d.Running != "v2" || d.From != "v1" {
			t.Errorf("%s: %s %s → %s (%s), want committed v1 → v2", d.ID, d.State, d.From, d.Running, d.Reason)
		}
		if d.Stage == 1 {
			first = d
		}
	}
	for _, d := range rep.Devices {
		if d.Stage != 1 && (first.ID == "" || d.Started.Before(first.Finished)) {
			t.Errorf("%s (stage %d) started %s, before the first group (%q) finished %s",
				d.ID, d.Stage, d.Started.Format(time.StampMilli), first.ID, first.Finished.Format(time.StampMilli))
		}
	}
	e.waitFirmware("v2", "mb-0001", "mb-0002", "mb-0003")
	phase("v2 committed on 3 devices; the hub lists v2")

	// 2. Refusals through the hub: the device keeps running v2 and the
	// report says why, in the table on the worker's screen and in JSON.
	r = e.gridctl("flash", "--bundle", forged, "--device", "mb-0001", "--yes")
	rows := reportLines(r.stdout)
	row := rows["mb-0001"]
	if r.code != 1 || !strings.Contains(r.stderr, "1 of 1 devices did not update") ||
		!strings.Contains(row, "v2 → v2") || !strings.Contains(row, "failed") ||
		!strings.Contains(rows["mb-0001:"], "signed by an unknown key — possible attack") {
		t.Errorf("unknown key: exit %d, stderr %q, report row %q, reason %q; want 1, the device not updated, still v2, failed: possible attack\n%s",
			r.code, r.stderr, row, rows["mb-0001:"], r.stdout)
	}
	for _, c := range []struct{ name, bundle, want string }{
		{"unknown key", forged, "unknown key — possible attack"},
		{"older security version", older, "older security version"},
		{"another target", otherArch, "another target"},
	} {
		rep, r := e.flash("--bundle", c.bundle, "--device", "mb-0001", "--yes")
		if r.code != 1 || !strings.Contains(r.stderr, "1 of 1 devices did not update") {
			t.Errorf("%s: exit %d, stderr %q; want 1 and the device not updated", c.name, r.code, r.stderr)
		}
		if len(rep.Devices) != 1 {
			t.Fatalf("%s: report %+v", c.name, rep)
		}
		d := rep.Devices[0]
		if d.State != campaign.Failed || !strings.Contains(d.Reason, c.want) || d.Running != "v2" {
			t.Errorf("%s: %s %s, running %q; want failed with %q, running v2", c.name, d.State, d.Reason, d.Running, c.want)
		}
	}
	e.waitFirmware("v2", "mb-0001")
	phase("forged, older and other-target bundles refused")

	// 3. v3 fails its self-test on the first device: rolled back to v2
	// with the reason; the campaign pauses with the other two not started.
	rep, r = e.flash("--bundle", v3b, "--all", "--first", "1", "--yes")
	if r.code != 1 || !strings.Contains(r.stderr, "campaign paused") || !strings.Contains(r.stderr, "2 devices not started") {
		t.Errorf("v3 campaign: exit %d, stderr %q; want 1, paused, 2 devices not started", r.code, r.stderr)
	}
	if rep.Paused == "" || rep.Counts[campaign.RolledBack] != 1 || rep.Counts[campaign.Pending] != 2 {
		t.Errorf("v3 campaign: paused %q, counts %v; want paused, 1 rolled-back, 2 pending", rep.Paused, rep.Counts)
	}
	for _, d := range rep.Devices {
		switch d.Stage {
		case 1:
			if d.State != campaign.RolledBack || !strings.Contains(d.Reason, "self-test failed: drill") || d.Running != "v2" {
				t.Errorf("%s: %s (%s) running %q; want rolled-back for the self-test, running v2", d.ID, d.State, d.Reason, d.Running)
			}
		default:
			if d.State != campaign.Pending || !d.Started.IsZero() {
				t.Errorf("%s: %s, started %v; want pending, not started", d.ID, d.State, d.Started)
			}
		}
	}
	e.waitFirmware("v2", "mb-0001", "mb-0002", "mb-0003")
	phase("v3 rolled back; campaign paused")

	// 4. On site: push to mb-0003's LAN endpoint, without the hub.
	url := "http://" + lan
	r = e.gridctl("flash", "--local", "--device-url", url, "--bundle", forged)
	if r.code != 1 || !strings.Contains(r.stderr, "refused the update") || !strings.Contains(r.stderr, "possible attack") {
		t.Errorf("on-site forged push: exit %d, stderr %q; want refused, possible attack", r.code, r.stderr)
	}
	r = e.gridctl("flash", "--local", "--device-url", url, "--bundle", v4b)
	if r.code != 0 || !strings.Contains(r.stdout, "OK: the device installed v4") {
		t.Fatalf("on-site push of v4: exit %d, stderr %q\n%s", r.code, r.stderr, r.stdout)
	}
	st := e.waitLAN(url, contract.FwCommitted)
	if st.Running != "v4" || st.Version != "v4" {
		t.Errorf("on-site: status %+v, want v4 committed", st)
	}
	e.waitFirmware("v4", "mb-0003")
	e.waitFirmware("v2", "mb-0001", "mb-0002")
	phase("v4 pushed on site and committed")
}

// e2e holds the processes of TestFlashThroughHub.
type e2e struct {
	t      *testing.T
	work   string
	broker string // tcp://ADDR of the hub's embedded broker
	hubLog *bintest.Buffer
}

// e2eBuild builds pkg into dir/name, with version and extra -X settings.
func e2eBuild(t *testing.T, dir, name, pkg, version, extra string) string {
	out := filepath.Join(dir, name)
	if err := bintest.GoBuild(nil, "-trimpath", "-ldflags", bintest.Ldflags(version, extra), "-o", out, pkg); err != nil {
		t.Error(err)
	}
	return out
}

// start starts a process that is stopped (SIGTERM, then waited for) at the
// end of the test; its output is logged when the test failed.
func (e *e2e) start(label, bin string, args ...string) *bintest.Buffer {
	t := e.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Cancel = func() error { return cmd.Process.Kill() }
	out := &bintest.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		cancel()
		if t.Failed() {
			t.Logf("--- %s output:\n%s", label, out.String())
		}
	})
	return out
}

// startHub starts gridhub with the example configuration cut down to
// mb-0001..3 and waits until its broker listens.
func (e *e2e) startHub(bin string) {
	t := e.t
	raw, err := exec.Command(bin, "config", "example").Output()
	if err != nil {
		t.Fatalf("gridhub config example: %v", err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	var devs []any
	for _, d := range cfg["devices"].([]any) {
		if id := d.(map[string]any)["id"].(string); slices.Contains([]string{"mb-0001", "mb-0002", "mb-0003"}, id) {
			devs = append(devs, d)
		}
	}
	cfg["devices"] = devs
	maint := false
	for _, w := range cfg["workers"].([]any) {
		w := w.(map[string]any)
		maint = maint || w["id"] == "m-zhou" && w["role"] == "maintenance"
	}
	if !maint {
		t.Fatal("the example configuration has no maintenance worker m-zhou")
	}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	path := filepath.Join(e.work, "hub.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	addr := bintest.FreeAddr(t)
	e.broker = "tcp://" + addr
	e.hubLog = e.start("gridhub", bin, "run", "--config", path, "--data", filepath.Join(e.work, "hub"), "--listen", addr)
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gridhub does not listen on %s: %v\n%s", addr, err, e.hubLog.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startSensor lays out an update root for id with v1Bundle installed and
// committed, and starts ROOT/current/sensord on the simulator, connected
// to the hub as id.
func (e *e2e) startSensor(id, v1Bundle, roots string, extra ...string) {
	t := e.t
	dir := filepath.Join(e.work, id)
	root := filepath.Join(dir, "opt")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	keys, err := bundle.LoadPublicKeys(roots)
	if err != nil {
		t.Fatal(err)
	}
	u, err := updater.Open(&updater.Options{Root: root, Roots: keys})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Install(v1Bundle); err != nil {
		t.Fatal(err)
	}
	if err := u.Commit(); err != nil {
		t.Fatal(err)
	}
	u.Close()

	// The built-in meter box with this device's id and place, as
	// cmd/community does.
	raw, err := os.ReadFile(filepath.Join("..", "sensord", "testdata", "meterbox.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	n := id[len(id)-1] - '0'
	cfg["device"] = id
	cfg["location"] = map[string]string{"community": "east", "building": fmt.Sprintf("b%d", n), "unit": "1"}
	b, _ := json.Marshal(cfg)
	cfgPath := filepath.Join(dir, "sensord.json")
	if err := os.WriteFile(cfgPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"run", "--config", cfgPath, "--sim", "normal-day", "--speed", "20", "--exit-at-end=false",
		"--data", filepath.Join(dir, "data"), "--broker", e.broker, "--user", id, "--pass", "mb-dev",
		"--update-root", root, "--root-keys", roots, "--usb-dirs", "", "--trial-deadline", "40s"}, extra...)
	e.start(id, filepath.Join(root, "current", "sensord"), args...)
}

// gridctl runs gridctl in-process as the maintenance worker m-zhou.
func (e *e2e) gridctl(args ...string) result {
	env := map[string]string{"LINLI_BROKER": e.broker, "LINLI_USER": "m-zhou", "LINLI_PASS": "zhou-dev"}
	var out, errb bytes.Buffer
	sys := &system{stdout: &out, stderr: &errb, getenv: func(k string) string { return env[k] }, now: time.Now, loc: time.UTC}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	code := run(ctx, args, sys)
	return result{out.String(), errb.String(), code}
}

// ok runs gridctl and fails the test unless it exits 0.
func (e *e2e) ok(args ...string) string {
	e.t.Helper()
	r := e.gridctl(args...)
	if r.code != 0 {
		e.t.Fatalf("gridctl %s: exit %d: %s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

// flash runs gridctl --json flash with args and decodes its report.
func (e *e2e) flash(args ...string) (campaign.Report, result) {
	e.t.Helper()
	r := e.gridctl(append([]string{"--json", "flash"}, args...)...)
	var rep campaign.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		e.t.Fatalf("flash %s: exit %d, stderr %q; report: %v\n%s", strings.Join(args, " "), r.code, r.stderr, err, r.stdout)
	}
	return rep, r
}

// waitFirmware waits until the hub lists every one of ids online with
// firmware version.
func (e *e2e) waitFirmware(version string, ids ...string) {
	t := e.t
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for {
		r := e.gridctl("--json", "devices")
		var list []contract.DeviceInfo
		if r.code == 0 && json.Unmarshal([]byte(r.stdout), &list) == nil {
			good := 0
			var got []string
			for _, d := range list {
				got = append(got, fmt.Sprintf("%s %s online=%v", d.Device, d.Firmware, d.Online))
				if slices.Contains(ids, d.Device) && d.Online && d.Firmware == version {
					good++
				}
			}
			if good == len(ids) {
				return
			}
			last = strings.Join(got, "; ")
		} else {
			last = fmt.Sprintf("exit %d: %s", r.code, r.stderr)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hub does not list %v online with %s: %s", ids, version, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitLAN polls a device's GET /status until its firmware state is state.
func (e *e2e) waitLAN(url, state string) contract.FirmwareStatus {
	t := e.t
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var st contract.FirmwareStatus
	var last string
	for time.Now().Before(deadline) {
		resp, err := http.Get(url + "/status")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
			if err == nil && st.State == state {
				return st
			}
			last = fmt.Sprintf("%+v %v", st, err)
		} else {
			last = err.Error() // restarting
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("the device's LAN status is not %s: %s", state, last)
	return st
}
