package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"linli/cmd/internal/bintest"
	"linli/internal/freeport"
	"linli/mqtt/contract"
	"linli/mqtt/hubclient"
	"linli/mqtt/mqtttest"
)

// shardConfig is the configuration of shard name: its hub, one community,
// a grid worker, the subdistrict worker s1 of every shard, and one sensor.
const shardConfig = `{
  "subdistrict": "sd", "shared_broker": true,
  "hub": {"id": "hub-NAME", "password": "hubpw"},
  "communities": [{"id": "NAME", "name": "NAME", "grids": [{"id": "g-NAME", "name": "G", "buildings": ["b1"]}]}],
  "workers": [
    {"id": "w-NAME", "name": "W", "role": "grid-worker", "grid": "g-NAME", "on_duty": true, "password": "pw"},
    {"id": "s1", "name": "Liu", "role": "subdistrict", "on_duty": true, "password": "pw"}
  ],
  "devices": [{"id": "sd-NAME", "kind": "sensor", "password": "pw", "location": {"community": "NAME", "building": "b1", "unit": "1"}}],
  "escalation": {"grid": "1h", "community": "1h"}
}`

// TestShards runs two hub configurations as shards of one mosquitto (its
// users and ACL printed by `gridhub config mosquitto` for both), each
// with its own gridhub and sensord. Each hub raises alerts only for its
// own sensor, with ids that carry its hub id; the subdistrict worker of
// both lists both shards' alerts with `gridctl --hubs 2` and acknowledges
// one of each; a grid worker is answered by its own hub only; the hubs
// log no warning.
func TestShards(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	gridhub := bins.Path(t, "gridhub")
	var cfgs []string
	for _, name := range []string{"east", "west"} {
		path := filepath.Join(dir, name+".json")
		if err := os.WriteFile(path, []byte(strings.ReplaceAll(shardConfig, "NAME", name)), 0o600); err != nil {
			t.Fatal(err)
		}
		cfgs = append(cfgs, path)
	}
	var conf []string
	for _, part := range []string{"passwd", "acl"} {
		out, err := exec.Command(gridhub, "config", "mosquitto", "--config", cfgs[0], "--config", cfgs[1], "--print", part).Output()
		if err != nil {
			t.Fatalf("gridhub config mosquitto --print %s: %v", part, err)
		}
		path := filepath.Join(dir, part)
		if err := os.WriteFile(path, out, 0o600); err != nil {
			t.Fatal(err)
		}
		conf = append(conf, map[string]string{"passwd": "password_file ", "acl": "acl_file "}[part]+path)
	}
	m := mqtttest.Mosquitto(t, &mqtttest.MosquittoOpts{Persistence: true, Config: append(conf, "allow_anonymous false")})

	sensor, err := os.ReadFile("testdata/sensor.json")
	if err != nil {
		t.Fatal(err)
	}
	web, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	var hubs []*proc
	for i, name := range []string{"east", "west"} {
		args := []string{"run", "--config", cfgs[i], "--data", filepath.Join(dir, name), "--broker", m.URL(), "--log-level", "warn", "--hubs", "2"}
		if name == "east" {
			args = append(args, "--http", web)
		}
		h := start(t, "gridhub", []string{"GRIDHUB_BROKER_PASSWORD=hubpw"}, args...)
		hubs = append(hubs, h)
		// Subscribed before its sensor's first alarm, which latches.
		bintest.WaitReady(t, "gridhub "+name, 30*time.Second, h.exited, h.out, func(ctx context.Context) error {
			c, err := hubclient.Dial(ctx, &hubclient.Options{Broker: m.URL(), User: "w-" + name, Password: "pw"})
			if err != nil {
				return err
			}
			defer c.Close()
			cctx, ccancel := context.WithTimeout(ctx, time.Second)
			defer ccancel()
			return c.Call(cctx, contract.OpAlertsList, nil, nil, new([]contract.Alert))
		})
		s := strings.NewReplacer(`"e2e-1"`, `"sd-`+name+`"`, `"east"`, `"`+name+`"`).Replace(string(sensor))
		path := filepath.Join(dir, "sensor-"+name+".json")
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		sd := start(t, "sensord", nil, "run", "--config", path, "--sim", "testdata/alarms.json", "--speed", "20",
			"--exit-at-end=false", "--data", filepath.Join(dir, "sd-"+name), "--broker", m.URL(), "--user", "sd-"+name, "--pass", "pw")
		defer sd.stop()
	}

	gridctl := func(user string, args ...string) (string, error) {
		cmd := exec.Command(bins.Path(t, "gridctl"), append([]string{"--broker", m.URL(), "--user", user, "--pass", "pw", "--timeout", "3s"}, args...)...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		if err != nil {
			err = fmt.Errorf("%w: %s", err, errOut.String())
		}
		return out.String(), err
	}
	var all []contract.Alert
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := gridctl("s1", "--hubs", "2", "--json", "alerts", "--all")
		all = nil
		if err == nil {
			err = json.Unmarshal([]byte(out), &all)
		}
		if err == nil && has(all, "sd-east") && has(all, "sd-west") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("s1 never saw alerts of both shards: %v\n%s", err, out)
		}
		time.Sleep(200 * time.Millisecond) // polling other processes
	}
	prefix := map[string]string{"sd-east": "hub-east-A", "sd-west": "hub-west-A"}
	ids := map[string]bool{}
	for _, a := range all {
		if !strings.HasPrefix(a.ID, prefix[a.Device]) {
			t.Errorf("alert %s of %s: want its shard's hub in the id (%s…)", a.ID, a.Device, prefix[a.Device])
		}
		if ids[a.ID] {
			t.Errorf("alert id %s twice in the merged list", a.ID)
		}
		ids[a.ID] = true
	}
	for _, dev := range []string{"sd-east", "sd-west"} {
		id := first(all, dev)
		if out, err := gridctl("s1", "--hubs", "2", "ack", id); err != nil {
			t.Errorf("s1 ack %s: %v\n%s", id, err, out)
		}
	}

	// w-east is a worker of the east shard only: its hub answers, the
	// west hub keeps quiet (a refusal from it would race the answer).
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	w, err := hubclient.Dial(ctx, &hubclient.Options{Broker: m.URL(), User: "w-east", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for range 20 {
		var mine []contract.Alert
		if err := w.Call(ctx, contract.OpAlertsList, map[string]string{"all": "true"}, nil, &mine); err != nil {
			t.Fatalf("w-east's list: %v", err)
		}
		if has(mine, "sd-west") || !has(mine, "sd-east") {
			t.Fatalf("w-east's list holds %v, want sd-east's alerts only", devicesOf(mine))
		}
	}

	// East's web console shows s1 both shards' alerts: east asks west
	// through mosquitto, under the ACL gridhub config printed.
	page := consolePage(t, "http://"+web, "s1", "/alerts")
	for _, dev := range []string{"sd-east", "sd-west"} {
		if id := first(all, dev); !strings.Contains(page, `data-alert="`+id+`"`) {
			t.Errorf("east's console lacks %s's alert %s", dev, id)
		}
	}
	if strings.Contains(page, `role="status"`) {
		t.Errorf("east's console says a hub did not answer")
	}

	// The west hub stops: s1 still sees the east shard's alerts, told
	// that the list is not all (exit status 1).
	hubs[1].stop()
	out, err := gridctl("s1", "--hubs", "2", "--json", "alerts", "--all")
	var partial []contract.Alert
	if jerr := json.Unmarshal([]byte(out), &partial); jerr != nil || !has(partial, "sd-east") || has(partial, "sd-west") {
		t.Errorf("s1's list with the west hub down: %v %s", jerr, out)
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(err.Error(), "warning: only hub-east answered of 2 hubs") {
		t.Errorf("gridctl with the west hub down: %v, want exit 1 and a warning naming hub-east", err)
	}

	for _, h := range hubs {
		h.stop()
		if bad := regexp.MustCompile(`level=(WARN|ERROR).*`).FindAllString(h.out.String(), -1); len(bad) > 0 {
			t.Errorf("a shard's hub logged:\n%s", strings.Join(bad, "\n"))
		}
	}
	t.Logf("%d alerts across the two shards", len(all))
}

// consolePage logs user in at the web console at base and returns path.
func consolePage(t *testing.T, base, user, path string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	get := func(p string) string {
		r, err := c.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		if r.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s\n%s", p, r.Status, b)
		}
		return string(b)
	}
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(get("/login"))
	if m == nil {
		t.Fatal("login page without a csrf token")
	}
	r, err := c.PostForm(base+"/login", url.Values{"csrf": {m[1]}, "user": {user}, "password": {"pw"}})
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	return get(path)
}

func has(as []contract.Alert, dev string) bool { return first(as, dev) != "" }

// first returns the id of dev's first alert in as, or "".
func first(as []contract.Alert, dev string) string {
	for _, a := range as {
		if a.Device == dev {
			return a.ID
		}
	}
	return ""
}

func devicesOf(as []contract.Alert) []string {
	var ds []string
	for _, a := range as {
		ds = append(ds, a.Device)
	}
	return ds
}
