package hub

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"linli/mqtt/broker"
	"linli/mqtt/contract"
)

// TestTelemetry checks that telemetry, on the hub's second connection,
// refreshes a device's last-seen and brings it back online, and that a
// malformed one is counted and dropped.
func TestTelemetry(t *testing.T) { brokers(t, testTelemetry) }

func testTelemetry(t *testing.T, e *env) {
	h := e.start().h
	d := e.device("dev-1")
	d.send(&contract.Birth{Device: "dev-1", Kind: "sensor", Session: 1}, "birth", false)
	d.send(&contract.Death{Device: "dev-1", Session: 1}, "death", false)
	info := func() contract.DeviceInfo {
		for _, i := range h.Devices() {
			if i.Device == "dev-1" {
				return i
			}
		}
		return contract.DeviceInfo{}
	}
	e.eventually("dev-1 offline", func() bool { return info().Session == 1 && !info().Online })
	e.clock.Advance(time.Minute)
	seen := e.clock.Now()
	tele := &contract.Telemetry{Device: "dev-1", Session: 2, Seq: 1, Readings: []contract.Reading{{Channel: "busbar-l1", Value: 30, Unit: "°C"}}}
	// The telemetry connection subscribes on its own: send until seen.
	e.eventually("telemetry seen", func() bool {
		d.send(tele, "telemetry", false)
		time.Sleep(10 * time.Millisecond)
		i := info()
		return i.LastSeen.Equal(seen) && i.Online && i.Session == 2
	})
	before := h.Stats().Malformed
	d.c.Publish(contract.DeviceTopic("dev-1", "telemetry"), []byte(`{"v":1,"type":"telemetry","device":"dev-2","session":2,"seq":2}`), 1, false)
	e.eventually("wrong device counted", func() bool { return h.Stats().Malformed > before })
}

// TestTelemetryFeed: with Options.TelemetryFeed the hub takes telemetry
// from the embedded broker's
// Options.Telemetry, with the same effect: last-seen refreshed, the device
// back online, a malformed message counted.
func TestTelemetryFeed(t *testing.T) {
	e := newEnv(t, "")
	e.feed = new(atomic.Pointer[Hub])
	s, err := broker.New(&broker.Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Accounts: e.cfg.Accounts(), Logger: logger(t),
		Telemetry: func(topic string, payload []byte) {
			if h := e.feed.Load(); h != nil {
				h.Telemetry(topic, payload)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	e.url = "tcp://" + s.Addr()
	testTelemetry(t, e)
}

func TestDecodeTelemetry(t *testing.T) {
	topic := contract.DeviceTopic("d1", "telemetry")
	tests := []struct {
		topic, payload string
		want           error
	}{
		{topic, `{"v":1,"type":"telemetry","device":"d1","session":3,"seq":1,"readings":[]}`, nil},
		{topic, `{"v":2,"type":"telemetry","device":"d1"}`, contract.ErrVersion},
		{topic, `{"v":1,"type":"event","device":"d1"}`, contract.ErrType},
		{contract.DeviceTopic("d1", "state"), `{"v":1,"type":"telemetry","device":"d1"}`, contract.ErrType},
		{topic, `{"v":1,"type":"telemetry","device":"d2"}`, contract.ErrMalformed},
		{topic, `{not json`, contract.ErrMalformed},
	}
	for _, tt := range tests {
		m, err := decodeTelemetry(tt.topic, []byte(tt.payload))
		if !errors.Is(err, tt.want) {
			t.Errorf("decodeTelemetry(%s, %s) error = %v, want %v", tt.topic, tt.payload, err, tt.want)
			continue
		}
		if err == nil && (m.Device != "d1" || m.Session != 3) {
			t.Errorf("decodeTelemetry(%s) = %+v, want d1 session 3", tt.payload, m)
		}
	}
}
