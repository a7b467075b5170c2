package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	bolt "go.etcd.io/bbolt"

	"linli/grid/config"
	"linli/grid/replica"
	"linli/grid/replica/replicatest"
	"linli/mqtt/contract"
	"linli/mqtt/mqtttest"
)

// haDevices is the number of meter boxes streaming alarms in TestHATakeover.
const haDevices = 50

// haDevice is the id of stream device d (1-based).
func haDevice(d int) string { return fmt.Sprintf("sd-%04d", d) }

// haHub is one gridhub --ha process.
type haHub struct {
	name string
	cmd  *exec.Cmd
	out  *lockedWriter
}

func (h *haHub) log() string {
	h.out.mu.Lock()
	defer h.out.mu.Unlock()
	return h.out.w.String()
}

// logTail logs the last n lines of the hub's log.
func (h *haHub) logTail(t testing.TB, n int) {
	lines := strings.Split(strings.TrimRight(h.log(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	t.Logf("hub %s, the last %d lines of its log:\n%s", h.name, len(lines), strings.Join(lines, "\n"))
}

// waitLog waits until the hub's log holds s.
func (h *haHub) waitLog(t testing.TB, s string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !strings.Contains(h.log(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not log %q within %s:\n%s", h.name, s, within, h.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *haHub) signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if err := h.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// haRig is a broker (mosquitto or a NATS cluster's MQTT listeners), a
// JetStream server or cluster and a configuration whose hubs run with --ha.
type haRig struct {
	dir, cfg string
	brokers  []string // MQTT URLs, tcp://HOST:PORT; clients fail over between them
	nats     string   // --ha: NATS URLs, comma-separated
	replicas int      // --ha-replicas
	js       jetstream.JetStream
	lease    string // --ha-lease
}

// newHARig starts mosquitto and a single JetStream server.
func newHARig(t testing.TB) *haRig {
	t.Helper()
	r := newHAConfig(t)
	// mosquitto, not the embedded broker: mochi (v2.7.9), which stays up
	// while the hub is killed, loses now and then a message in flight to
	// the killed session when the next hub takes it over.
	// The hub's session queues every event while no hub is connected:
	// mosquitto's default bound (1,000) would drop alarms in a takeover.
	r.brokers = []string{"tcp://" + mqtttest.Mosquitto(t, &mqtttest.MosquittoOpts{Config: []string{"max_queued_messages 1000000"}}).Addr()}
	r.connectJS(t, replicatest.Server(t).ClientURL(), 1)
	return r
}

// connectJS sets the rig's JetStream URLs and connects the test to them.
func (r *haRig) connectJS(t testing.TB, urls string, replicas int, opts ...nats.Option) {
	t.Helper()
	r.nats, r.replicas = urls, replicas
	nc, err := nats.Connect(urls, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if r.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
}

// client connects one MQTT client with a persistent session to the rig's
// brokers.
func (r *haRig) client(t testing.TB, id, pass string) paho.Client {
	t.Helper()
	o := paho.NewClientOptions().SetClientID(id).SetUsername(id).SetPassword(pass).
		SetCleanSession(false).SetAutoReconnect(true).SetConnectRetry(true).
		SetConnectRetryInterval(50 * time.Millisecond).SetMaxReconnectInterval(200 * time.Millisecond).
		SetProtocolVersion(4)
	for _, u := range r.brokers {
		o.AddBroker(u)
	}
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(20*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

// haConfig returns the example configuration with haDevices more meter
// boxes and short escalation times.
func haConfig(t testing.TB) []byte {
	t.Helper()
	// Short escalation times: a deadline falls inside a takeover.
	ex := strings.Replace(string(config.Example()), `"escalation": {"grid": "5m", "community": "10m"}`,
		`"escalation": {"grid": "6s", "community": "1m"}`, 1)
	// haDevices more meter boxes, sd-0001…, in the community's buildings.
	var doc map[string]any
	if err := json.Unmarshal([]byte(ex), &doc); err != nil {
		t.Fatal(err)
	}
	devs := doc["devices"].([]any)
	for d := 1; d <= haDevices; d++ {
		devs = append(devs, map[string]any{"id": haDevice(d), "kind": "sensor", "password": "mb-dev",
			"location": map[string]any{"community": "east", "building": fmt.Sprintf("b%d", 1+d%8), "unit": "1"}})
	}
	doc["devices"] = devs
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := config.Parse(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// newHAConfig writes haConfig to a new rig's directory.
func newHAConfig(t testing.TB) *haRig {
	t.Helper()
	r := &haRig{dir: t.TempDir(), lease: "2s"}
	r.cfg = filepath.Join(r.dir, "gridhub.json")
	if err := os.WriteFile(r.cfg, haConfig(t), 0o600); err != nil {
		t.Fatal(err)
	}
	return r
}

// start starts hub name, with extra arguments.
func (r *haRig) start(t testing.TB, name string, extra ...string) *haHub {
	t.Helper()
	h := &haHub{name: name, out: &lockedWriter{w: new(bytes.Buffer)}}
	args := []string{"run", "--config", r.cfg, "--data", filepath.Join(r.dir, name),
		"--broker", strings.Join(r.brokers, ","), "--ha", r.nats, "--ha-name", name, "--ha-lease", r.lease,
		"--ha-replicas", strconv.Itoa(r.replicas), "--log-level", "debug"}
	h.cmd = exec.Command(binary, append(args, extra...)...)
	h.cmd.Stderr = h.out
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.cmd.Process.Signal(syscall.SIGCONT)
		h.cmd.Process.Kill()
		h.cmd.Wait()
		if t.Failed() {
			h.logTail(t, 60)
		}
		if dir := os.Getenv("LINLI_TEST_LOGS"); dir != "" {
			os.WriteFile(filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+"-"+h.name+".log"), []byte(h.log()), 0o644)
		}
	})
	return h
}

// requester sends requests as one worker and waits for the answers,
// sending again while no hub answers (a takeover).
type requester struct {
	c    paho.Client
	id   string
	mu   sync.Mutex
	resp map[string]chan *contract.Response
}

func newRequester(t *testing.T, rig *haRig, id, pass string) *requester {
	t.Helper()
	r := &requester{c: rig.client(t, id, pass), id: id, resp: map[string]chan *contract.Response{}}
	tok := r.c.Subscribe(contract.ResponseTopic(id), 1, func(_ paho.Client, m paho.Message) {
		msg, err := contract.Decode(m.Topic(), m.Payload())
		if err != nil {
			return
		}
		resp := msg.(*contract.Response)
		r.mu.Lock()
		ch := r.resp[resp.ID]
		r.mu.Unlock()
		if ch != nil {
			select {
			case ch <- resp:
			default:
			}
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal("subscribe", tok.Error())
	}
	return r
}

func (r *requester) call(t *testing.T, op string, body any, args ...string) json.RawMessage {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for n := 0; time.Now().Before(deadline); n++ {
		req := &contract.Request{ID: fmt.Sprintf("%s-%d-%d", op, time.Now().UnixNano(), n), From: r.id, Op: op, Args: map[string]string{}}
		for i := 0; i+1 < len(args); i += 2 {
			req.Args[args[i]] = args[i+1]
		}
		if body != nil {
			req.Body, _ = json.Marshal(body)
		}
		ch := make(chan *contract.Response, 1)
		r.mu.Lock()
		r.resp[req.ID] = ch
		r.mu.Unlock()
		publish(t, r.c, contract.RequestTopic(r.id), contract.MustEncode(req))
		select {
		case resp := <-ch:
			if !resp.OK {
				t.Fatalf("%s %v by %s: %s", op, args, r.id, resp.Error)
			}
			return resp.Body
		case <-time.After(2 * time.Second):
		}
	}
	t.Fatalf("%s %v by %s: no answer in 30 s", op, args, r.id)
	return nil
}

func (r *requester) alerts(t *testing.T) map[string]contract.Alert {
	t.Helper()
	var list []contract.Alert
	if err := json.Unmarshal(r.call(t, contract.OpAlertsList, nil, "all", "true"), &list); err != nil {
		t.Fatal(err)
	}
	byEvent := map[string]contract.Alert{}
	for _, a := range list {
		if old, dup := byEvent[a.EventID]; dup {
			t.Errorf("event %s raised two alerts: %s and %s", a.EventID, old.ID, a.ID)
		}
		byEvent[a.EventID] = a
	}
	return byEvent
}

// alarmStream has each device raise and reset alarms, events first..last,
// re-sending until the broker takes them, as a device's outbox does. The
// odd events are alarms. It returns once all are sent.
func alarmStream(t *testing.T, devs []paho.Client, first, last int, mid func()) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(devs))
	for d, c := range devs {
		id := haDevice(d + 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := first; i <= last; i++ {
				if d == 0 && i == (first+last)/2 && mid != nil {
					mid()
				}
				to, cause := contract.StateAlarm, "threshold"
				if i%2 == 0 {
					to, cause = contract.StateNormal, "reset"
				}
				ev := &contract.Event{ID: fmt.Sprintf("%s-%d", id, i), Device: id, Session: 1, Seq: uint64(i),
					Channel: "busbar-l1", Kind: "temperature", To: to, Cause: cause, Value: 90, Unit: "°C"}
				if err := publishErr(c, contract.DeviceTopic(id, "event"), contract.MustEncode(ev)); err != nil {
					errs <- err
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func publishErr(c paho.Client, topic string, payload []byte) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		tok := c.Publish(topic, 1, false, payload)
		if tok.WaitTimeout(2*time.Second) && tok.Error() == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("publish %s: no acknowledgement", topic)
}

// alertsByEvent reads the alerts in hub h's file, by event; an event with
// two alerts is an error.
func alertsByEvent(t *testing.T, r *haRig, h *haHub) map[string]contract.Alert {
	t.Helper()
	m := map[string]contract.Alert{}
	for _, x := range readAlerts(t, filepath.Join(r.dir, h.name, "hub.db")) {
		if old, dup := m[x.EventID]; dup {
			t.Errorf("%s: event %s raised two alerts: %s and %s", h.name, x.EventID, old.ID, x.ID)
		}
		m[x.EventID] = x
	}
	return m
}

// checkAlarms checks that every alarm of events 1..last of each stream
// device is exactly one alert, cleared by its reset, each with an id of
// its own, and that there are exactly others alerts besides them.
func checkAlarms(t *testing.T, got map[string]contract.Alert, devs, last, others int) {
	t.Helper()
	for d := 1; d <= devs; d++ {
		for i := 1; i < last; i += 2 {
			ev := fmt.Sprintf("%s-%d", haDevice(d), i)
			if a, ok := got[ev]; !ok {
				t.Errorf("alarm %s: no alert", ev)
			} else if !a.Cleared {
				t.Errorf("alarm %s: alert %s not cleared by its reset", ev, a.ID)
			}
		}
	}
	// One alert per alarm, and the others'.
	if want := devs*last/2 + others; len(got) != want {
		t.Errorf("%d alerts, want %d", len(got), want)
	}
	ids := map[string]string{}
	for ev, x := range got {
		if other, dup := ids[x.ID]; dup {
			t.Errorf("alert id %s for events %s and %s", x.ID, other, ev)
		}
		ids[x.ID] = ev
	}
}

// waitAlerts polls until the alerts of want events are all there and
// cleared, or 30 s passed.
func waitAlerts(t *testing.T, w *requester, want func(map[string]contract.Alert) bool) map[string]contract.Alert {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := w.alerts(t)
		if want(got) || time.Now().After(deadline) {
			return got
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestHATakeover runs three gridhub --ha processes of one configuration:
// the active one is killed with SIGKILL in the middle of a stream of alarms,
// a standby takes over with the same alerts (same ids), tickets and
// escalation deadlines; then the new active one is paused past its lease
// and resumed, and cannot change anything.
func TestHATakeover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts gridhub processes")
	}
	r := newHARig(t)
	a := r.start(t, "a")
	a.waitLog(t, `msg=active`, 20*time.Second)
	a.waitLog(t, `msg=subscribed`, 20*time.Second)
	b := r.start(t, "b")
	b.waitLog(t, `msg=standby`, 20*time.Second)

	// sd-0001..50 stream alarms (1,250 in all); mb-0006 raises one to escalate.
	const ndev = haDevices
	const last1, last2 = 40, 50 // the event seqs of the two phases end there
	var devs []paho.Client
	for d := 1; d <= ndev; d++ {
		devs = append(devs, r.client(t, haDevice(d), "mb-dev"))
	}
	liu := newRequester(t, r, "s-liu", "liu-dev")
	wang := newRequester(t, r, "w-wang", "wang-dev")

	// Tickets filed and accepted before the kill.
	kiosk := r.client(t, "kiosk-02", "kiosk-dev")
	var numbers []string
	for i := 1; i <= 3; i++ {
		n := fmt.Sprintf("K2-261205-%05d", i)
		numbers = append(numbers, n)
		rep := &contract.Report{Number: n, Device: "kiosk-02", Category: "leak", Urgency: contract.UrgencyNormal,
			Location: contract.Location{Community: "east", Building: "b4"}, Phrases: []string{"漏水"},
			Time: contract.Stamp{At: time.Now(), Synced: true}}
		publish(t, kiosk, contract.DeviceTopic("kiosk-02", "report"), contract.MustEncode(rep))
	}
	for _, n := range numbers {
		deadline := time.Now().Add(10 * time.Second)
		for {
			var st contract.TicketStatus
			// Filed asynchronously: ask until the ticket is there.
			body, err := tryCall(wang, contract.OpTicketGet, "number", n)
			if err == nil && json.Unmarshal(body, &st) == nil && st.Number == n {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("ticket %s not filed: %v", n, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		wang.call(t, contract.OpTicketAccept, nil, "number", n)
	}

	// An alarm whose escalation deadline falls after the kill.
	esc := r.client(t, "mb-0006", "mb-dev")
	publish(t, esc, contract.DeviceTopic("mb-0006", "event"), contract.MustEncode(&contract.Event{
		ID: "mb-0006-1", Device: "mb-0006", Session: 1, Seq: 1, Channel: "busbar-l1", Kind: "temperature",
		To: contract.StateAlarm, Cause: "threshold", Value: 95, Unit: "°C"}))
	var escBefore contract.Alert
	waitAlerts(t, liu, func(m map[string]contract.Alert) bool { escBefore = m["mb-0006-1"]; return escBefore.ID != "" })

	// The stream, with the active hub killed in its middle.
	killed := make(chan time.Time, 1)
	alarmStream(t, devs, 1, last1, func() {
		// In the middle of a's work: once it raised some of the alerts
		// (under load it lags behind the stream).
		for deadline := time.Now().Add(10 * time.Second); strings.Count(a.log(), `msg="alert raised"`) < 20 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		a.signal(t, syscall.SIGKILL)
		killed <- time.Now()
	})
	killedAt := <-killed
	b.waitLog(t, `msg=active`, 20*time.Second)
	t.Logf("takeover: %s after the kill", time.Since(killedAt).Round(time.Millisecond))
	waitEvents(t, liu, ndev, last1)
	for _, n := range numbers {
		var st contract.TicketStatus
		if err := json.Unmarshal(wang.call(t, contract.OpTicketGet, nil, "number", n), &st); err != nil {
			t.Fatal(err)
		}
		if st.Status != "accepted" {
			t.Errorf("ticket %s: %s after the takeover, want accepted", n, st.Status)
		}
	}

	// Split brain: b paused past its lease; c takes over; b resumes.
	c := r.start(t, "c")
	c.waitLog(t, `msg=standby`, 20*time.Second)
	b.signal(t, syscall.SIGSTOP)
	c.waitLog(t, `msg=active`, 20*time.Second)
	resumed := make(chan struct{})
	alarmStream(t, devs, last1+1, last2, func() {
		b.signal(t, syscall.SIGCONT)
		close(resumed)
	})
	<-resumed
	b.waitLog(t, `msg="stepping down"`, 20*time.Second)
	waitEvents(t, liu, ndev, last2)
	// b, resumed, finds its connection taken over by c's: reconnecting
	// would take the session back from c, which takes it back, until b
	// has stopped; under load that went on for more than 30 s.
	if strings.Contains(c.log(), `msg="broker connection lost"`) {
		t.Errorf("c lost its broker connection while b stepped down: the deposed hub took the session back")
	}
	if wait := time.Until(escBefore.EscalateAt.Add(1500 * time.Millisecond)); wait > 0 {
		time.Sleep(wait)
	}

	// Stop c: b (a standby again) takes over, holding all c wrote; stop
	// it too and read the three files.
	c.signal(t, syscall.SIGTERM)
	if err := c.cmd.Wait(); err != nil {
		t.Errorf("c: %v", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(b.log(), "msg=active") < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	b.signal(t, syscall.SIGTERM)
	if err := b.cmd.Wait(); err != nil {
		t.Errorf("b: %v", err)
	}
	if t.Failed() {
		t.Logf("a:\n%s\nb:\n%s\nc:\n%s", a.log(), b.log(), c.log())
		return
	}
	byEvent := func(h *haHub) map[string]contract.Alert { return alertsByEvent(t, r, h) }
	final, onB, onA := byEvent(c), byEvent(b), byEvent(a)
	t.Logf("alerts: %d on the killed hub, %d after, escalated at %s for %s", len(onA), len(final),
		final["mb-0006-1"].EscalateAt.Add(-time.Minute).Format(time.StampMilli), escBefore.EscalateAt.Format(time.StampMilli))
	checkAlarms(t, final, ndev, last2, 1)
	for ev, x := range final {
		if y := onB[ev]; y.ID != x.ID || y.Cleared != x.Cleared || y.Level != x.Level {
			t.Errorf("event %s: alert %+v on c, %+v on b (its standby)", ev, x, y)
		}
	}
	if len(onB) != len(final) {
		t.Errorf("b holds %d alerts, c %d", len(onB), len(final))
	}
	for ev, x := range onA {
		if final[ev].ID != x.ID {
			t.Errorf("event %s: alert %s on the killed hub, %s after the takeover", ev, x.ID, final[ev].ID)
		}
	}
	if len(onA) < 10 {
		t.Errorf("only %d alerts on the killed hub: the kill was not in the middle", len(onA))
	}
	checkEscalation(t, escBefore, final["mb-0006-1"], takeoverTimes(a, b, c))
	checkEpochs(t, r.js)
	checkReplay(t, r, filepath.Join(r.dir, "b", "hub.db"))
	if t.Failed() {
		t.Logf("a:\n%s\nb:\n%s\nc:\n%s", a.log(), b.log(), c.log())
	}
}

// waitEvents waits until the hub applied the events up to seq last of
// stream devices 1..n.
func waitEvents(t *testing.T, w *requester, n int, last uint64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var devs []contract.DeviceInfo
		if err := json.Unmarshal(w.call(t, contract.OpDevices, nil), &devs); err != nil {
			t.Fatal(err)
		}
		done := 0
		for _, d := range devs {
			if strings.HasPrefix(d.Device, "sd-") && d.Device <= haDevice(n) && d.LastEventSeq == last {
				done++
			}
		}
		if done == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("events up to %d not applied after 30 s: %+v", last, devs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// readAlerts reads the alerts of a hub's file.
func readAlerts(t *testing.T, path string) []contract.Alert {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var out []contract.Alert
	err = db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("hub.alerts")).ForEach(func(_, v []byte) error {
			var a contract.Alert
			if err := json.Unmarshal(v, &a); err != nil {
				return err
			}
			out = append(out, a)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// tryCall sends one request and waits 2 s for its answer.
func tryCall(r *requester, op string, args ...string) (json.RawMessage, error) {
	req := &contract.Request{ID: fmt.Sprintf("%s-%d", op, time.Now().UnixNano()), From: r.id, Op: op, Args: map[string]string{}}
	for i := 0; i+1 < len(args); i += 2 {
		req.Args[args[i]] = args[i+1]
	}
	ch := make(chan *contract.Response, 1)
	r.mu.Lock()
	r.resp[req.ID] = ch
	r.mu.Unlock()
	if err := publishErr(r.c, contract.RequestTopic(r.id), contract.MustEncode(req)); err != nil {
		return nil, err
	}
	select {
	case resp := <-ch:
		if !resp.OK {
			return nil, errors.New(resp.Error)
		}
		return resp.Body, nil
	case <-time.After(2 * time.Second):
		return nil, errors.New("no answer")
	}
}

// checkEpochs reads the whole journal: the epochs of its entries never go
// down, so no deposed hub wrote after its successor's takeover.
func checkEpochs(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, "HUBJ_gridhub")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var last uint64
	takeovers := 0
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("journal entry %d: %v", seq, err)
		}
		e, err := strconv.ParseUint(m.Header.Get("Linli-Epoch"), 10, 64)
		if err != nil {
			t.Fatalf("journal entry %d: epoch: %v", seq, err)
		}
		if e < last {
			t.Errorf("journal entry %d written with epoch %d after epoch %d took over", seq, e, last)
		}
		if m.Header.Get("Linli-Kind") == "takeover" {
			takeovers++
		}
		last = max(last, e)
	}
	if takeovers != 4 {
		t.Errorf("%d takeovers in the journal, want 4 (a, b, c, b after c stopped)", takeovers)
	}
}

// checkReplay has a new standby, d, replay the whole journal while the test
// holds the lease, and compares its file with want, the file of the last
// active hub: a write that did not go through the journal shows.
func checkReplay(t *testing.T, r *haRig, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kv, err := r.js.KeyValue(ctx, replica.LeaseBucket)
	if err != nil {
		t.Fatal(err)
	}
	rev, err := kv.Create(ctx, "gridhub", []byte("test"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // hold the lease
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			case <-time.After(300 * time.Millisecond):
			}
			if n, err := kv.Update(ctx, "gridhub", []byte("test"), rev); err == nil {
				rev = n
			}
		}
	}()
	defer func() { close(done); wg.Wait() }()
	s, err := r.js.Stream(ctx, "HUBJ_gridhub")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// d runs until its file holds the journal's last entry: it is stopped
	// after a while and started again (resuming) until it does.
	exp := dumpFile(t, want)
	var got map[string]map[string]string
	for try := 1; ; try++ {
		d := r.start(t, "d")
		d.waitLog(t, "msg=standby", 20*time.Second)
		time.Sleep(time.Duration(try) * (500*time.Millisecond + time.Duration(info.State.Msgs)*time.Millisecond))
		d.signal(t, syscall.SIGTERM)
		if err := d.cmd.Wait(); err != nil {
			t.Fatalf("d: %v", err)
		}
		got = dumpFile(t, filepath.Join(r.dir, "d", "hub.db"))
		if got["replica"]["applied"] == exp["replica"]["applied"] {
			break
		}
		if try == 5 {
			t.Fatalf("d applied %x, b %x: d did not catch up", got["replica"]["applied"], exp["replica"]["applied"])
		}
	}
	for name, kvs := range exp {
		for k, v := range kvs {
			if g, ok := got[name][k]; !ok || g != v {
				t.Errorf("bucket %s key %q: %q on the last active hub, %q (present %v) replayed from the journal", name, k, v, g, ok)
			}
		}
	}
	for name, kvs := range got {
		for k := range kvs {
			if _, ok := exp[name][k]; !ok {
				t.Errorf("bucket %s key %q: replayed from the journal, not on the last active hub", name, k)
			}
		}
	}
}

// dumpFile returns the buckets of a bbolt file: name → key → value, with
// the bucket's sequence under the key "\x00seq".
func dumpFile(t *testing.T, path string) map[string]map[string]string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string]map[string]string{}
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			m := map[string]string{}
			if b.Sequence() != 0 {
				m["\x00seq"] = strconv.FormatUint(b.Sequence(), 10)
			}
			if err := b.ForEach(func(k, v []byte) error { m[string(k)] = string(v); return nil }); err != nil {
				return err
			}
			if len(m) > 0 {
				out[string(name)] = m
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
