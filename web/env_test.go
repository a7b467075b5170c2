package web_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	paho "github.com/eclipse/paho.mqtt.golang"
	bolt "go.etcd.io/bbolt"

	"linli/grid/config"
	"linli/grid/hub"
	"linli/grid/tickets"
	"linli/mqtt/broker"
	"linli/mqtt/contract"
	"linli/web"
)

const testConfig = `{
  "subdistrict": "sd",
  "hub": {"id": "gridhub", "password": "hubpw"},
  "communities": [{"id": "east", "name": "东苑社区 East Garden", "grids": [
    {"id": "g1", "name": "第一网格 Grid 1", "buildings": ["b1", "b2", "b3"]},
    {"id": "g2", "name": "第二网格 Grid 2", "buildings": ["b4", "b5"]}
  ]}],
  "workers": [
    {"id": "w-li", "name": "李娜", "role": "grid-worker", "grid": "g1", "on_duty": true, "phone": "13911112222", "password": "li-dev"},
    {"id": "w-wang", "name": "王强", "role": "grid-worker", "grid": "g2", "on_duty": true, "password": "sha256:7a3b1ee4e7a0c6e0b1d8fbd2f0a0e2e9c5f0b8e8d1f3b7c0b1f8e2c1a0d9e8f7"},
    {"id": "c-chen", "name": "陈主任", "role": "community", "community": "east", "on_duty": true, "password": "chen-dev"},
    {"id": "s-liu", "name": "刘科长", "role": "subdistrict", "on_duty": true, "password": "liu-dev"}
  ],
  "devices": [
    {"id": "mb-1", "kind": "sensor", "password": "pw", "location": {"community": "east", "building": "b1", "unit": "1"}},
    {"id": "mb-2", "kind": "sensor", "password": "pw", "location": {"community": "east", "building": "b4", "unit": "2"}},
    {"id": "mb-3", "kind": "sensor", "password": "pw", "location": {"community": "east", "building": "b2", "unit": "1"}},
    {"id": "kiosk-1", "kind": "kiosk", "password": "pw", "location": {"community": "east", "building": "b1"}}
  ],
  "escalation": {"grid": "5m", "community": "10m"}
}`

// env is the hub, broker, web server and browser shared by the package's
// tests: started once (they take seconds), each test works on alerts and
// tickets of its own.
type env struct {
	cfg       *config.Config
	url       string // the web server
	broker    string
	hub       *hub.Hub
	db        *bolt.DB
	tickets   *tickets.Store
	web       *web.Server
	browser   context.Context // nil without chromium
	noBrowser string
	stop      func()
}

var (
	shared  *env
	envOnce sync.Once
	envErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.stop()
	}
	os.Exit(code)
}

func logger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// workerPasswords: w-wang's stored form is replaced by its real sha256 at
// start, and c-chen's by bcrypt, so that logins cover every stored form.
func setup() (*env, error) {
	dir, err := os.MkdirTemp("", "linli-web-test")
	if err != nil {
		return nil, err
	}
	raw := strings.Replace(testConfig, `"sha256:7a3b1ee4e7a0c6e0b1d8fbd2f0a0e2e9c5f0b8e8d1f3b7c0b1f8e2c1a0d9e8f7"`, `"`+broker.HashPassword("wang-dev")+`"`, 1)
	bc, err := config.HashPassword("chen-dev")
	if err != nil {
		return nil, err
	}
	raw = strings.Replace(raw, `"chen-dev"`, `"`+bc+`"`, 1)
	cfg, err := config.Parse([]byte(raw))
	if err != nil {
		return nil, err
	}
	log := logger()
	b, err := broker.New(&broker.Options{Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "broker"), Accounts: cfg.Accounts(), Logger: log})
	if err != nil {
		return nil, err
	}
	if err := b.Start(); err != nil {
		return nil, err
	}
	db, err := bolt.Open(filepath.Join(dir, "hub.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	h, err := hub.New(db, cfg, &hub.Options{Broker: "tcp://" + b.Addr(), Password: "hubpw", CommandTimeout: 5 * time.Second, Logger: log})
	if err != nil {
		return nil, err
	}
	ts, err := wireTickets(db, cfg, h, log)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	select {
	case <-h.Ready():
	case err := <-done:
		cancel()
		return nil, fmt.Errorf("hub stopped: %w", err)
	case <-time.After(20 * time.Second):
		cancel()
		return nil, fmt.Errorf("hub did not subscribe")
	}
	ws, err := web.New(&web.Options{Hub: h, Tickets: ts, DB: db, Logger: log, AnonymousBurst: 1000, AnonymousRate: 100,
		ClientIP: func(r *http.Request) string {
			if ip := r.Header.Get("X-Test-IP"); ip != "" {
				return ip
			}
			return r.RemoteAddr
		}})
	if err != nil {
		cancel()
		return nil, err
	}
	srv := httptest.NewServer(ws)
	e := &env{cfg: cfg, url: srv.URL, broker: "tcp://" + b.Addr(), hub: h, tickets: ts, web: ws, db: db}
	var stopBrowser func()
	e.browser, stopBrowser, e.noBrowser = startBrowser(dir)
	e.stop = func() {
		if stopBrowser != nil {
			stopBrowser()
		}
		ws.Close()
		srv.Close()
		cancel()
		<-done
		db.Close()
		b.Close()
		os.RemoveAll(dir)
	}
	return e, nil
}

// wireTickets plugs the ticket flow into the hub as gridhub does
// (cmd/gridhub/tickets.go).
func wireTickets(db *bolt.DB, cfg *config.Config, h *hub.Hub, log *slog.Logger) (*tickets.Store, error) {
	ts, err := tickets.Open(db, &tickets.Options{Logger: log, PublishTx: func(tx *bolt.Tx, p tickets.Publication) error {
		return h.PublishTx(tx, p.Topic, p.Msg, p.Retain)
	}})
	if err != nil {
		return nil, err
	}
	for _, op := range []string{contract.OpTicketsList, contract.OpTicketGet, contract.OpTicketAccept, contract.OpTicketStart,
		contract.OpTicketResolve, contract.OpTicketReturn, contract.OpTicketDuplicate, contract.OpTicketClose,
		contract.OpWishesList, contract.OpWishClaim, contract.OpWishDone, contract.OpNotice} {
		h.HandleRequest(op, func(ctx context.Context, from config.Worker, req *contract.Request) (any, error) {
			body, _, err := ts.HandleRequest(ctx, tickets.Worker{ID: from.ID, Role: from.Role, Grid: from.Grid, Community: from.Community}, req)
			return body, err
		})
	}
	h.HandleDeviceMessage("report", func(_ context.Context, dev contract.DeviceInfo, m contract.Message) error {
		_, err := ts.HandleDeviceMessage(dev.Device, m, func(l contract.Location) string { return cfg.Locate(l).Grid })
		return err
	})
	return ts, nil
}

const chromium = "/usr/bin/chromium"

// startBrowser starts one headless chromium for the package, or says why
// not.
func startBrowser(dir string) (context.Context, func(), string) {
	if _, err := os.Stat(chromium); err != nil {
		return nil, nil, fmt.Sprintf("no %s (apt-get install chromium): %v", chromium, err)
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true), chromedp.Flag("disable-backgrounding-occluded-windows", true), chromedp.UserDataDir(filepath.Join(dir, "chromium")),
		chromedp.WindowSize(390, 844))
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithLogf(func(string, ...any) {}))
	if err := chromedp.Do(bctx); err != nil { // starts the browser
		bcancel()
		acancel()
		return nil, nil, fmt.Sprintf("chromium does not start: %v", err)
	}
	return bctx, func() { bcancel(); acancel() }, ""
}

func getEnv(t testing.TB) *env {
	t.Helper()
	envOnce.Do(func() { shared, envErr = setup() })
	if envErr != nil {
		t.Fatalf("test environment: %v", envErr)
	}
	return shared
}

// tab opens a browser tab at width×height, like a fresh phone's browser, or skips (fails on CI) without
// chromium.
func (e *env) tab(t testing.TB, width, height int64) context.Context {
	t.Helper()
	if e.browser == nil {
		if os.Getenv("CI") == "true" || os.Getenv("LINLI_REQUIRE_CHROMIUM") == "1" {
			t.Fatalf("browser tests need chromium: %s", e.noBrowser)
		}
		t.Skipf("browser tests skipped: %s", e.noBrowser)
	}
	// A browser context of its own: cookies (logins, language) stay in
	// the test.
	ctx, cancel := chromedp.NewContext(e.browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	ctx, tcancel := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(tcancel)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, height)); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// login logs the tab in as worker.
func (e *env) login(t testing.TB, ctx context.Context, worker, password string) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Navigate(e.url+"/login"),
		chromedp.WaitVisible(chromedp.CSS("#user")),
		chromedp.SendKeys(chromedp.CSS("#user"), worker),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#login")),
		chromedp.WaitVisible(chromedp.CSS("nav.tabs")),
	)
	if err != nil {
		t.Fatalf("login as %s: %v", worker, err)
	}
}

// device is a sensor publishing over MQTT with its own account, as
// sensord does.
type device struct {
	c   paho.Client
	id  string
	seq uint64
}

func (e *env) device(t testing.TB, id string) *device {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(e.broker).SetClientID(id).SetUsername(id).SetPassword("pw").SetCleanSession(true).SetProtocolVersion(4)
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("device %s connect: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return &device{c: c, id: id}
}

func (d *device) send(t testing.TB, m contract.Message, leaf string, retain bool) {
	t.Helper()
	tok := d.c.Publish(contract.DeviceTopic(d.id, leaf), 1, retain, contract.MustEncode(m))
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("%s publish %s: %v", d.id, leaf, tok.Error())
	}
}

// event sends a channel's state change.
func (d *device) event(t testing.TB, channel string, from, to contract.State, cause string) {
	t.Helper()
	d.seq++
	d.send(t, &contract.Event{ID: fmt.Sprintf("%s-%d-e%d", d.id, time.Now().UnixNano(), d.seq), Device: d.id, Session: 1, Seq: d.seq,
		Channel: channel, Kind: "temperature", From: from, To: to, Cause: cause, Value: 92.5, Unit: "°C", SetPoint: 70,
		Time: contract.Stamp{At: time.Now(), Synced: true}}, "event", false)
}

func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// client is an HTTP client with its own cookies, not following redirects.
type client struct {
	t  testing.TB
	e  *env
	c  *http.Client
	ip string
}

var clients atomic.Int32

// client returns an HTTP client of an address of its own.
func (e *env) client(t testing.TB) *client {
	jar, _ := cookiejar.New(nil)
	ip := fmt.Sprintf("10.0.%d.%d", clients.Add(1)/250, clients.Load()%250+1)
	return &client{t: t, e: e, ip: ip, c: &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: withIP{ip},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *client) get(path string) (int, string) {
	c.t.Helper()
	r, err := c.c.Get(c.e.url + path)
	if err != nil {
		c.t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return r.StatusCode, string(b)
}

func (c *client) post(path string, form url.Values) (int, string) {
	c.t.Helper()
	r, err := c.c.PostForm(c.e.url+path, form)
	if err != nil {
		c.t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return r.StatusCode, string(b) + r.Header.Get("Location")
}

// withIP tells the test server's ClientIP which address a client is.
type withIP struct{ ip string }

func (w withIP) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Test-IP", w.ip)
	return http.DefaultTransport.RoundTrip(r)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the token of the forms on path.
func (c *client) csrf(path string) string {
	c.t.Helper()
	_, body := c.get(path)
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		c.t.Fatalf("no csrf token on %s", path)
	}
	return m[1]
}

// login logs the client in and returns the session's CSRF token.
func (c *client) login(worker, password string) string {
	c.t.Helper()
	tok := c.csrf("/login")
	code, body := c.post("/login", url.Values{"csrf": {tok}, "user": {worker}, "password": {password}})
	if code != http.StatusSeeOther {
		c.t.Fatalf("login %s: %d %s", worker, code, body)
	}
	return c.csrf("/alerts")
}

// kioskReport files a report from kiosk-1 over MQTT, as the kiosk does,
// and waits for its ticket.
func (e *env) kioskReport(t testing.TB, number, building, phone string) {
	t.Helper()
	k := e.device(t, "kiosk-1")
	rep := &contract.Report{Number: number, Device: "kiosk-1", Category: "leak", Urgency: contract.UrgencyNormal,
		Location: contract.Location{Community: "east", Building: building, Unit: "1", Door: "301"}, Phrases: []string{"水管漏水"},
		Text: "楼上漏水", Phone: phone, Consent: phone != "", Time: contract.Stamp{At: time.Now(), Synced: true}}
	k.send(t, rep, "report", false)
	eventually(t, "ticket "+number, func() bool { _, err := e.tickets.Get(number); return err == nil })
	k.c.Disconnect(100) // the kiosk's client id is free for the next
}

func (e *env) worker(id string) config.Worker {
	w, _ := e.cfg.Worker(id)
	return w
}

var _ = log.Println
