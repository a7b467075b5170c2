package broker

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"linli/mqtt/contract"
)

func TestClientIDAllowed(t *testing.T) {
	dev := Account{ID: "mb-0001", Role: RoleDevice}
	kiosk := Account{ID: "kiosk-01", Role: RoleKiosk}
	worker := Account{ID: "w-li", Role: RoleWorker}
	maint := Account{ID: "m1", Role: RoleMaintenance}
	hub := Account{ID: "gridhub", Role: RoleHub}
	admin := Account{ID: "ops", Role: RoleAdmin}
	tests := []struct {
		acc  Account
		cid  string
		want bool
	}{
		{dev, "mb-0001", true},
		{dev, "mb-0002", false},
		{dev, "mb-0001-x", false},
		{dev, "", false},
		{kiosk, "kiosk-01", true},
		{kiosk, "mb-0001", false},
		{worker, "w-li", true},
		{worker, "gridctl-w-li-1a2b3c4d", true},
		{worker, "gridctl-flash-w-li-89abcdef", true},
		{worker, "gridctl-w-li-", false},
		{worker, "gridctl-w-wang-1a2b3c4d", false},
		{worker, "mb-0001", false},
		{worker, "gridhub", false},
		{maint, "gridctl-flash-m1-00000000", true},
		{hub, "gridhub", true},
		{hub, "gridhub-telemetry", true},
		{hub, "gridhub-other", false},
		{hub, "mb-0001", false},
		{admin, "ops", true},
		{admin, "ops-bench-1", true},
		{admin, "bench-1", false}, // allowed by clientIDFor, see TestBound
		{Account{Role: RoleDevice}, "", false},
	}
	for _, tt := range tests {
		if got := ClientIDAllowed(tt.acc, tt.cid); got != tt.want {
			t.Errorf("ClientIDAllowed(%s/%s, %q) = %v, want %v", tt.acc.ID, tt.acc.Role, tt.cid, got, tt.want)
		}
	}
}

func TestBound(t *testing.T) {
	admin, _ := testAccounts.Lookup("ops")
	tests := []struct {
		cid   string
		owner string // "" means free for the admin
	}{
		{"mb-0001", "mb-0001"},
		{"kiosk-01", "kiosk-01"},
		{"gridhub", "gridhub"},
		{"gridhub-telemetry", "gridhub"},
		{"gridctl-w-li-1234", "w-li"},
		{"gridctl-flash-w-li-1234", "w-li"},
		{"w-li", "w-li"},
		{"ops", ""},
		{"ops-1", ""},
		{"bench-watch", ""},
		{"mb-0001-telemetry", ""}, // a device has no telemetry id
		{"gridctl-nobody-1", ""},
	}
	for _, tt := range tests {
		other, ok := Bound(testAccounts, admin, tt.cid)
		if ok != (tt.owner != "") || other.ID != tt.owner {
			t.Errorf("Bound(%q) = %q, %v; want %q", tt.cid, other.ID, ok, tt.owner)
		}
		if got := clientIDFor(testAccounts, admin, tt.cid); got != (tt.owner == "") {
			t.Errorf("admin may use %q: %v, want %v", tt.cid, got, tt.owner == "")
		}
	}
}

// watched is a paho client that counts its connects and lost connections.
type watched struct {
	*client
	connects, lost atomic.Int32
}

func connectWatched(t *testing.T, s *Server, user, id string, clean bool) *watched {
	t.Helper()
	w := &watched{client: &client{got: make(chan paho.Message, 100)}}
	o := paho.NewClientOptions().AddBroker("tcp://" + s.Addr()).SetClientID(id).
		SetUsername(user).SetPassword(testPasswords[user]).SetCleanSession(clean).
		SetAutoReconnect(true).SetConnectRetry(false).SetProtocolVersion(4).
		SetOnConnectHandler(func(paho.Client) { w.connects.Add(1) }).
		SetConnectionLostHandler(func(paho.Client, error) { w.lost.Add(1) })
	o.SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { w.got <- m })
	w.Client = paho.NewClient(o)
	if err := wait(t, w.Connect()); err != nil {
		t.Fatalf("connect %s as %s: %v", user, id, err)
	}
	return w
}

// TestClientIDTakeoverRefused is issue 9's attack: a device's own valid
// login with another device's client id. Before the client ids were bound
// to accounts, it was accepted and disconnected the victim.
func TestClientIDTakeoverRefused(t *testing.T) {
	s := startServer(t, t.TempDir())
	defer s.Close()
	victim := connectWatched(t, s, "mb-0001", "mb-0001", false)
	defer victim.Disconnect(0)
	cmd := contract.DeviceTopic("mb-0001", "cmd")
	subscribe(t, victim.client, cmd)
	hub := mustConnect(t, s, "gridhub")

	for _, clean := range []bool{true, false} {
		_, err := connect(t, s, "mb-0002", "mb-0001", clean, "pw2")
		if err == nil || !strings.Contains(err.Error(), "identifier rejected") {
			t.Errorf("takeover with clean=%v: err = %v, want identifier rejected", clean, err)
		}
	}
	// Others' ids are refused the same way, for every role.
	for _, tc := range []struct{ user, id string }{
		{"w-li", "mb-0001"}, {"kiosk-01", "mb-0001"}, {"ops", "mb-0001"}, {"ops", "gridhub"},
		{"gridhub", "mb-0001"}, {"w-li", "gridctl-flash-mb-0001-1"},
	} {
		if _, err := connect(t, s, tc.user, tc.id, true, testPasswords[tc.user]); err == nil {
			t.Errorf("%s connected as %s", tc.user, tc.id)
		}
	}
	if got, want := s.Stats().RefusedClientID, uint64(8); got != want {
		t.Errorf("RefusedClientID = %d, want %d", got, want)
	}
	if got := s.Stats().ConnectsRefused; got != 8 {
		t.Errorf("ConnectsRefused = %d, want 8", got)
	}

	// The victim was never disconnected, and its subscription still works.
	if err := wait(t, hub.Publish(cmd, 1, false, "one")); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, victim.client); string(m.Payload()) != "one" {
		t.Errorf("victim got %q, want one", m.Payload())
	}
	if !victim.IsConnectionOpen() || victim.connects.Load() != 1 || victim.lost.Load() != 0 {
		t.Errorf("victim: open=%v connects=%d lost=%d, want true 1 0", victim.IsConnectionOpen(), victim.connects.Load(), victim.lost.Load())
	}

	// Its persistent session is never handed over: offline, it keeps
	// collecting its commands for itself. (Once "one" is acknowledged:
	// paho sends the PUBACK after the handler, racing Disconnect, and an
	// unacknowledged "one" is rightly delivered again.)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if cl, ok := s.mochi.Clients.Get("mb-0001"); ok && cl.State.Inflight.Len() == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(`"one" never acknowledged`)
		}
	}
	victim.Disconnect(100)
	if err := wait(t, hub.Publish(cmd, 1, false, "two")); err != nil {
		t.Fatal(err)
	}
	if _, err := connect(t, s, "mb-0002", "mb-0001", false, "pw2"); err == nil {
		t.Fatal("mb-0002 resumed mb-0001's session")
	}
	back := connectWatched(t, s, "mb-0001", "mb-0001", false)
	defer back.Disconnect(0)
	if m := receive(t, back.client); string(m.Payload()) != "two" {
		t.Errorf("victim's session delivered %q, want two", m.Payload())
	}
}

// TestOwnClientIDs checks the ids gridhub, gridctl and the hub bench use.
func TestOwnClientIDs(t *testing.T) {
	s := startServer(t, "")
	defer s.Close()
	for _, tc := range []struct{ user, id string }{
		{"gridhub", "gridhub"}, {"gridhub", "gridhub-telemetry"},
		{"w-li", "gridctl-w-li-0a1b2c3d"}, {"w-li", "gridctl-flash-w-li-0a1b2c3d"}, {"w-li", "w-li"},
		{"kiosk-01", "kiosk-01"}, {"ops", "bench-watch"}, {"ops", "ops"},
	} {
		if _, err := connect(t, s, tc.user, tc.id, true, testPasswords[tc.user]); err != nil {
			t.Errorf("%s as %s: %v", tc.user, tc.id, err)
		}
	}
	if st := s.Stats(); st.ConnectsRefused != 0 {
		t.Errorf("stats = %+v, want no refusal", st)
	}
}

// logBuffer is a goroutine-safe log sink.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns the lines containing every one of subs.
// await waits a few seconds for a line with every one of subs: the broker
// counts a drop, then logs it, on a goroutine of its own.
func (b *logBuffer) await(subs ...string) bool {
	for deadline := time.Now().Add(5 * time.Second); len(b.lines(subs...)) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

func (b *logBuffer) lines(subs ...string) []string {
	var out []string
	for _, l := range strings.Split(b.String(), "\n") {
		ok := l != ""
		for _, s := range subs {
			ok = ok && strings.Contains(l, s)
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}

func startLogged(t *testing.T, dir string, level slog.Level) (*Server, *logBuffer) {
	t.Helper()
	return startLoggedWith(t, &Options{DataDir: dir}, level)
}

// startLoggedWith is startLogged with more options: it fills in the
// listener, the test accounts and the logger.
func startLoggedWith(t *testing.T, o *Options, level slog.Level) (*Server, *logBuffer) {
	t.Helper()
	var b logBuffer
	o.Listen, o.Accounts = "127.0.0.1:0", testAccounts
	o.Logger = slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: level}))
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	return s, &b
}

// TestRefusalFloodBounded: 10,000 publishes on a forbidden topic are
// counted exactly and logged in a bounded number of lines.
func TestRefusalFloodBounded(t *testing.T) {
	s, logs := startLogged(t, "", slog.LevelInfo)
	dev := mustConnect(t, s, "mb-0002")
	const n = 10000
	for i := range n {
		dev.Publish(contract.DeviceTopic("mb-0001", "event"), 0, false, fmt.Sprint(i))
	}
	// A client's packets are handled in order: once this one is
	// acknowledged, every forged one before it was refused.
	if err := wait(t, dev.Publish(contract.DeviceTopic("mb-0002", "event"), 1, false, "own")); err != nil {
		t.Fatal(err)
	}
	if got := s.Stats().PublishDenied; got != n {
		t.Errorf("PublishDenied = %d, want %d", got, n)
	}
	dev.Disconnect(0)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	lines := logs.lines("publish denied")
	if len(lines) > 6 {
		t.Errorf("%d log lines for the flood, want at most 6", len(lines))
	}
	sum := logs.lines("more like this from mb-0002")
	if len(sum) != 1 || !strings.Contains(sum[0], fmt.Sprintf("suppressed=%d", n-5)) {
		t.Errorf("summary lines = %q, want one of %d", sum, n-5)
	}
	if got := s.Stats().LinesSuppressed; got != n-5 {
		t.Errorf("LinesSuppressed = %d, want %d", got, n-5)
	}
}

// TestQuietStartStop: a first start, clients coming and going, a port
// probe, and a stop with clients connected, then a restart from the same
// store, print no ERROR or WARN line (issue 9, item 6).
func TestQuietStartStop(t *testing.T) {
	dir := t.TempDir()
	for round := range 2 {
		s, logs := startLogged(t, dir, slog.LevelInfo)
		probe, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		probe.Close()
		hub, err := connect(t, s, "gridhub", "gridhub", false, "pwh")
		if err != nil {
			t.Fatal(err)
		}
		subscribe(t, hub, contract.Root+"/dev/+/event")
		dev := mustConnect(t, s, "mb-0001")
		if err := wait(t, dev.Publish(contract.DeviceTopic("mb-0001", "event"), 1, false, "x")); err != nil {
			t.Fatal(err)
		}
		receive(t, hub).Ack()
		dev.Disconnect(50)
		mustConnect(t, s, "w-li")         // still connected at Close
		time.Sleep(50 * time.Millisecond) // let the disconnect be handled before Close
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if bad := append(logs.lines("level=ERROR"), logs.lines("level=WARN")...); len(bad) > 0 {
			t.Errorf("round %d: %d ERROR/WARN lines:\n%s", round, len(bad), strings.Join(bad, "\n"))
		}
		if got := logs.lines("pk="); len(got) > 0 {
			t.Errorf("round %d: packet dumps:\n%s", round, strings.Join(got, "\n"))
		}
	}
}

// TestStoredSessionKeepsItsAccount: a persistent session stored under a
// client id that a changed configuration gives to another account is not
// handed to that account.
func TestStoredSessionKeepsItsAccount(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	ops, err := connect(t, s, "ops", "spare-1", false, "pwo")
	if err != nil {
		t.Fatal(err)
	}
	subscribe(t, ops, contract.Root+"/#")
	ops.Disconnect(100)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	accounts := NewStatic(Entry{Account{ID: "spare-1", Role: RoleDevice}, "pws"}, testAccounts["ops"])
	s2, err := New(&Options{Listen: "127.0.0.1:0", DataDir: dir, Accounts: accounts, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Start(); err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := connect(t, s2, "spare-1", "spare-1", false, "pws"); err == nil || !strings.Contains(err.Error(), "identifier rejected") {
		t.Errorf("device took the admin's stored session: err = %v", err)
	}
	if got := s2.Stats().RefusedClientID; got != 1 {
		t.Errorf("RefusedClientID = %d, want 1", got)
	}
}
