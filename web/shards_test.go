package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"linli/grid/config"
	"linli/grid/hub"
	"linli/mqtt/broker"
	"linli/mqtt/contract"
	"linli/web"
)

// shardConfig is one of two configurations sharing a broker: its own hub,
// community, grid worker and sensor, and the subdistrict worker "s1" of
// both, with the workers of extra (JSON objects, each followed by a comma).
func shardConfig(t *testing.T, name, extra string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(strings.ReplaceAll(strings.ReplaceAll(`{
  "subdistrict": "sd", "shared_broker": true,
  "hub": {"id": "hub-NAME", "password": "hubpw"},
  "communities": [{"id": "NAME", "name": "NAME", "grids": [{"id": "g-NAME", "name": "G", "buildings": ["b1"]}]}],
  "workers": [EXTRA
    {"id": "w-NAME", "name": "W", "role": "grid-worker", "grid": "g-NAME", "on_duty": true, "password": "pw"},
    {"id": "s1", "name": "Liu", "role": "subdistrict", "on_duty": true, "password": "pw"}
  ],
  "devices": [{"id": "dev-NAME", "kind": "sensor", "password": "pw", "location": {"community": "NAME", "building": "b1", "unit": "1"}}]
}`, "NAME", name), "EXTRA", extra)))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// shardHub runs the hub of cfg on the broker at url, one of hubs sharing
// it; stop ends it.
func shardHub(t *testing.T, cfg *config.Config, url string, hubs int) (h *hub.Hub, db *bolt.DB, stop func()) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "hub.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	h, err = hub.New(db, cfg, &hub.Options{Broker: url, ClientID: cfg.Hub.ID, Password: "hubpw", Hubs: hubs, Logger: logger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	select {
	case <-h.Ready():
	case err := <-done:
		t.Fatalf("hub %s stopped: %v", cfg.Hub.ID, err)
	case <-time.After(20 * time.Second):
		t.Fatalf("hub %s did not subscribe", cfg.Hub.ID)
	}
	var stopped bool
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
			db.Close()
		}
	}
	t.Cleanup(stop)
	return h, db, stop
}

// TestShardsConsole: the console of one of two hubs sharing a broker
// shows a worker of both shards the other hub's alerts too, live, and
// acknowledges them there; a worker of one shard waits for nobody; with
// the other hub down the page shows what it has and says it is not all.
func TestShardsConsole(t *testing.T) {
	// s2: a subdistrict officer of the east shard only.
	cfgs := []*config.Config{shardConfig(t, "east", `{"id": "s2", "name": "Zhao", "role": "subdistrict", "on_duty": true, "password": "pw"},`), shardConfig(t, "west", "")}
	var es []broker.Entry
	for _, c := range cfgs {
		for _, e := range c.Accounts() {
			if !slices.ContainsFunc(es, func(x broker.Entry) bool { return x.ID == e.ID }) {
				es = append(es, e)
			}
		}
	}
	b, err := broker.New(&broker.Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Accounts: broker.NewStatic(es...), Logger: logger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	mq := "tcp://" + b.Addr()
	east, eastDB, _ := shardHub(t, cfgs[0], mq, 2)
	west, westDB, stopWest := shardHub(t, cfgs[1], mq, 2)
	ts, err := wireTickets(eastDB, cfgs[0], east, logger())
	if err != nil {
		t.Fatal(err)
	}
	westTickets, err := wireTickets(westDB, cfgs[1], west, logger())
	if err != nil {
		t.Fatal(err)
	}
	// A resident's report on west's own pages.
	rep := &contract.Report{Number: "WEB-261206-00007", Device: "web", Category: "leak", Urgency: contract.UrgencyNormal,
		Location: contract.Location{Community: "west", Building: "b1", Unit: "1", Door: "301"}, Text: "楼上漏水",
		Time: contract.Stamp{At: time.Now(), Synced: true}}
	if err := west.Deliver(context.Background(), "web", "report", rep); err != nil {
		t.Fatal(err)
	}
	ws, err := web.New(&web.Options{Hub: east, Tickets: ts, DB: eastDB, Logger: logger()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ws)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { ws.Close() })
	e := &env{url: srv.URL, broker: mq}

	e.device(t, "dev-east").event(t, "t1", contract.StateNormal, contract.StateAlarm, "threshold")
	dw := e.device(t, "dev-west")
	dw.event(t, "t1", contract.StateNormal, contract.StateAlarm, "threshold")
	for _, h := range []*hub.Hub{east, west} {
		eventually(t, "an alert on each hub", func() bool { as, _ := h.Alerts(false); return len(as) == 1 })
	}

	s1 := e.client(t)
	csrf := s1.login("s1", "pw")
	code, page := s1.get("/alerts")
	if code != http.StatusOK || !strings.Contains(page, "hub-east-A00000001") || !strings.Contains(page, "hub-west-A00000001") {
		t.Fatalf("s1's alerts on east's console: %d, want both hubs' alerts:\n%s", code, page)
	}
	if strings.Contains(page, `role="status"`) {
		t.Errorf("both hubs answered, yet the page says its list may be incomplete")
	}

	// West's ticket, listed and worked on east's console.
	if code, page := s1.get("/tickets?scope=all"); code != http.StatusOK || !strings.Contains(page, rep.Number) {
		t.Fatalf("s1's tickets on east's console: %d, want west's %s:\n%s", code, rep.Number, page)
	}
	if code, page := s1.get("/tickets/" + rep.Number); code != http.StatusOK || !strings.Contains(page, "其他网格中心保存") ||
		!strings.Contains(page, `action="/tickets/`+rep.Number+`/accept"`) {
		t.Fatalf("west's ticket on east's console: %d, want its status, a note that west holds the report, and its actions:\n%s", code, page)
	}
	if code, body := s1.post("/tickets/"+rep.Number+"/accept", url.Values{"csrf": {csrf}, "next": {"/tickets/" + rep.Number}}); code != http.StatusSeeOther {
		t.Fatalf("accept west's ticket on east's console: %d %s", code, body)
	}
	if tk, err := westTickets.Get(rep.Number); err != nil || tk.Assigned != "s1" {
		t.Fatalf("west's ticket after s1 accepted it on east's console: %+v, %v", tk, err)
	}

	// A new alert on west reaches s1's open console on east as it happens,
	// and not s2's, whom west does not know.
	s2 := e.client(t)
	s2.login("s2", "pw")
	if code, page := s2.get("/alerts"); code != http.StatusOK || strings.Contains(page, "hub-west-") || strings.Contains(page, `role="status"`) {
		t.Fatalf("s2's alerts: %d, want east's alone, complete:\n%s", code, page)
	}
	events, s2events := s1.stream("/events"), s2.stream("/events")
	dw.event(t, "t2", contract.StateNormal, contract.StateAlarm, "threshold")
	ev := alertOf(t, next(t, events, "west's new alert", func(ev sse) bool { return ev.name == "alert" && strings.Contains(ev.data, "hub-west-A00000002") }))
	if !strings.Contains(ev.HTML, `action="/alerts/hub-west-A00000002/ack"`) {
		t.Errorf("west's alert card on east's console cannot be acknowledged:\n%s", ev.HTML)
	}

	e.device(t, "dev-east").event(t, "t2", contract.StateNormal, contract.StateAlarm, "threshold")
	next(t, s2events, "east's second alert", func(ev sse) bool {
		if strings.Contains(ev.data, "hub-west-") {
			t.Errorf("s2, not a worker of west, got west's %s %s", ev.name, ev.data)
		}
		return ev.name == "alert" && strings.Contains(ev.data, "hub-east-A00000002")
	})

	// Acknowledged from east's console, held by west.
	if code, body := s1.post("/alerts/hub-west-A00000001/ack", url.Values{"csrf": {csrf}, "next": {"/alerts"}}); code != http.StatusSeeOther {
		t.Fatalf("ack of west's alert on east's console: %d %s", code, body)
	}
	eventually(t, "west's alert acknowledged by s1", func() bool {
		a, ok := heldBy(west, "hub-west-A00000001")
		return ok && a.AckedBy == "s1"
	})
	next(t, events, "west's acknowledged alert", func(ev sse) bool {
		return ev.name == "alert-update" && strings.Contains(ev.data, "hub-west-A00000001")
	})

	// On a phone: west's ticket as east's console shows it, and later the
	// alerts with west down (LINLI_SCREENS=DIR keeps the screenshots).
	shared := getEnv(t)
	e.browser, e.noBrowser = shared.browser, shared.noBrowser
	var tab context.Context
	if e.browser != nil {
		tab = e.tab(t, 390, 844)
		e.login(t, tab, "s1", "pw")
	}
	phone := func(name, path string) {
		t.Run(name, func(t *testing.T) {
			if tab == nil {
				e.tab(t, 390, 844) // skips, or fails where chromium is required
			}
			file := ""
			if dir := os.Getenv("LINLI_SCREENS"); dir != "" {
				file = filepath.Join(dir, name+"-390x844-zh.png")
			}
			shoot(t, tab, e.url+path, file)
		})
	}
	phone("shards-ticket", "/tickets/"+rep.Number)

	// East's own worker: west refuses at once, nothing is missing.
	we := e.client(t)
	we.login("w-east", "pw")
	code, page = we.get("/alerts")
	if code != http.StatusOK || !strings.Contains(page, "hub-east-A00000001") || strings.Contains(page, "hub-west-") || strings.Contains(page, `role="status"`) {
		t.Fatalf("w-east's alerts: %d, want east's alone, complete:\n%s", code, page)
	}

	// West down: east's alerts, and the page says the list may lack some.
	stopWest()
	code, page = s1.get("/alerts")
	if code != http.StatusOK || !strings.Contains(page, "hub-east-A00000001") || !strings.Contains(page, `role="status"`) {
		t.Fatalf("s1's alerts with west down: %d, want east's and a warning:\n%s", code, page)
	}
	code, page = s1.get("/alerts?frag=1")
	if code != http.StatusOK || !strings.Contains(page, `role="status"`) {
		t.Fatalf("the alerts' live part with west down: %d, want the warning:\n%s", code, page)
	}
	phone("shards-alerts-partial", "/alerts")
}

// heldBy returns the alert id of h, cleared or not.
func heldBy(h *hub.Hub, id string) (contract.Alert, bool) {
	as, _ := h.Alerts(true)
	for _, a := range as {
		if a.ID == id {
			return a, true
		}
	}
	return contract.Alert{}, false
}
