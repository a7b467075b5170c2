package uplink

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"linli/mqtt/contract"
	"linli/mqtt/mqtttest"
)

func cmdPayload(dev, id, name string) []byte {
	return contract.MustEncode(&contract.Command{ID: id, Device: dev, Name: name, By: "w1", Args: map[string]string{"channel": "busbar-l1"}})
}

func acks(msgs []rx) map[string][]*contract.CommandAck {
	out := map[string][]*contract.CommandAck{}
	for _, m := range msgs {
		if a, ok := m.msg.(*contract.CommandAck); ok {
			out[a.ID] = append(out[a.ID], a)
		}
	}
	return out
}

func TestCommands(t *testing.T) {
	for _, b := range mqtttest.Brokers(t) {
		t.Run(b.Name, func(t *testing.T) {
			url := b.Start(t)
			const dev = "mb-0006"
			r := newReceiver(t, url, "hub")
			hub := mqtttest.Client(t, url, "hub-cmd")
			db, ob := openStore(t, "")
			var mu sync.Mutex
			ran := map[string]int{}
			o := testOptions(t, url, dev)
			o.OnCommand = func(ctx context.Context, c *contract.Command) *contract.CommandAck {
				mu.Lock()
				ran[c.ID]++
				mu.Unlock()
				if c.Name == contract.CmdTest {
					return &contract.CommandAck{OK: false, Error: "buzzer broken"}
				}
				return nil
			}
			u := newUplink(t, db, ob, o)
			start(t, u)
			r.waitFor("birth", 10*time.Second, func(m []rx) bool { return len(births(m, dev)) == 1 })
			waitStats(t, u, "connected", func(s Stats) bool { return s.Connected })

			topic := contract.DeviceTopic(dev, "cmd")
			tests := []struct {
				name    string
				payload []byte
				id      string // "" when no ack is expected
				ok      bool
				errHas  string
				bad     bool
			}{
				{"reset", cmdPayload(dev, "c1", contract.CmdReset), "c1", true, "", false},
				{"test fails", cmdPayload(dev, "c2", contract.CmdTest), "c2", false, "buzzer broken", false},
				{"unknown name", cmdPayload(dev, "c3", "explode"), "c3", false, "unknown command", true},
				{"malformed json", []byte(`{"v":1,"type":"cmd","id":`), "", false, "", true},
				{"unknown version", []byte(`{"v":9,"type":"cmd","id":"c5","device":"mb-0006","name":"reset"}`), "c5", false, "schema version", true},
				{"missing name", []byte(`{"v":1,"type":"cmd","id":"c6","device":"mb-0006"}`), "c6", false, "missing", true},
				{"oversized", []byte(`{"v":1,"type":"cmd","id":"c7","pad":"` + strings.Repeat("x", contract.MaxPayload) + `"}`), "", false, "", true},
				{"other device", cmdPayload("mb-9999", "c8", contract.CmdReset), "c8", false, "device", true},
				{"not an object", []byte(`[1,2,3]`), "", false, "", true},
			}
			wantBad := uint64(0)
			for _, tt := range tests {
				hub.Publish(topic, tt.payload, 1, false)
				if tt.bad {
					wantBad++
				}
			}
			// A redelivery of c1 is answered again without running it twice.
			hub.Publish(topic, cmdPayload(dev, "c1", contract.CmdReset), 1, false)
			// A marker command, answered last: everything before it was handled.
			hub.Publish(topic, cmdPayload(dev, "last", contract.CmdAck), 1, false)
			msgs := r.waitFor("ack of the marker", 10*time.Second, func(m []rx) bool { return len(acks(m)["last"]) == 1 })
			got := acks(msgs)
			for _, tt := range tests {
				a := got[tt.id]
				if tt.id == "" {
					continue
				}
				if len(a) == 0 {
					t.Errorf("%s: no ack for %s", tt.name, tt.id)
					continue
				}
				if a[0].OK != tt.ok || !strings.Contains(a[0].Error, tt.errHas) || a[0].Device != dev {
					t.Errorf("%s: ack = %+v, want ok=%v, error containing %q, device %s", tt.name, a[0], tt.ok, tt.errHas, dev)
				}
			}
			if n := len(got["c1"]); n != 2 {
				t.Errorf("c1 answered %d times, want 2 (once per delivery)", n)
			}
			mu.Lock()
			if ran["c1"] != 1 || ran["c2"] != 1 || ran["c3"] != 0 || ran["c5"] != 0 {
				t.Errorf("OnCommand runs = %v, want c1 and c2 once, c3 and c5 never", ran)
			}
			mu.Unlock()
			if s := u.Stats(); s.BadCommands != wantBad {
				t.Errorf("BadCommands = %d, want %d", s.BadCommands, wantBad)
			}
			for id, a := range got {
				if id != "c1" && len(a) != 1 {
					t.Errorf("%s answered %d times, want once", id, len(a))
				}
			}

			// rebirth publishes the birth again, on the same session.
			hub.Publish(topic, cmdPayload(dev, "rb", contract.CmdRebirth), 1, false)
			msgs = r.waitFor("second birth", 10*time.Second, func(m []rx) bool { return len(births(m, dev)) == 2 && len(acks(m)["rb"]) == 1 })
			if b := births(msgs, dev); b[1] != b[0] {
				t.Errorf("births = %v, want the same session twice", b)
			}
			if a := acks(msgs)["rb"][0]; !a.OK {
				t.Errorf("rebirth ack = %+v, want ok", a)
			}
			if s := u.Stats(); !s.Connected || s.Reconnects != 0 {
				t.Errorf("stats = %+v: a bad command must not drop the connection", s)
			}
		})
	}
}

// TestQueuedCommandsAcrossReconnect: commands sent while the device is away
// wait in its persistent session and are answered after it comes back.
func TestQueuedCommandsAcrossReconnect(t *testing.T) {
	url := mqtttest.Embedded(t)
	const dev = "mb-0007"
	r := newReceiver(t, url, "hub")
	hub := mqtttest.Client(t, url, "hub-cmd")
	db, ob := openStore(t, "")
	o := testOptions(t, url, dev)
	o.OnCommand = func(ctx context.Context, c *contract.Command) *contract.CommandAck { return nil }
	u := newUplink(t, db, ob, o)
	stop := start(t, u)
	waitStats(t, u, "connected", func(s Stats) bool { return s.Connected })
	stop()
	for i := range 3 {
		hub.Publish(contract.DeviceTopic(dev, "cmd"), cmdPayload(dev, fmt.Sprintf("q%d", i), contract.CmdReset), 1, false)
	}
	u2 := newUplink(t, db, ob, o)
	start(t, u2)
	r.waitFor("3 acks", 10*time.Second, func(m []rx) bool {
		a := acks(m)
		return len(a["q0"]) == 1 && len(a["q1"]) == 1 && len(a["q2"]) == 1
	})
}

func TestSubscriptions(t *testing.T) {
	url := mqtttest.Embedded(t)
	const dev = "kiosk-01"
	hub := mqtttest.Client(t, url, "hub-pub")
	db, ob := openStore(t, "")
	got := make(chan string, 10)
	o := testOptions(t, url, dev)
	o.Subscriptions = []Subscription{{
		Topic: contract.Root + "/area/c1/+/alerts", QoS: 1,
		Handle: func(topic string, payload []byte) { got <- topic + " " + string(payload) },
	}}
	u := newUplink(t, db, ob, o)
	start(t, u)
	waitStats(t, u, "connected", func(s Stats) bool { return s.Connected })
	hub.Publish(contract.AreaAlertsTopic("c1", "b7"), []byte("hello"), 1, false)
	select {
	case s := <-got:
		if want := contract.AreaAlertsTopic("c1", "b7") + " hello"; s != want {
			t.Errorf("handled %q, want %q", s, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("subscription handler not called")
	}
	if err := u.Publish(context.Background(), contract.DeviceTopic(dev, "report"), []byte("{}"), 1, false); err != nil {
		t.Errorf("direct Publish: %v", err)
	}
}
