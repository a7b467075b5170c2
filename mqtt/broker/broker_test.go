package broker

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"linli/mqtt/contract"
)

var verbose bool

func TestMain(m *testing.M) {
	flag.Parse()
	verbose = testing.Verbose()
	os.Exit(m.Run())
}

func testLogger() *slog.Logger {
	if verbose {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

var testAccounts = NewStatic(
	Entry{Account{ID: "mb-0001", Role: RoleDevice}, HashPassword("pw1")},
	Entry{Account{ID: "mb-0002", Role: RoleDevice}, "pw2"},
	Entry{Account{ID: "kiosk-01", Role: RoleKiosk, Community: "east"}, "pwk"},
	Entry{Account{ID: "w-li", Role: RoleWorker}, "pww"},
	Entry{Account{ID: "gridhub", Role: RoleHub}, "pwh"},
	Entry{Account{ID: "ops", Role: RoleAdmin}, "pwo"},
)

var testPasswords = map[string]string{"mb-0001": "pw1", "mb-0002": "pw2", "kiosk-01": "pwk", "w-li": "pww", "gridhub": "pwh", "ops": "pwo"}

func startServer(t *testing.T, dir string) *Server {
	t.Helper()
	s, err := New(&Options{Listen: "127.0.0.1:0", DataDir: dir, Accounts: testAccounts, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	return s
}

type client struct {
	paho.Client
	mu   sync.Mutex
	msgs []paho.Message
	got  chan paho.Message
}

func connect(t *testing.T, s *Server, user, id string, clean bool, pass string) (*client, error) {
	t.Helper()
	c := &client{got: make(chan paho.Message, 100)}
	o := paho.NewClientOptions().AddBroker("tcp://" + s.Addr()).SetClientID(id).
		SetUsername(user).SetPassword(pass).SetCleanSession(clean).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(5 * time.Second).
		SetProtocolVersion(4)
	o.SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
		c.mu.Lock()
		c.msgs = append(c.msgs, m)
		c.mu.Unlock()
		c.got <- m
	})
	c.Client = paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return nil, fmt.Errorf("connect timeout")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c, nil
}

func mustConnect(t *testing.T, s *Server, user string) *client {
	t.Helper()
	c, err := connect(t, s, user, user, true, testPasswords[user])
	if err != nil {
		t.Fatalf("connect %s: %v", user, err)
	}
	return c
}

func wait(t *testing.T, tok paho.Token) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		t.Fatal("token timeout")
		return nil
	}
}

func subscribe(t *testing.T, c *client, filter string) byte {
	t.Helper()
	tok := c.Subscribe(filter, 1, nil)
	if err := wait(t, tok); err != nil {
		t.Fatalf("subscribe %s: %v", filter, err)
	}
	return tok.(*paho.SubscribeToken).Result()[filter]
}

func receive(t *testing.T, c *client) paho.Message {
	t.Helper()
	select {
	case m := <-c.got:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no message")
		return nil
	}
}

func TestAllowed(t *testing.T) {
	dev := Account{ID: "mb-0001", Role: RoleDevice}
	kiosk := Account{ID: "k1", Role: RoleKiosk, Community: "east"}
	worker := Account{ID: "w1", Role: RoleWorker}
	hub := Account{ID: "gridhub", Role: RoleHub}
	maint := Account{ID: "m1", Role: RoleMaintenance}
	r := contract.Root + "/"
	tests := []struct {
		acc    Account
		filter string
		write  bool
		want   bool
	}{
		{dev, r + "dev/mb-0001/event", true, true},
		{dev, r + "dev/mb-0001/birth", true, true},
		{dev, r + "dev/mb-0001/cmd", true, false},
		{dev, r + "dev/mb-0002/event", true, false},
		{dev, r + "dev/+/event", true, false},
		{dev, r + "dev/mb-0001/cmd", false, true},
		{dev, r + "dev/mb-0001/fw/blk", false, true},
		{dev, r + "dev/mb-0002/cmd", false, false},
		{dev, r + "dev/+/cmd", false, false},
		{dev, r + "#", false, false},
		{dev, r + "area/east/#", false, false},
		{kiosk, r + "area/east/#", false, true},
		{kiosk, r + "area/east/b1/alerts", false, true},
		{kiosk, r + "area/+/b1/alerts", false, false},
		{kiosk, r + "area/west/b1/alerts", false, false},
		{kiosk, r + "ticket/T-1", false, true},
		{kiosk, r + "dev/k1/report", true, true},
		{kiosk, r + "area/east/notices", true, false},
		{worker, r + "hub/req/w1", true, true},
		{worker, r + "hub/req/w2", true, false},
		{worker, r + "hub/resp/w1", false, true},
		{worker, r + "hub/resp/+", false, false},
		{worker, r + "grid/+/alert", false, true},
		{worker, r + "grid/g1/alert", false, true},
		{worker, r + "grid/#", false, false},
		{worker, r + "dev/+/birth", false, true},
		{worker, r + "dev/+/event", false, false},
		{worker, r + "dev/mb-0001/cmd", true, false},
		{hub, "#", false, true},
		{hub, r + "dev/mb-0001/cmd", true, true},
		// Firmware: devices ask for blocks and report status for themselves
		// only; maintenance staff serve blocks and follow every device.
		{dev, r + "dev/mb-0001/fwreq", true, true},
		{dev, r + "dev/mb-0001/fwstatus", true, true},
		{dev, r + "dev/mb-0002/fwreq", true, false},
		{dev, r + "dev/mb-0002/fwstatus", true, false},
		{dev, r + "dev/mb-0001/fw", false, true},
		{dev, r + "dev/mb-0002/fw", false, false},
		{dev, r + "dev/mb-0001/fw", true, false},
		{dev, r + "dev/+/fwstatus", false, false},
		{kiosk, r + "dev/k1/fwreq", true, true},
		{kiosk, r + "dev/k1/fw", false, true},
		{maint, r + "dev/mb-0001/fw", true, true},
		{maint, r + "dev/+/fw", true, false},
		{maint, r + "dev/+/fwreq", false, true},
		{maint, r + "dev/+/fwstatus", false, true},
		{maint, r + "dev/mb-0001/fwstatus", false, true},
		{maint, r + "dev/mb-0001/fwstatus", true, false},
		{maint, r + "dev/mb-0001/fwreq", true, false},
		{maint, r + "dev/mb-0001/cmd", true, false},
		{maint, r + "dev/+/event", false, false},
		{maint, r + "dev/#", false, false},
		{maint, r + "hub/req/m1", true, true},
		{maint, r + "hub/resp/m1", false, true},
		{maint, r + "grid/+/alert", false, true},
		{worker, r + "dev/mb-0001/fw", true, false},
		{worker, r + "dev/+/fwreq", false, false},
		{worker, r + "dev/+/fwstatus", false, false},
		{kiosk, r + "dev/+/fwstatus", false, false},
		{Account{ID: "x/y", Role: RoleDevice}, r + "dev/x/y/event", true, false},
		{Account{ID: "nobody"}, r + "dev/nobody/event", true, false},
	}
	for _, tt := range tests {
		if got := Allowed(tt.acc, tt.filter, tt.write); got != tt.want {
			t.Errorf("Allowed(%s/%s, %q, write=%v) = %v, want %v", tt.acc.ID, tt.acc.Role, tt.filter, tt.write, got, tt.want)
		}
	}
}

func TestCheckPassword(t *testing.T) {
	tests := []struct {
		stored, given string
		want          bool
	}{
		{HashPassword("secret"), "secret", true},
		{HashPassword("secret"), "Secret", false},
		{"plain", "plain", true},
		{"plain", "plain ", false},
		{"", "", false},
		{"sha256:zz", "zz", false},
		{"sha256:", "", false},
	}
	for _, tt := range tests {
		if got := CheckPassword(tt.stored, []byte(tt.given)); got != tt.want {
			t.Errorf("CheckPassword(%q, %q) = %v, want %v", tt.stored, tt.given, got, tt.want)
		}
	}
}

func TestWrongPasswordRefused(t *testing.T) {
	s := startServer(t, "")
	defer s.Close()
	for _, tc := range []struct{ user, pass string }{{"mb-0001", "nope"}, {"ghost", "pw1"}, {"mb-0001", ""}} {
		if _, err := connect(t, s, tc.user, tc.user, true, tc.pass); err == nil {
			t.Errorf("connect %s/%q: got nil error, want refusal", tc.user, tc.pass)
		}
	}
	if got, want := s.Stats().ConnectsRefused, uint64(3); got != want {
		t.Errorf("ConnectsRefused = %d, want %d", got, want)
	}
	// The right password still works afterwards.
	mustConnect(t, s, "mb-0001")
}

func TestWillTopicChecked(t *testing.T) {
	s := startServer(t, "")
	defer s.Close()
	c := &client{}
	o := paho.NewClientOptions().AddBroker("tcp://"+s.Addr()).SetClientID("mb-0001").
		SetUsername("mb-0001").SetPassword("pw1").SetAutoReconnect(false).SetProtocolVersion(4).
		SetWill(contract.DeviceTopic("mb-0002", "death"), "{}", 1, true)
	c.Client = paho.NewClient(o)
	if err := wait(t, c.Connect()); err == nil {
		c.Disconnect(0)
		t.Fatal("connect with another device's will: got nil error")
	}
	if got := s.Stats().ConnectsRefused; got != 1 {
		t.Errorf("ConnectsRefused = %d, want 1", got)
	}
}

func TestDeviceCannotPublishForAnother(t *testing.T) {
	s := startServer(t, "")
	defer s.Close()
	hub := mustConnect(t, s, "gridhub")
	subscribe(t, hub, contract.Root+"/dev/+/event")
	dev := mustConnect(t, s, "mb-0001")

	// QoS 0 on a forbidden topic: dropped and counted, connection kept.
	if err := wait(t, dev.Publish(contract.DeviceTopic("mb-0002", "event"), 0, false, "forged")); err != nil {
		t.Fatal(err)
	}
	// Its own topic passes and arrives after the forged one would have.
	if err := wait(t, dev.Publish(contract.DeviceTopic("mb-0001", "event"), 1, false, "own")); err != nil {
		t.Fatal(err)
	}
	m := receive(t, hub)
	if got, want := m.Topic(), contract.DeviceTopic("mb-0001", "event"); got != want {
		t.Errorf("hub got topic %q, want %q", got, want)
	}
	if got := s.Stats().PublishDenied; got != 1 {
		t.Errorf("PublishDenied = %d, want 1", got)
	}
	// A device may not publish commands, even to itself.
	if err := wait(t, dev.Publish(contract.DeviceTopic("mb-0001", "cmd"), 0, false, "x")); err != nil {
		t.Fatal(err)
	}
	if err := wait(t, dev.Publish(contract.DeviceTopic("mb-0001", "event"), 1, false, "own2")); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, hub); string(m.Payload()) != "own2" {
		t.Errorf("hub got %q, want own2", m.Payload())
	}
	if got := s.Stats().PublishDenied; got != 2 {
		t.Errorf("PublishDenied = %d, want 2", got)
	}
	select {
	case m := <-hub.got:
		t.Errorf("hub got unexpected %s %q", m.Topic(), m.Payload())
	default:
	}
}

func TestSubscribeACL(t *testing.T) {
	s := startServer(t, "")
	defer s.Close()
	kiosk := mustConnect(t, s, "kiosk-01")
	dev := mustConnect(t, s, "mb-0002")
	tests := []struct {
		c      *client
		filter string
		ok     bool
	}{
		{kiosk, contract.Root + "/area/east/#", true},
		{kiosk, contract.Root + "/area/west/#", false},
		{kiosk, contract.Root + "/ticket/#", true},
		{dev, contract.DeviceTopic("mb-0002", "cmd"), true},
		{dev, contract.DeviceTopic("mb-0001", "cmd"), false},
		{dev, contract.Root + "/#", false},
	}
	denied := uint64(0)
	for _, tt := range tests {
		code := subscribe(t, tt.c, tt.filter)
		if got := code < 0x80; got != tt.ok {
			t.Errorf("subscribe %q: granted=%v (code %#x), want %v", tt.filter, got, code, tt.ok)
		}
		if !tt.ok {
			denied++
		}
	}
	if got := s.Stats().SubscribeDenied; got != denied {
		t.Errorf("SubscribeDenied = %d, want %d", got, denied)
	}
	// The kiosk reads its own area's alerts, not another's.
	hub := mustConnect(t, s, "gridhub")
	for _, area := range []string{"west", "east"} {
		if err := wait(t, hub.Publish(contract.AreaAlertsTopic(area, "b1"), 1, true, area)); err != nil {
			t.Fatal(err)
		}
	}
	m := receive(t, kiosk)
	if got := string(m.Payload()); got != "east" {
		t.Errorf("kiosk got %q, want east", got)
	}
}

// TestPersistence checks that retained messages and QoS 1 messages queued
// for an offline persistent session survive a broker restart.
func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	hub, err := connect(t, s, "gridhub", "gridhub", false, "pwh")
	if err != nil {
		t.Fatal(err)
	}
	subscribe(t, hub, contract.Root+"/dev/+/event")
	hub.Disconnect(100)

	dev := mustConnect(t, s, "mb-0001")
	if err := wait(t, dev.Publish(contract.DeviceTopic("mb-0001", "birth"), 1, true, "birth")); err != nil {
		t.Fatal(err)
	}
	const n = 5
	for i := range n {
		if err := wait(t, dev.Publish(contract.DeviceTopic("mb-0001", "event"), 1, false, fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	dev.Disconnect(100)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := startServer(t, dir)
	defer s2.Close()
	hub2, err := connect(t, s2, "gridhub", "gridhub", false, "pwh")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for range n {
		m := receive(t, hub2)
		seen[string(m.Payload())] = true
		m.Ack()
	}
	for i := range n {
		if !seen[fmt.Sprint(i)] {
			t.Errorf("event %d lost across the restart", i)
		}
	}
	w := mustConnect(t, s2, "w-li")
	subscribe(t, w, contract.Root+"/dev/+/birth")
	if m := receive(t, w); string(m.Payload()) != "birth" || !m.Retained() {
		t.Errorf("retained birth: got %q retained=%v", m.Payload(), m.Retained())
	}
}

func TestAdmit(t *testing.T) {
	admit := make(chan struct{})
	s, err := New(&Options{Listen: "127.0.0.1:0", Accounts: testAccounts, Admit: admit, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := connect(t, s, "mb-0001", "mb-0001", true, "pw1"); err == nil || !strings.Contains(err.Error(), "server Unavailable") {
		t.Errorf("device before Admit was closed: err = %v, want server unavailable", err)
	}
	mustConnect(t, s, "gridhub")
	close(admit)
	mustConnect(t, s, "mb-0001")
	if got := s.Stats(); got.ConnectsDeferred != 1 || got.ConnectsRefused != 0 {
		t.Errorf("stats = %+v, want 1 deferred, 0 refused", got)
	}
}
