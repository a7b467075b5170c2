package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"linli/mqtt/contract"
	"linli/mqtt/hubclient/hubclienttest"
	"linli/mqtt/mqtttest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.txt from the output")

// now is the fixed "current time" of the tests.
var now = time.Date(2026, 11, 27, 8, 35, 0, 0, time.UTC)

var loc = contract.Location{Community: "幸福里", Grid: "g1", Building: "3", Unit: "2", Door: "201"}

var fakeAlerts = []contract.Alert{
	{ID: "a-0002", Device: "sd-0007", Channel: "smoke", Kind: "smoke", State: contract.StateFault,
		Location: contract.Location{Community: "幸福里", Grid: "g2", Building: "5"}, Raised: now.Add(-2 * time.Hour),
		Level: "grid", Assigned: []string{"li"}, AckedBy: "li", AckedAt: now.Add(-90 * time.Minute),
		Description: "探测器无应答"},
	{ID: "a-0001", Device: "mb-0001", Channel: "residual", Kind: "residual", State: contract.StateAlarm,
		Value: 320, Unit: "mA", Location: loc, Raised: now.Add(-3 * time.Minute), Level: "grid",
		Assigned: []string{"wang"}, EscalateAt: now.Add(4*time.Minute + 12*time.Second)},
}

var clearedAlert = contract.Alert{ID: "a-0000", Device: "mb-0002", Channel: "busbar-l1", Kind: "temperature",
	State: contract.StateAlarm, Value: 95.5, Unit: "°C", Location: loc, Raised: now.Add(-26 * time.Hour),
	Level: "community", Assigned: []string{"wang", "zhao"}, AckedBy: "wang", AckedAt: now.Add(-25 * time.Hour),
	Cleared: true, ClearedAt: now.Add(-24 * time.Hour)}

var fakeDevices = []contract.DeviceInfo{
	{Device: "mb-0001", Kind: "sensor", Online: true, LastSeen: now.Add(-10 * time.Second), Session: 7,
		Firmware: "1.4.2", Location: loc,
		Channels: []contract.ChannelState{
			{Channel: "busbar-l1", State: contract.StateNormal, Value: 41},
			{Channel: "residual", State: contract.StateAlarm, Value: 320, Latched: true},
			{Channel: "busbar-l2", State: contract.StateNormal, Value: 40},
		},
		Health: contract.Health{QueueDepth: 2, StorageErrors: 4}, LastEventSeq: 31, MissingEvents: 1},
	{Device: "kiosk-01", Kind: "kiosk", Online: false, LastSeen: now.Add(-26 * time.Hour), Firmware: "0.9.0",
		Location: contract.Location{Community: "幸福里", Building: "门卫室"}},
}

var fakeTicket = contract.TicketStatus{
	Number: "K01-20261127-0042", Category: "漏水", Location: loc, Status: "accepted", Assigned: "wang",
	Due: now.Add(23 * time.Hour),
	Timeline: []contract.TicketStep{
		{Status: "reported", At: now.Add(-time.Hour)},
		{Status: "accepted", By: "wang", Note: "马上到\n(line two)", At: now.Add(-50 * time.Minute)},
	},
}

var fakeTickets = []contract.TicketStatus{
	fakeTicket,
	{Number: "K02-20261125-0003", Category: "路灯", Location: contract.Location{Community: "幸福里", Building: "7"},
		Status: "reported", Due: now.Add(-2 * time.Hour),
		Timeline: []contract.TicketStep{{Status: "reported", At: now.Add(-50 * time.Hour)}}},
}

var fakeWishes = []contract.Wish{
	{ID: "w-0007", Device: "kiosk-01", Text: "想请人帮忙修自行车", Location: contract.Location{Community: "幸福里", Building: "3"},
		ClaimedBy: "李师傅", ClaimedAt: now.Add(-time.Hour), Time: contract.Stamp{At: now.Add(-3 * time.Hour), Synced: true}},
	{ID: "w-0008", Device: "kiosk-01", Text: "Someone to read the newspaper to my grandmother on weekends, please",
		Location: contract.Location{Community: "幸福里", Building: "5"}, Time: contract.Stamp{Uptime: time.Hour}},
}

// newHub starts a broker and a fake hub with the canned answers.
func newHub(t *testing.T) (string, *hubclienttest.Hub) {
	t.Helper()
	url := mqtttest.Embedded(t)
	hub := hubclienttest.New(t, url)
	hub.Handle(contract.OpAlertsList, func(r contract.Request) (any, error) {
		if r.Args["all"] == "true" {
			return append([]contract.Alert{clearedAlert}, fakeAlerts...), nil
		}
		return fakeAlerts, nil
	})
	hub.Handle(contract.OpAlertAck, func(r contract.Request) (any, error) {
		for _, a := range fakeAlerts {
			if a.ID == r.Args["id"] {
				a.AckedBy, a.AckedAt = r.From, now
				return a, nil
			}
		}
		return nil, errors.New(`no alert "` + r.Args["id"] + `"`)
	})
	hub.Reply(contract.OpDevices, fakeDevices)
	hub.Handle(contract.OpDeviceCmd, func(r contract.Request) (any, error) {
		if r.Args["device"] == "mb-0002" {
			return contract.CommandAck{ID: "c", Device: "mb-0002", Error: "channel \"x\" unknown"}, nil
		}
		if r.Args["device"] == "mb-0003" {
			return nil, errors.New("device mb-0003 is offline")
		}
		return contract.CommandAck{ID: "c", Device: r.Args["device"], OK: true}, nil
	})
	hub.Reply(contract.OpTicketsList, fakeTickets)
	hub.Reply(contract.OpTicketGet, fakeTicket)
	for op, status := range map[string]string{
		contract.OpTicketAccept: "accepted", contract.OpTicketStart: "in-progress",
		contract.OpTicketResolve: "resolved", contract.OpTicketReturn: "returned",
		contract.OpTicketDuplicate: "duplicate", contract.OpTicketClose: "closed",
		contract.OpTicketAssign: "submitted",
	} {
		hub.Handle(op, func(r contract.Request) (any, error) {
			ts := fakeTicket
			ts.Number, ts.Status = r.Args["number"], status
			return ts, nil
		})
	}
	hub.Reply(contract.OpWishesList, fakeWishes)
	hub.Handle(contract.OpWishClaim, func(r contract.Request) (any, error) {
		w := fakeWishes[1]
		w.ClaimedBy, w.ClaimedAt = r.Args["by"], now
		return w, nil
	})
	hub.Handle(contract.OpNotice, func(r contract.Request) (any, error) {
		var n contract.Notice
		if err := json.Unmarshal(r.Body, &n); err != nil {
			return nil, err
		}
		return contract.Notices{Community: r.Args["community"], Notices: []contract.Notice{{Title: "old"}, n}}, nil
	})
	return url, hub
}

type result struct {
	stdout, stderr string
	code           int
}

func testSystem(url string, stdout, stderr io.Writer) *system {
	env := map[string]string{"LINLI_BROKER": url, "LINLI_USER": "wang"}
	return &system{
		stdout: stdout, stderr: stderr,
		getenv: func(k string) string { return env[k] },
		now:    func() time.Time { return now },
		loc:    time.UTC,
	}
}

func gridctl(t *testing.T, url string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := run(ctx, args, testSystem(url, &out, &errb))
	return result{out.String(), errb.String(), code}
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("output differs from %s (-want +got):\n%s", path, diff)
	}
}

func TestTables(t *testing.T) {
	url, _ := newHub(t)
	tests := []struct {
		file string
		args []string
	}{
		{"alerts.txt", []string{"alerts"}},
		{"alerts-all.txt", []string{"alerts", "--all"}},
		{"ack.txt", []string{"ack", "a-0001"}},
		{"devices.txt", []string{"devices"}},
		{"reset.txt", []string{"reset", "mb-0001", "--channel", "residual"}},
		{"tickets.txt", []string{"tickets"}},
		{"ticket.txt", []string{"ticket", "K01-20261127-0042"}},
		{"resolve.txt", []string{"resolve", "K01-20261127-0042", "--note", "换了水管"}},
		{"wishes.txt", []string{"wishes"}},
		{"claim.txt", []string{"claim", "w-0008", "--by", "小张"}},
		{"notice.txt", []string{"notice", "--community", "幸福里", "--title", "停水通知", "--body", "明天9点到12点停水", "--expires", "24h"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			r := gridctl(t, url, tt.args...)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("gridctl %s: exit %d, stderr %q; want 0 and nothing", strings.Join(tt.args, " "), r.code, r.stderr)
			}
			golden(t, tt.file, r.stdout)
		})
	}
}

// TestRequests checks what each command asks of the hub.
func TestRequests(t *testing.T) {
	url, hub := newHub(t)
	tests := []struct {
		args []string
		op   string
		want map[string]string
	}{
		{[]string{"alerts", "--all"}, contract.OpAlertsList, map[string]string{"all": "true"}},
		{[]string{"alerts"}, contract.OpAlertsList, nil},
		{[]string{"ack", "a-0001"}, contract.OpAlertAck, map[string]string{"id": "a-0001"}},
		{[]string{"reset", "mb-0001"}, contract.OpDeviceCmd, map[string]string{"device": "mb-0001", "name": "reset"}},
		{[]string{"reset", "--channel", "residual", "mb-0001"}, contract.OpDeviceCmd, map[string]string{"device": "mb-0001", "name": "reset", "channel": "residual"}},
		{[]string{"cmd", "mb-0001", "set-thresholds", "channel=residual", "alarm=300", "pre_alarm=200"}, contract.OpDeviceCmd,
			map[string]string{"device": "mb-0001", "name": "set-thresholds", "channel": "residual", "alarm": "300", "pre_alarm": "200"}},
		{[]string{"tickets", "--status", "reported", "--grid", "g1"}, contract.OpTicketsList, map[string]string{"status": "reported", "grid": "g1"}},
		{[]string{"ticket", "K1"}, contract.OpTicketGet, map[string]string{"number": "K1"}},
		{[]string{"accept", "K1"}, contract.OpTicketAccept, map[string]string{"number": "K1"}},
		{[]string{"start", "K1"}, contract.OpTicketStart, map[string]string{"number": "K1"}},
		{[]string{"resolve", "K1", "--note", "done"}, contract.OpTicketResolve, map[string]string{"number": "K1", "note": "done"}},
		{[]string{"return", "--note", "not ours", "K1"}, contract.OpTicketReturn, map[string]string{"number": "K1", "note": "not ours"}},
		{[]string{"duplicate", "K1", "--of", "K0"}, contract.OpTicketDuplicate, map[string]string{"number": "K1", "of": "K0"}},
		{[]string{"close", "K1"}, contract.OpTicketClose, map[string]string{"number": "K1"}},
		{[]string{"assign", "K1", "--grid", "g2"}, contract.OpTicketAssign, map[string]string{"number": "K1", "grid": "g2"}},
		{[]string{"ticket", "assign", "K1", "--worker", "w-zhao", "--note", "6号楼"}, contract.OpTicketAssign,
			map[string]string{"number": "K1", "worker": "w-zhao", "note": "6号楼"}},
		{[]string{"close", "K1", "--note", "resident moved"}, contract.OpTicketClose, map[string]string{"number": "K1", "note": "resident moved"}},
		{[]string{"wishes", "--community", "幸福里"}, contract.OpWishesList, map[string]string{"community": "幸福里"}},
		{[]string{"claim", "w-1", "--by", "小张"}, contract.OpWishClaim, map[string]string{"id": "w-1", "by": "小张"}},
		{[]string{"notice", "--community", "c1", "--title", "t", "--body", "b", "--level", "typhoon"}, contract.OpNotice, map[string]string{"community": "c1"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			before := len(hub.Requests())
			if r := gridctl(t, url, tt.args...); r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			reqs := hub.Requests()[before:]
			if len(reqs) != 1 {
				t.Fatalf("hub got %d requests, want 1", len(reqs))
			}
			if reqs[0].Op != tt.op || reqs[0].From != "wang" {
				t.Errorf("got op %s from %s, want %s from wang", reqs[0].Op, reqs[0].From, tt.op)
			}
			if diff := cmp.Diff(tt.want, reqs[0].Args); diff != "" {
				t.Errorf("args (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNoticeBody(t *testing.T) {
	url, hub := newHub(t)
	r := gridctl(t, url, "notice", "--community", "c1", "--title", "台风", "--body", "收衣服", "--level", "typhoon", "--expires", "24h")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var n contract.Notice
	if err := json.Unmarshal(hub.Requests()[0].Body, &n); err != nil {
		t.Fatal(err)
	}
	want := contract.Notice{Title: "台风", Body: "收衣服", Level: "typhoon", Published: now, Expires: now.Add(24 * time.Hour)}
	if diff := cmp.Diff(want, n); diff != "" {
		t.Errorf("notice sent (-want +got):\n%s", diff)
	}
}

func TestJSON(t *testing.T) {
	url, _ := newHub(t)
	check := func(args []string, got, want any) {
		t.Helper()
		r := gridctl(t, url, append([]string{"--json"}, args...)...)
		if r.code != 0 {
			t.Fatalf("gridctl %v: exit %d: %s", args, r.code, r.stderr)
		}
		if err := json.Unmarshal([]byte(r.stdout), got); err != nil {
			t.Fatalf("gridctl %v: output is not JSON: %v\n%s", args, err, r.stdout)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("gridctl --json %v (-want +got):\n%s", args, diff)
		}
	}
	check([]string{"alerts"}, &[]contract.Alert{}, &fakeAlerts)
	check([]string{"devices"}, &[]contract.DeviceInfo{}, &fakeDevices)
	check([]string{"tickets"}, &[]contract.TicketStatus{}, &fakeTickets)
	check([]string{"ticket", "K01-20261127-0042"}, &contract.TicketStatus{}, &fakeTicket)
	check([]string{"wishes"}, &[]contract.Wish{}, &fakeWishes)
	// --json after the command works too.
	r := gridctl(t, url, "alerts", "--json")
	var as []contract.Alert
	if err := json.Unmarshal([]byte(r.stdout), &as); err != nil || len(as) != 2 {
		t.Errorf("alerts --json: got %d alerts, err %v; want 2", len(as), err)
	}
}

func TestEmptyJSONIsArray(t *testing.T) {
	url := mqtttest.Embedded(t)
	hub := hubclienttest.New(t, url)
	hub.Reply(contract.OpAlertsList, nil)
	if r := gridctl(t, url, "--json", "alerts"); r.stdout != "[]\n" {
		t.Errorf("got %q, want []", r.stdout)
	}
	if r := gridctl(t, url, "alerts"); r.stdout != "no active alerts\n" {
		t.Errorf("got %q, want \"no active alerts\"", r.stdout)
	}
}

func TestErrors(t *testing.T) {
	url, hub := newHub(t)
	tests := []struct {
		args   []string
		code   int
		stderr string // first line
	}{
		{[]string{"ack", "zz"}, 1, `gridctl: hub refused alert.ack: no alert "zz"`},
		{[]string{"reset", "mb-0002", "--channel", "x"}, 1, `gridctl: mb-0002 refused reset: channel "x" unknown`},
		{[]string{"reset", "mb-0003"}, 1, `gridctl: hub refused device.cmd: device mb-0003 is offline`},
		{[]string{"bogus"}, 2, `gridctl: unknown command "bogus" (run gridctl help)`},
		{[]string{"ack"}, 2, `gridctl: ack: missing ID`},
		{[]string{"ack", "a", "b"}, 2, `gridctl: ack: unexpected argument "b"`},
		{[]string{"resolve", "K1"}, 2, `gridctl: resolve: --note is required`},
		{[]string{"duplicate", "K1"}, 2, `gridctl: duplicate: --of is required`},
		{[]string{"assign", "K1"}, 2, `gridctl: assign: --grid or --worker is required`},
		{[]string{"ticket", "assign", "K1", "--grid", "a/b"}, 2, `gridctl: ticket: --grid "a/b" is not a grid id`},
		{[]string{"ticket", "K1", "--grid", "g2"}, 2, `gridctl: ticket: --grid only with ticket assign`},
		{[]string{"claim", "w-1"}, 2, `gridctl: claim: --by is required`},
		{[]string{"notice", "--community", "c", "--title", "t", "--body", "b", "--level", "loud"}, 2, `gridctl: notice: --level "loud": want info, warning or typhoon`},
		{[]string{"cmd", "mb-0001", "test", "oops"}, 2, `gridctl: cmd: argument "oops" is not KEY=VALUE`},
		{[]string{"reset", "a/b"}, 2, `gridctl: reset: "a/b" is not a device id`},
		{[]string{"alerts", "--bogus"}, 2, `gridctl: alerts: flag provided but not defined: -bogus`},
		{[]string{"--timeout", "0s", "alerts"}, 2, `gridctl: --timeout must be positive`},
		{nil, 2, strings.SplitN(synopsis, "\n", 2)[0]},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			before := len(hub.Requests())
			r := gridctl(t, url, tt.args...)
			first, _, _ := strings.Cut(r.stderr, "\n")
			if r.code != tt.code || first != tt.stderr {
				t.Errorf("got exit %d, stderr %q; want exit %d, %q", r.code, first, tt.code, tt.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout: got %q, want nothing", r.stdout)
			}
			if tt.code == 2 {
				if n := len(hub.Requests()) - before; n != 0 {
					t.Errorf("a usage error sent %d requests to the hub, want 0", n)
				}
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	url := mqtttest.Embedded(t)
	hub := hubclienttest.New(t, url)
	hub.SetSilent(true)
	r := gridctl(t, url, "--timeout", "300ms", "devices")
	if want := "gridctl: hub did not answer within 300ms — is gridhub running?\n"; r.code != 1 || r.stderr != want {
		t.Errorf("got exit %d, stderr %q; want 1, %q", r.code, r.stderr, want)
	}
}

func TestDeviceTimeout(t *testing.T) {
	url := mqtttest.Embedded(t)
	hub := hubclienttest.New(t, url)
	hub.SetSilent(true)
	r := gridctl(t, url, "--timeout", "200ms", "reset", "mb-0001", "--device-timeout", "100ms")
	if want := "gridctl: hub did not answer within 300ms — is gridhub running? (or mb-0001 is not answering)\n"; r.code != 1 || r.stderr != want {
		t.Errorf("got exit %d, stderr %q; want 1, %q", r.code, r.stderr, want)
	}
}

func TestDefaultTimeoutMessage(t *testing.T) {
	if got := (errNoAnswer{5 * time.Second}).Error(); got != "hub did not answer within 5s — is gridhub running?" {
		t.Errorf("got %q", got)
	}
}

func TestNoBroker(t *testing.T) {
	r := gridctl(t, "tcp://127.0.0.1:1", "--timeout", "2s", "alerts")
	if r.code != 1 || !strings.HasPrefix(r.stderr, "gridctl: cannot reach the MQTT broker at tcp://127.0.0.1:1 ") {
		t.Errorf("got exit %d, stderr %q; want 1 and the broker named", r.code, r.stderr)
	}
	if strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("stderr %q is not one line", r.stderr)
	}
}

func TestHelpAndVersion(t *testing.T) {
	r := gridctl(t, "tcp://127.0.0.1:1", "help")
	if r.code != 0 || !strings.Contains(r.stdout, "  watch [--grid G]") || !strings.Contains(r.stdout, "exit status: 0 ok, 1 error, 2 usage") {
		t.Errorf("help: exit %d\n%s", r.code, r.stdout)
	}
	r = gridctl(t, "tcp://127.0.0.1:1", "help", "resolve")
	if r.code != 0 || !strings.Contains(r.stdout, "usage: gridctl resolve NUMBER --note TEXT") || !strings.Contains(r.stdout, "-note") {
		t.Errorf("help resolve: exit %d\n%s", r.code, r.stdout)
	}
	r = gridctl(t, "tcp://127.0.0.1:1", "resolve", "-h")
	if r.code != 0 || !strings.Contains(r.stdout, "usage: gridctl resolve") {
		t.Errorf("resolve -h: exit %d\n%s", r.code, r.stdout)
	}
	r = gridctl(t, "tcp://127.0.0.1:1", "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "gridctl dev (") {
		t.Errorf("version: exit %d %q", r.code, r.stdout)
	}
}

// lineWriter collects output and signals each write.
type lineWriter struct {
	mu    sync.Mutex
	b     bytes.Buffer
	wrote chan struct{}
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case w.wrote <- struct{}{}:
	default:
	}
	return w.b.Write(p)
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// waitLines waits until w holds n lines.
func (w *lineWriter) waitLines(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for strings.Count(w.String(), "\n") < n {
		select {
		case <-w.wrote:
		case <-deadline:
			t.Fatalf("got %d lines within 10s, want %d:\n%s", strings.Count(w.String(), "\n"), n, w.String())
		}
	}
}

func TestWatch(t *testing.T) {
	for _, json := range []bool{false, true} {
		name := "text"
		if json {
			name = "json"
		}
		t.Run(name, func(t *testing.T) {
			url, hub := newHub(t)
			out := &lineWriter{wrote: make(chan struct{}, 1)}
			var errb bytes.Buffer
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			args := []string{"watch", "--grid", "g1"}
			if json {
				args = append(args, "--json")
			}
			done := make(chan int)
			go func() { done <- run(ctx, args, testSystem(url, out, &errb)) }()

			// The active alerts of grid g1 first (a-0002 is in g2).
			header := 1
			if json {
				header = 0
			}
			out.waitLines(t, header+1)

			raised := contract.Alert{ID: "a-0003", Device: "mb-0004", Channel: "busbar-l2", Kind: "temperature",
				State: contract.StateAlarm, Value: 88, Unit: "°C", Location: loc, Raised: now, Level: "grid",
				Assigned: []string{"wang"}, EscalateAt: now.Add(5 * time.Minute)}
			hub.PublishAlert(raised)
			escalated := raised
			escalated.Level, escalated.Assigned, escalated.EscalateAt = "community", []string{"wang", "zhao"}, now.Add(10*time.Minute)
			hub.PublishAlert(escalated)
			acked := escalated
			acked.AckedBy, acked.AckedAt = "zhao", now.Add(-30*time.Second)
			hub.PublishAlert(acked)
			cleared := acked
			cleared.Cleared, cleared.ClearedAt = true, now
			hub.PublishAlert(cleared)
			out.waitLines(t, header+5)

			cancel()
			if code := <-done; code != 0 {
				t.Errorf("watch exit %d after cancel, want 0; stderr %q", code, errb.String())
			}
			golden(t, "watch-"+name+".txt", out.String())
		})
	}
}

func TestWidth(t *testing.T) {
	tests := []struct {
		s    string
		want int
	}{
		{"", 0},
		{"abc", 3},
		{"幸福里", 6},
		{"3号楼", 5},
		{"ＡＢ", 4},      // fullwidth
		{"e\u0301", 1}, // combining accent
		{"한국", 4},
		{"°C", 2},
		{"🔥", 2},
		{"a\tb", 2},
	}
	for _, tt := range tests {
		if got := width(tt.s); got != tt.want {
			t.Errorf("width(%q) = %d, want %d", tt.s, got, tt.want)
		}
	}
}

func TestTableAlignsWideText(t *testing.T) {
	tb := newTable("A", "B")
	tb.add("幸福里", "x")
	tb.add("abc", "y")
	tb.add("", "z")
	var b bytes.Buffer
	if err := tb.write(&b); err != nil {
		t.Fatal(err)
	}
	want := "A       B\n幸福里  x\nabc     y\n-       z\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		s    string
		max  int
		want string
	}{
		{"abcdef", 10, "abcdef"},
		{"abcdef", 4, "abc…"},
		{"想请人帮忙修自行车", 7, "想请人…"},
	}
	for _, tt := range tests {
		if got := truncate(tt.s, tt.max); got != tt.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.s, tt.max, got, tt.want)
		}
	}
}

func TestClock(t *testing.T) {
	c := clock{now: func() time.Time { return now }, loc: time.UTC}
	tests := []struct {
		t    time.Time
		want string
	}{
		{time.Time{}, ""},
		{now.Add(-3 * time.Minute), "08:32 (3m ago)"},
		{now.Add(-12 * time.Second), "08:34 (12s ago)"},
		{now, "08:35 (just now)"},
		{now.Add(-26 * time.Hour), "11-26 06:35 (26h ago)"},
		{now.Add(-125 * time.Minute), "06:30 (2h5m ago)"},
		{now.Add(23 * time.Hour), "11-28 07:35 (in 23h)"},
		{now.Add(-400 * 24 * time.Hour), "2025-10-23 08:35 (400d ago)"},
	}
	for _, tt := range tests {
		if got := c.at(tt.t); got != tt.want {
			t.Errorf("at(%v) = %q, want %q", tt.t, got, tt.want)
		}
	}
	// Local time: the same instant in Shanghai.
	c.loc = time.FixedZone("CST", 8*3600)
	if got, want := c.at(now.Add(-3*time.Minute)), "16:32 (3m ago)"; got != want {
		t.Errorf("in CST: got %q, want %q", got, want)
	}
}

// TestWatchTerminal checks the live view: a redrawn table with the
// countdown, and the last changes below it.
func TestWatchTerminal(t *testing.T) {
	url, hub := newHub(t)
	out := &lineWriter{wrote: make(chan struct{}, 1)}
	var errb bytes.Buffer
	sys := testSystem(url, out, &errb)
	sys.terminal = true
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int)
	go func() { done <- run(ctx, []string{"watch"}, sys) }()

	waitFor := func(s string) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for !strings.Contains(out.String(), s) {
			select {
			case <-out.wrote:
			case <-deadline:
				t.Fatalf("no %q within 10s in:\n%s", s, out.String())
			}
		}
	}
	waitFor("Linli alerts — every grid — 2 active — 08:35:00")
	waitFor("escalates to community in 4m12s")
	hub.PublishAlert(contract.Alert{ID: "a-0009", Device: "mb-0009", Channel: "residual", State: contract.StateAlarm,
		Location: loc, Level: "grid", EscalateAt: now.Add(time.Minute)})
	waitFor("3 active")
	waitFor("last changes:\n  08:35:00  raised     a-0009")
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d, want 0; stderr %q", code, errb.String())
	}
	if !strings.HasPrefix(out.String(), "\x1b[H\x1b[2J") {
		t.Errorf("the live view does not start by clearing the screen: %q", out.String()[:20])
	}
}

// TestBrokers runs a listing against each kind of broker: gridctl must work
// with any of them.
func TestBrokers(t *testing.T) {
	for _, b := range mqtttest.Brokers(t) {
		t.Run(b.Name, func(t *testing.T) {
			url := b.Start(t)
			hub := hubclienttest.New(t, url)
			hub.Reply(contract.OpAlertsList, fakeAlerts)
			r := gridctl(t, url, "alerts")
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			golden(t, "alerts.txt", r.stdout)
		})
	}
}
