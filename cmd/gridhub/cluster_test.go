package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats-server/v2/server"

	"linli/cmd/internal/bintest"
	"linli/mqtt/contract"
	"linli/mqtt/mqtttest"
)

// exampleFile writes the example configuration (plain passwords) to a file.
func exampleFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hub.json")
	if err := os.WriteFile(path, exampleConfig(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// dial connects one MQTT 3.1.1 client; it returns the connect error.
func dial(t *testing.T, url, user, pass string, got chan<- paho.Message) (paho.Client, error) {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(url).SetClientID(user + "-t").SetUsername(user).SetPassword(pass).
		SetProtocolVersion(4).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second)
	if got != nil {
		o.SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { got <- m })
	}
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		t.Fatal("connect timeout")
	}
	if tok.Error() == nil {
		t.Cleanup(func() { c.Disconnect(0) })
	}
	return c, tok.Error()
}

func done(t *testing.T, tok paho.Token) paho.Token {
	t.Helper()
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("token: %v", tok.Error())
	}
	return tok
}

// checkRefusals runs the embedded broker's refusals against a broker
// configured from the example: a bad password, a forged topic, a
// subscription to '#', a subscription to another device's commands.
// mosquitto (2.0) grants any subscription and filters what it delivers by
// the read ACL (subackRefuses false); NATS refuses the subscription.
func checkRefusals(t *testing.T, url string, subackRefuses bool) {
	hubMsgs := make(chan paho.Message, 10)
	hub, err := dial(t, url, "gridhub", "hub-dev", hubMsgs)
	if err != nil {
		t.Fatalf("hub: %v", err)
	}
	done(t, hub.Subscribe(contract.Root+"/dev/+/event", 1, nil))
	if _, err := dial(t, url, "mb-0001", "wrong", nil); err == nil {
		t.Error("mb-0001 with a wrong password: connected")
	}
	devMsgs := make(chan paho.Message, 10)
	dev, err := dial(t, url, "mb-0001", "mb-dev", devMsgs)
	if err != nil {
		t.Fatalf("mb-0001: %v", err)
	}
	for filter, want := range map[string]bool{
		"#":                                    false,
		contract.DeviceTopic("mb-0002", "cmd"): false,
		contract.DeviceTopic("mb-0001", "cmd"): true,
	} {
		tok := done(t, dev.Subscribe(filter, 1, nil)).(*paho.SubscribeToken)
		if got := tok.Result()[filter] < 0x80; got != want && (want || subackRefuses) {
			t.Errorf("mb-0001 subscribe %q: granted %v, want %v", filter, got, want)
		}
	}
	// Whatever was granted, the device reads only its own commands.
	done(t, hub.Publish(contract.DeviceTopic("mb-0002", "cmd"), 1, false, "not yours"))
	done(t, hub.Publish(contract.DeviceTopic("mb-0001", "cmd"), 1, false, "yours"))
	select {
	case m := <-devMsgs:
		if string(m.Payload()) != "yours" {
			t.Errorf("mb-0001 got %q on %s, want only its own command", m.Payload(), m.Topic())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("mb-0001 got no command")
	}
	done(t, dev.Publish(contract.DeviceTopic("mb-0002", "event"), 0, false, "forged"))
	done(t, dev.Publish(contract.DeviceTopic("mb-0001", "event"), 1, false, "own"))
	select {
	case m := <-hubMsgs:
		if string(m.Payload()) != "own" {
			t.Errorf("hub got %q on %s, want only own", m.Payload(), m.Topic())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("hub got nothing")
	}
}

// TestConfigMosquitto: the password and ACL files, given to the real
// mosquitto, enforce the embedded broker's refusals.
func TestConfigMosquitto(t *testing.T) {
	cfg := exampleFile(t)
	dir := t.TempDir()
	for _, part := range []string{"passwd", "acl"} {
		var b bytes.Buffer
		if err := configMosquitto([]string{"--config", cfg, "--print", part}, &b, os.Stderr); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, part), b.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	m := mqtttest.Mosquitto(t, &mqtttest.MosquittoOpts{Config: []string{
		"allow_anonymous false",
		"password_file " + filepath.Join(dir, "passwd"),
		"acl_file " + filepath.Join(dir, "acl"),
	}})
	checkRefusals(t, m.URL(), false)
}

// TestConfigNATS: the printed configuration runs a nats-server that
// enforces the same refusals.
func TestConfigNATS(t *testing.T) {
	var b bytes.Buffer
	free := bintest.FreeAddr(t)
	args := []string{"--config", exampleFile(t), "--listen", free, "--nats", bintest.FreeAddr(t), "--data", t.TempDir()}
	if err := configNATS(args, &b, os.Stderr); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	o, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatalf("nats-server refuses the configuration: %v", err)
	}
	o.NoSigs, o.NoLog = true, true
	s, err := server.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	checkRefusals(t, "tcp://"+free, true)
}

// TestRunNATSNode runs gridhub with an embedded NATS node (on its own): a
// worker's request is answered, a device's alarm becomes an alert, a wrong
// password is refused, and a clean start and stop log no warning or error.
func TestRunNATSNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a gridhub process")
	}
	dir := t.TempDir()
	addr := bintest.FreeAddr(t)
	out := new(bytes.Buffer)
	cmd := exec.Command(binary, "run", "--config", exampleFile(t), "--data", dir, "--listen", addr,
		"--nats", bintest.FreeAddr(t), "--nats-node", "solo")
	cmd.Stderr = &lockedWriter{w: out}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
		<-exited
	}()
	url := "tcp://" + addr

	// The worker asks until the hub answers: it is then subscribed.
	w := mqttClient(t, addr, "w-li", "li-dev")
	resp := make(chan *contract.Response, 10)
	done(t, w.Subscribe(contract.ResponseTopic("w-li"), 1, func(_ paho.Client, m paho.Message) {
		if msg, err := contract.Decode(m.Topic(), m.Payload()); err == nil {
			resp <- msg.(*contract.Response)
		}
	}))
	alerts := func() []contract.Alert {
		t.Helper()
		for range 100 {
			req := &contract.Request{ID: fmt.Sprint(time.Now().UnixNano()), From: "w-li", Op: contract.OpAlertsList, Args: map[string]string{"all": "true"}}
			publish(t, w, contract.RequestTopic("w-li"), contract.MustEncode(req))
			select {
			case r := <-resp:
				var list []contract.Alert
				if err := json.Unmarshal(r.Body, &list); err != nil || !r.OK {
					t.Fatalf("alerts.list: %v %s", err, r.Error)
				}
				return list
			case <-time.After(time.Second):
			}
		}
		t.Fatalf("the hub does not answer:\n%s", out)
		return nil
	}
	if got := alerts(); len(got) != 0 {
		t.Fatalf("alerts before the alarm: %v", got)
	}
	if _, err := dial(t, url, "mb-0001", "wrong", nil); err == nil {
		t.Error("mb-0001 with a wrong password: connected")
	}
	dev := mqttClient(t, addr, "mb-0001", "mb-dev")
	ev := &contract.Event{ID: "mb-0001-1", Device: "mb-0001", Session: 1, Seq: 1,
		Channel: "busbar-l1", Kind: "temperature", To: contract.StateAlarm, Cause: "threshold", Value: 95, Unit: "°C"}
	publish(t, dev, contract.DeviceTopic("mb-0001", "event"), contract.MustEncode(ev))
	var got []contract.Alert
	for deadline := time.Now().Add(20 * time.Second); len(got) == 0 && time.Now().Before(deadline); {
		got = alerts()
	}
	if len(got) != 1 || got[0].EventID != "mb-0001-1" {
		t.Fatalf("alerts after the alarm: %+v", got)
	}

	_ = cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Fatalf("gridhub exit: %v\n%s", err, out)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("gridhub did not stop:\n%s", out)
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
			if !strings.Contains(line, "connect refused: bad user or password") {
				t.Errorf("not quiet: %s", line)
			}
		}
	}
}

// TestConfigShards: `gridhub config mosquitto|nats` given the
// configurations of two shards makes one set of users: each hub, device
// and worker once, a worker of both shards once; it refuses a
// configuration that does not say it shares the broker, and one id with
// two passwords.
func TestConfigShards(t *testing.T) {
	shard := func(name, subPassword string, shared bool) string {
		r := strings.NewReplacer("NAME", name, "SUBPW", subPassword, "SHARED", strconv.FormatBool(shared))
		path := filepath.Join(t.TempDir(), name+".json")
		body := r.Replace(`{"subdistrict": "sd", "shared_broker": SHARED,
  "hub": {"id": "hub-NAME", "password": "hubpw"},
  "communities": [{"id": "NAME", "name": "NAME", "grids": [{"id": "g-NAME", "name": "G", "buildings": ["b1"]}]}],
  "workers": [{"id": "w-NAME", "name": "W", "role": "grid-worker", "grid": "g-NAME", "on_duty": true, "password": "pw"},
              {"id": "s1", "name": "Liu", "role": "subdistrict", "on_duty": true, "password": "SUBPW"}],
  "devices": [{"id": "dev-NAME", "kind": "sensor", "password": "pw", "location": {"community": "NAME", "building": "b1"}}]}`)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	east, west := shard("east", "pw", true), shard("west", "pw", true)
	var b bytes.Buffer
	if err := configMosquitto([]string{"--config", east, "--config", west, "--print", "passwd"}, &b, os.Stderr); err != nil {
		t.Fatal(err)
	}
	var users []string
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		users = append(users, strings.SplitN(l, ":", 2)[0])
	}
	if want := []string{"dev-east", "dev-west", "hub-east", "hub-west", "s1", "w-east", "w-west"}; !slices.Equal(users, want) {
		t.Errorf("users of two shards: %v, want %v", users, want)
	}
	b.Reset()
	if err := configNATS([]string{"--config", east, "--config", west}, &b, os.Stderr); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(b.String(), `user: "s1"`); n != 1 {
		t.Errorf("s1 is %d times in the NATS configuration, want once:\n%s", n, b.String())
	}
	err := configMosquitto([]string{"--config", east, "--config", shard("north", "pw", false), "--print", "acl"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `does not say "shared_broker": true`) {
		t.Errorf("a configuration not marked shared: %v", err)
	}
	err = configMosquitto([]string{"--config", east, "--config", shard("south", "other", true), "--print", "acl"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `"s1" is in`) {
		t.Errorf("s1 with two passwords: %v", err)
	}
}
