package hub

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	bolt "go.etcd.io/bbolt"

	"linli/grid/config"
	"linli/mqtt/contract"
)

var contractErrs = []error{contract.ErrTooLarge, contract.ErrMalformed, contract.ErrVersion, contract.ErrType, contract.ErrTopic, contract.ErrMissing}

func isContractErr(err error) bool {
	for _, s := range contractErrs {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// FuzzDecodeTelemetry checks the telemetry header decoder: it never
// panics, refuses with the contract's errors (which refuse counts), and
// accepts only telemetry of the schema version from the device named by
// the topic. Whatever contract.Decode accepts as telemetry it accepts too,
// with the same device and session (it reads less of the message, so it
// may accept a body Decode would refuse: the readings are not looked at).
func FuzzDecodeTelemetry(f *testing.F) {
	golden, err := os.ReadFile("../../mqtt/contract/testdata/telemetry.json")
	if err != nil {
		f.Fatal(err)
	}
	topic := contract.DeviceTopic("mb-0001", "telemetry")
	f.Add(topic, golden)
	f.Add(contract.DeviceTopic("mb-0002", "telemetry"), golden)
	f.Add(contract.DeviceTopic("mb-0001", "event"), golden)
	f.Add(topic, []byte(`{"v":1,"type":"telemetry","device":"mb-0001","session":4294967295}`))
	f.Add(topic, []byte(`{"v":1,"type":"telemetry","device":"mb-0001","session":4294967296}`))
	f.Add(topic, []byte(`{"V":1,"TYPE":"telemetry","Device":"mb-0001"}`))
	f.Add(topic, []byte(`{"v":2,"type":"telemetry","device":"mb-0001"}`))
	f.Add(topic, []byte(`null`))
	f.Add("linli/v1/dev/+/telemetry", []byte(`{"v":1,"type":"telemetry","device":"+"}`))
	f.Add("linli/v1/dev//telemetry", []byte(`{"v":1,"type":"telemetry","device":""}`))
	f.Add("", []byte(``))
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		m, err := decodeTelemetry(topic, payload)
		if err != nil {
			if m != nil {
				t.Fatalf("decodeTelemetry returned a header with error %v", err)
			}
			if !isContractErr(err) {
				t.Fatalf("decodeTelemetry(%q, %q) error %v wraps none of the contract's errors", topic, payload, err)
			}
		} else {
			tp, perr := contract.ParseTopic(topic)
			switch {
			case perr != nil || tp.Kind != "dev" || tp.Leaf != "telemetry":
				t.Fatalf("decodeTelemetry accepted topic %q (%v)", topic, perr)
			case m.V != contract.Version || m.Type != contract.TypeTelemetry:
				t.Fatalf("decodeTelemetry(%q) accepted v=%d type=%q", payload, m.V, m.Type)
			case m.Device != tp.Device || !contract.ValidID(m.Device):
				t.Fatalf("decodeTelemetry(%q, %q) accepted device %q", topic, payload, m.Device)
			case len(payload) > contract.MaxPayload:
				t.Fatalf("decodeTelemetry accepted %d bytes", len(payload))
			}
		}
		full, ferr := contract.Decode(topic, payload)
		if tm, ok := full.(*contract.Telemetry); ferr == nil && ok {
			if err != nil {
				t.Fatalf("contract.Decode accepts %q on %q but decodeTelemetry refuses: %v", payload, topic, err)
			}
			if tm.Device != m.Device || tm.Session != m.Session {
				t.Fatalf("decodeTelemetry read device %q session %d, contract.Decode %q %d", m.Device, m.Session, tm.Device, tm.Session)
			}
		}
	})
}

// failingClient is a paho client whose publishes fail at once: requests
// that get as far as sending a command end with its error.
type failingClient struct{ paho.Client }

var errNoLink = errors.New("fuzz: no broker")

func (failingClient) Publish(string, byte, bool, any) paho.Token { return failedToken{} }

type failedToken struct{}

func (failedToken) Wait() bool                     { return true }
func (failedToken) WaitTimeout(time.Duration) bool { return true }
func (failedToken) Done() <-chan struct{}          { c := make(chan struct{}); close(c); return c }
func (failedToken) Error() error                   { return errNoLink }

// FuzzServeRequest sends the hub's request operations arbitrary clients,
// senders, operations and arguments. The hub knows dev-1, which raised an
// alarm. serveRequest must never panic; it refuses with ErrForbidden,
// ErrBadRequest or ErrNotFound (or, for a command it was allowed to send,
// the broker's error); it refuses anyone but a configured worker asking on
// its own topic; and what it answers encodes as JSON.
func FuzzServeRequest(f *testing.F) {
	cfg, err := config.Parse([]byte(testConfig))
	if err != nil {
		f.Fatal(err)
	}
	db, err := bolt.Open(filepath.Join(f.TempDir(), "hub.db"), 0o600, &bolt.Options{Timeout: time.Second, NoSync: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	h, err := New(db, cfg, &Options{Broker: "tcp://127.0.0.1:1", Logger: logger(f), CommandTimeout: time.Millisecond})
	if err != nil {
		f.Fatal(err)
	}
	h.client = failingClient{}
	h.applyBatch([]queuedEvent{{ev: &contract.Event{ID: "dev-1-e1", Device: "dev-1", Session: 1, Seq: 1, Channel: "busbar-l1",
		Kind: "temperature", From: contract.StateNormal, To: contract.StateAlarm, Cause: "threshold", Value: 95, Unit: "°C"}, ack: func() {}}})
	alerts, err := h.Alerts(false)
	if err != nil || len(alerts) != 1 {
		f.Fatalf("alerts = %v, %v; want one", alerts, err)
	}
	alert := alerts[0].ID

	f.Add("w1", "", contract.OpAlertsList, "all", "true", "", "")
	f.Add("w2", "w2", contract.OpAlertsList, "", "", "", "")
	f.Add("w1", "", contract.OpAlertAck, "id", alert, "", "")
	f.Add("w2", "", contract.OpAlertAck, "id", alert, "", "")
	f.Add("w1", "", contract.OpAlertAck, "id", "", "", "")
	f.Add("c1", "w1", contract.OpDevices, "", "", "", "")
	f.Add("m1", "", contract.OpDeviceCmd, "device", "dev-1", "name", contract.CmdReset)
	f.Add("w1", "", contract.OpDeviceCmd, "device", "dev-1", "name", "set-thresholds")
	f.Add("w1", "", contract.OpDeviceCmd, "device", "nope", "name", contract.CmdAck)
	f.Add("dev-1", "", contract.OpDevices, "", "", "", "")
	f.Add("s1", "s1", contract.OpDevices, "", "", "", "")
	f.Add("w1", "", "no.such.op", "", "", "", "")
	f.Fuzz(func(t *testing.T, client, from, op, k1, v1, k2, v2 string) {
		req := &contract.Request{ID: "q-1", From: from, Op: op, Args: map[string]string{k1: v1, k2: v2}}
		body, err := h.serveRequest(context.Background(), client, req)
		w, isWorker := cfg.Worker(client)
		if err != nil {
			if !errors.Is(err, ErrForbidden) && !errors.Is(err, ErrBadRequest) && !errors.Is(err, ErrNotFound) && !errors.Is(err, errNoLink) {
				t.Fatalf("serveRequest(%q, %+v) error %v wraps none of the hub's errors", client, req, err)
			}
			return
		}
		switch {
		case !isWorker:
			t.Fatalf("serveRequest served %q, who is not a worker", client)
		case from != "" && from != client:
			t.Fatalf("serveRequest served %q a request from %q", client, from)
		case op == contract.OpDeviceCmd:
			t.Fatalf("serveRequest answered a command (%s by %s) without sending it", req.Args["name"], w.ID)
		}
		if _, err := json.Marshal(body); err != nil {
			t.Fatalf("serveRequest(%+v) answered %#v, which does not encode: %v", req, body, err)
		}
	})
}
