package natsbroker_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/crypto/bcrypt"

	"linli/mqtt/broker"
	"linli/mqtt/contract"
	"linli/mqtt/natsbroker"
	"linli/mqtt/natsbroker/natstest"
)

// cluster is the 3-node cluster every test of the package shares.
var cluster *natstest.Cluster

var testAccounts = broker.NewStatic(
	broker.Entry{Account: broker.Account{ID: "mb-0001", Role: broker.RoleDevice}, Password: broker.HashPassword("pw1")},
	broker.Entry{Account: broker.Account{ID: "mb-0002", Role: broker.RoleDevice}, Password: "pw2"},
	broker.Entry{Account: broker.Account{ID: "kiosk-01", Role: broker.RoleKiosk, Community: "east"}, Password: "pwk"},
	broker.Entry{Account: broker.Account{ID: "w-li", Role: broker.RoleWorker}, Password: "pww"},
	broker.Entry{Account: broker.Account{ID: "m-wu", Role: broker.RoleMaintenance}, Password: "pwm"},
	broker.Entry{Account: broker.Account{ID: "gridhub", Role: broker.RoleHub}, Password: "pwh"},
)

var testPasswords = map[string]string{"mb-0001": "pw1", "mb-0002": "pw2", "kiosk-01": "pwk", "w-li": "pww", "m-wu": "pwm", "gridhub": "pwh"}

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func TestMain(m *testing.M) {
	flag.Parse()
	c, err := natstest.Start(&natstest.Options{Accounts: testAccounts, Logger: testLogger()})
	if err != nil {
		log.Fatal(err)
	}
	cluster = c
	code := m.Run()
	c.Close()
	os.Exit(code)
}

type client struct {
	paho.Client
	got chan paho.Message
}

// connect logs user in to the given brokers (a persistent session unless
// clean).
func connect(t *testing.T, urls []string, user, id string, clean bool, pass string) (*client, error) {
	t.Helper()
	c := &client{got: make(chan paho.Message, 1000)}
	o := paho.NewClientOptions().SetClientID(id).
		SetUsername(user).SetPassword(pass).SetCleanSession(clean).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(10 * time.Second).
		SetProtocolVersion(4)
	for _, u := range urls {
		o.AddBroker(u)
	}
	o.SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { c.got <- m })
	c.Client = paho.NewClient(o)
	if err := wait(t, c.Connect()); err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c, nil
}

func mustConnect(t *testing.T, node int, user string) *client {
	t.Helper()
	c, err := connect(t, cluster.MQTTURLs()[node:node+1], user, user+"-"+t.Name(), true, testPasswords[user])
	if err != nil {
		t.Fatalf("connect %s: %v", user, err)
	}
	return c
}

func wait(t *testing.T, tok paho.Token) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return fmt.Errorf("token timeout")
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
	case <-time.After(15 * time.Second):
		t.Fatal("no message")
		return nil
	}
}

func TestSubject(t *testing.T) {
	tests := []struct {
		topic, want string
		ok          bool
	}{
		{"linli/v1/dev/mb-0001/event", "linli.v1.dev.mb-0001.event", true},
		{"linli/v1/grid/+/alert", "linli.v1.grid.*.alert", true},
		{"linli/v1/area/east/#", "linli.v1.area.east.>", true},
		{"#", ">", true},
		{"linli/v1/dev/a.b/event", "", false},
		{"linli//x", "", false},
		{"/x", "", false},
		{"a/#/b", "", false},
	}
	for _, tt := range tests {
		got, ok := natsbroker.Subject(tt.topic)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Subject(%q) = %q, %v; want %q, %v", tt.topic, got, ok, tt.want, tt.ok)
		}
	}
}

// TestQoS1AcrossNodes: a device on one node, the hub's persistent session
// on another; a QoS 1 event published while the hub is away is delivered
// when it comes back on a third node.
func TestQoS1AcrossNodes(t *testing.T) {
	urls := cluster.MQTTURLs()
	hub, err := connect(t, urls[1:2], "gridhub", "hub-qos1", false, "pwh")
	if err != nil {
		t.Fatal(err)
	}
	if code := subscribe(t, hub, contract.Root+"/dev/+/event"); code >= 0x80 {
		t.Fatalf("hub subscribe refused: %#x", code)
	}
	dev := mustConnect(t, 0, "mb-0001")
	if err := wait(t, dev.Publish(contract.DeviceTopic("mb-0001", "event"), 1, false, "e1")); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, hub); string(m.Payload()) != "e1" {
		t.Fatalf("hub got %q, want e1", m.Payload())
	}
	hub.Disconnect(100)
	if err := wait(t, dev.Publish(contract.DeviceTopic("mb-0001", "event"), 1, false, "e2")); err != nil {
		t.Fatal(err)
	}
	hub2, err := connect(t, urls[2:3], "gridhub", "hub-qos1", false, "pwh")
	if err != nil {
		t.Fatal(err)
	}
	if m := receive(t, hub2); string(m.Payload()) != "e2" {
		t.Fatalf("hub got %q after reconnect, want e2", m.Payload())
	}
	hub2.Disconnect(100)
	// Leave no session behind for the next test.
	if c, err := connect(t, urls[:1], "gridhub", "hub-qos1", true, "pwh"); err == nil {
		c.Disconnect(100)
	}
}

func TestWrongPasswordRefused(t *testing.T) {
	before := cluster.Node(0).Stats().ConnectsRefused
	for _, tc := range []struct{ user, pass string }{{"mb-0001", "nope"}, {"ghost", "pw1"}, {"mb-0001", ""}} {
		if _, err := connect(t, cluster.MQTTURLs()[:1], tc.user, tc.user+"-bad", true, tc.pass); err == nil {
			t.Errorf("connect %s/%q: got nil error, want refusal", tc.user, tc.pass)
		}
	}
	if got, want := cluster.Node(0).Stats().ConnectsRefused-before, uint64(3); got != want {
		t.Errorf("ConnectsRefused = %d, want %d", got, want)
	}
	mustConnect(t, 0, "mb-0001")
}

// TestACLSameAsEmbedded checks, for every role, that the cluster grants a
// subscription and delivers a publish exactly when the embedded broker's
// policy (broker.Allowed) does.
func TestACLSameAsEmbedded(t *testing.T) {
	r := contract.Root + "/"
	subs := []struct {
		user, filter string
	}{
		{"mb-0001", r + "dev/mb-0001/cmd"},
		{"mb-0001", r + "dev/mb-0001/fw/#"},
		{"mb-0001", r + "dev/mb-0002/cmd"},
		{"mb-0001", r + "dev/+/cmd"},
		{"mb-0001", r + "#"},
		{"mb-0001", "#"},
		{"mb-0001", r + "area/east/#"},
		{"kiosk-01", r + "area/east/#"},
		{"kiosk-01", r + "area/west/#"},
		{"kiosk-01", r + "ticket/#"},
		{"w-li", r + "grid/+/alert"},
		{"w-li", r + "grid/#"},
		{"w-li", r + "hub/resp/w-li"},
		{"w-li", r + "hub/resp/+"},
		{"w-li", r + "dev/+/event"},
		{"m-wu", r + "dev/+/fwstatus"},
		{"m-wu", r + "dev/#"},
		{"gridhub", "#"},
	}
	clients := map[string]*client{}
	get := func(user string) *client {
		if c, ok := clients[user]; ok {
			return c
		}
		c := mustConnect(t, len(clients)%cluster.Len(), user)
		clients[user] = c
		return c
	}
	for _, tt := range subs {
		acc, _ := testAccounts.Lookup(tt.user)
		want := broker.Allowed(acc, tt.filter, false)
		code := subscribe(t, get(tt.user), tt.filter)
		if got := code < 0x80; got != want {
			t.Errorf("%s subscribe %q: granted=%v (code %#x), want %v", tt.user, tt.filter, got, code, want)
		}
	}

	// Publishes: the hub reads everything; a forbidden publish is dropped
	// (NATS acknowledges a QoS 1 publish it drops: 3.1.1 has no negative
	// PUBACK), an allowed one arrives. Each is followed by an allowed
	// marker, so that "nothing arrived" is not a matter of waiting.
	hub := mustConnect(t, 2, "gridhub")
	subscribe(t, hub, r+"#")
	pubs := []struct {
		user, topic string
	}{
		{"mb-0001", r + "dev/mb-0001/event"},
		{"mb-0001", r + "dev/mb-0002/event"},
		{"mb-0001", r + "dev/mb-0001/cmd"},
		{"mb-0001", r + "area/east/b1/alerts"},
		{"kiosk-01", r + "dev/kiosk-01/report"},
		{"kiosk-01", r + "area/east/notices"},
		{"w-li", r + "hub/req/w-li"},
		{"w-li", r + "hub/req/w-2"},
		{"w-li", r + "dev/mb-0001/cmd"},
		{"m-wu", r + "dev/mb-0001/fw"},
		{"m-wu", r + "dev/mb-0001/fwstatus"},
	}
	for i, tt := range pubs {
		acc, _ := testAccounts.Lookup(tt.user)
		want := broker.Allowed(acc, tt.topic, true)
		c := get(tt.user)
		payload := fmt.Sprintf("p%d", i)
		if err := wait(t, c.Publish(tt.topic, 1, false, payload)); err != nil {
			t.Fatalf("%s publish %s: %v", tt.user, tt.topic, err)
		}
		marker := fmt.Sprintf("m%d", i)
		if err := wait(t, hub.Publish(r+"marker", 1, false, marker)); err != nil {
			t.Fatal(err)
		}
		got := false
		for {
			m := receive(t, hub)
			if string(m.Payload()) == marker {
				break
			}
			if string(m.Payload()) == payload && m.Topic() == tt.topic {
				got = true
			}
		}
		if got != want {
			t.Errorf("%s publish %q: delivered=%v, want %v", tt.user, tt.topic, got, want)
		}
	}
}

// TestRetained: a retained state published on one node reaches a late
// subscriber on another.
func TestRetained(t *testing.T) {
	dev := mustConnect(t, 0, "mb-0002")
	if err := wait(t, dev.Publish(contract.DeviceTopic("mb-0002", "state"), 1, true, "normal")); err != nil {
		t.Fatal(err)
	}
	w := mustConnect(t, 1, "w-li")
	subscribe(t, w, contract.Root+"/dev/+/state")
	if m := receive(t, w); string(m.Payload()) != "normal" || !m.Retained() {
		t.Errorf("worker got %q retained=%v, want retained normal", m.Payload(), m.Retained())
	}
}

// TestWriteConfig: the generated file is one nats-server parses, with the
// users' bcrypt passwords and permissions, and sha256-only users left out.
func TestWriteConfig(t *testing.T) {
	var entries []broker.Entry
	for _, e := range testAccounts {
		entries = append(entries, e)
	}
	var b strings.Builder
	skipped, err := natsbroker.WriteConfig(&b, &natsbroker.Options{
		Name: "hub-a", MQTTListen: "0.0.0.0:1883", Listen: "0.0.0.0:4222", ClusterListen: "0.0.0.0:6222",
		Routes:  []string{"nats-route://hub-a:6222", "nats-route://hub-b:6222", "nats-route://hub-c:6222"},
		DataDir: "/var/lib/linli/nats",
	}, entries)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"mb-0001"}; !slices.Equal(skipped, want) {
		t.Errorf("skipped %v, want %v", skipped, want)
	}
	path := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	o, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatalf("nats-server refuses the configuration: %v\n%s", err, b.String())
	}
	if o.MQTT.Port != 1883 || o.MQTT.StreamReplicas != 3 || o.Cluster.Port != 6222 || len(o.Routes) != 3 || !o.JetStream {
		t.Errorf("mqtt port %d replicas %d, cluster port %d, %d routes, jetstream %v", o.MQTT.Port, o.MQTT.StreamReplicas, o.Cluster.Port, len(o.Routes), o.JetStream)
	}
	if got := o.JetStreamLimits.DefaultMaxConsumers; got != natsbroker.UnlimitedConsumers {
		t.Errorf("default_max_consumers %d, want %d (a session per device)", got, natsbroker.UnlimitedConsumers)
	}
	users := map[string]*server.User{}
	for _, u := range o.Users {
		users[u.Username] = u
	}
	if len(users) != len(entries)-1 {
		t.Errorf("%d users, want %d", len(users), len(entries)-1)
	}
	for id, u := range users {
		if err := bcrypt.CompareHashAndPassword([]byte(u.Password), []byte(testPasswords[id])); err != nil {
			t.Errorf("%s: password hash: %v", id, err)
		}
		acc, _ := testAccounts.Lookup(id)
		want, _ := natsbroker.Permissions(acc)
		if !reflect.DeepEqual(u.Permissions, want) {
			t.Errorf("%s: permissions %+v, want %+v", id, u.Permissions, want)
		}
	}
}

// rawConnect logs user in over a bare TCP connection with a will on
// willTopic and returns the connection; closing it without DISCONNECT
// fires the will.
func rawConnect(t *testing.T, addr, user, willTopic string) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	cp := packets.NewControlPacket(packets.Connect).(*packets.ConnectPacket)
	cp.ProtocolName, cp.ProtocolVersion = "MQTT", 4
	cp.ClientIdentifier = user + "-raw"
	cp.CleanSession = true
	cp.Keepalive = 30
	cp.UsernameFlag, cp.Username = true, user
	cp.PasswordFlag, cp.Password = true, []byte(testPasswords[user])
	cp.WillFlag, cp.WillQos, cp.WillTopic, cp.WillMessage = true, 1, willTopic, []byte("will of "+user)
	if err := cp.Write(nc); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	p, err := packets.ReadPacket(nc)
	if err != nil {
		t.Fatalf("connack: %v", err)
	}
	if ca, ok := p.(*packets.ConnackPacket); !ok || ca.ReturnCode != 0 {
		t.Fatalf("connect %s: %v", user, p)
	}
	return nc
}

// TestWill: a device's will on its own topic fires; a will on another
// device's topic is accepted at CONNECT but dropped when it fires.
func TestWill(t *testing.T) {
	hub := mustConnect(t, 1, "gridhub")
	subscribe(t, hub, contract.Root+"/dev/+/death")
	addr := cluster.Node(0).MQTTAddr()
	forged := rawConnect(t, addr, "mb-0001", contract.DeviceTopic("mb-0002", "death"))
	_ = forged.Close()
	own := rawConnect(t, addr, "mb-0002", contract.DeviceTopic("mb-0002", "death"))
	_ = own.Close()
	for {
		m := receive(t, hub)
		if m.Retained() {
			continue // an earlier test's
		}
		if string(m.Payload()) != "will of mb-0002" || m.Topic() != contract.DeviceTopic("mb-0002", "death") {
			t.Fatalf("hub got %q on %s, want only mb-0002's own will", m.Payload(), m.Topic())
		}
		break
	}
}

// TestJetStreamForHub: a nats.go client of the hub's account uses
// JetStream on the cluster (an R3 key-value bucket, as a lease would);
// a device's account may not.
func TestJetStreamForHub(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	urls := strings.Join(cluster.NATSURLs(), ",")
	nc, err := nats.Connect(urls, nats.UserInfo("gridhub", "pwh"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "test-lease", Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "east", []byte("hub-a")); err != nil {
		t.Fatal(err)
	}
	if e, err := kv.Get(ctx, "east"); err != nil || string(e.Value()) != "hub-a" {
		t.Fatalf("get: %v %v", e, err)
	}
	if _, err := nats.Connect(urls, nats.UserInfo("gridhub", "wrong")); err == nil {
		t.Error("nats connect with a wrong password: got nil error")
	}
	dc, err := nats.Connect(urls, nats.UserInfo("mb-0002", "pw2"))
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	djs, err := jetstream.New(dc)
	if err != nil {
		t.Fatal(err)
	}
	dctx, dcancel := context.WithTimeout(ctx, 2*time.Second)
	defer dcancel()
	if _, err := djs.KeyValue(dctx, "test-lease"); err == nil {
		t.Error("a device's account reached JetStream")
	}
}

// TestManyConsumers: a stream takes more than nats-server's default 1,000
// consumers. Each device's persistent session keeps its QoS 1 cmd
// subscription as a consumer of the one $MQTT_msgs stream, so with that
// default the 1,001st device, and then the hub and gridctl, were refused
// every QoS 1 subscription.
func TestManyConsumers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nc, err := nats.Connect(strings.Join(cluster.NATSURLs(), ","), nats.UserInfo("gridhub", "pwh"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "test-many", Subjects: []string{"test.many.>"}, Storage: jetstream.MemoryStorage})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = js.DeleteStream(context.Background(), "test-many") }()
	const n = 1001
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			_, err := s.CreateConsumer(ctx, jetstream.ConsumerConfig{Durable: fmt.Sprintf("c%d", i), MemoryStorage: true,
				FilterSubject: fmt.Sprintf("test.many.%d", i), AckPolicy: jetstream.AckExplicitPolicy})
			if err != nil {
				errs <- fmt.Errorf("consumer %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// levelCounter counts log records at Warn and above.
type levelCounter struct {
	mu   sync.Mutex
	msgs []string
}

func (h *levelCounter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (h *levelCounter) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, r.Level.String()+" "+r.Message)
	return nil
}
func (h *levelCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *levelCounter) WithGroup(string) slog.Handler      { return h }

// TestQuietStartAndStop: a cluster that starts, serves a client and stops
// cleanly logs no warning and no error.
func TestQuietStartAndStop(t *testing.T) {
	h := new(levelCounter)
	c, err := natstest.Start(&natstest.Options{Accounts: testAccounts, Logger: slog.New(h)})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := connect(t, c.MQTTURLs()[:1], "gridhub", "quiet-hub", false, "pwh")
	if err != nil {
		c.Close()
		t.Fatal(err)
	}
	subscribe(t, cl, contract.Root+"/dev/+/event")
	cl.Disconnect(100)
	c.Close()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range h.msgs {
		t.Errorf("logged %s", m)
	}
}

// TestPortTaken: a node whose port is taken fails to start with an error
// that says so and names the port, and can start once the port is free.
func TestPortTaken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	taken := l.Addr().String()
	s, err := natsbroker.New(&natsbroker.Options{
		Name:       "lonely",
		MQTTListen: taken,
		Listen:     "127.0.0.1:0",
		DataDir:    t.TempDir(),
		Accounts:   testAccounts,
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Start()
	if !errors.Is(err, natsbroker.ErrListen) || !strings.Contains(err.Error(), taken) {
		s.Close()
		t.Fatalf("Start on a taken port: %v, want ErrListen naming %s", err, taken)
	}
	l.Close()
	if err := s.Start(); err != nil {
		t.Fatalf("Start once the port is free: %v", err)
	}
	s.Close()
}
