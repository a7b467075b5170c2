package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	bolt "go.etcd.io/bbolt"

	"linli/devices/store"
	"linli/mqtt/contract"
	"linli/mqtt/mqtttest"
	"linli/mqtt/uplink"
)

// alarmsPerBroker is how many alarms BenchmarkAlarmToWatch sends through
// each broker (and how many floor round trips it measures).
const alarmsPerBroker = 1000

// BenchmarkAlarmToWatch is issue 3's figure: from an alarm decided on a
// device to its grid alert received by a worker watching the grid, over
// loopback, through the gridhub binary with its embedded broker and with
// mosquitto.
//
// The device side is sensord's: store.Commit writes the event and its
// outbox entry in one fsync'd bbolt transaction, the uplink publishes it at
// QoS 1. The watcher is the hubclient of gridctl watch. Each alarm is
// followed by its reset (and the alert's clearing) before the next one, so
// each of the alarms raises a new alert. The clock starts before Commit.
//
// The floor is measured on the same broker in the same run: one fsync'd
// bbolt transaction, then a bare paho QoS 1 publish received by a QoS 1
// subscriber. It reports for each broker p50-ms and p99-ms of the alarms,
// floor-p99-ms, and x-floor = p99 / floor p99 (target ≤ 10). The
// nats-cluster case is issue 10's: the same path through a 3-node NATS
// cluster, against the cluster's own QoS 1 hop.
func BenchmarkAlarmToWatch(b *testing.B) {
	for _, bk := range []struct {
		name  string
		start func(b *testing.B) *hub
	}{
		{"embedded", func(b *testing.B) *hub { return startHub(b, "") }},
		{"mosquitto", func(b *testing.B) *hub {
			// Mosquitto leaves Nagle's algorithm on unless told: a PUBACK
			// and a PUBLISH sent back to back then wait for the peer's
			// delayed ACK (40 ms on Linux). A deployment sets it too.
			m := mqtttest.Mosquitto(b, &mqtttest.MosquittoOpts{Persistence: true, Config: []string{"set_tcp_nodelay true"}})
			return startHub(b, m.URL())
		}},
		// Issue 10: a 3-node NATS cluster (JetStream R3). The hub's own
		// node is node 1; the device, the watching worker and the floor's
		// publisher and subscriber are on node 0.
		{"nats-cluster", func(b *testing.B) *hub { return startClusterHub(b, sharedCluster(b), 1, 0) }},
	} {
		b.Run(bk.name, func(b *testing.B) {
			h := bk.start(b)
			b.ResetTimer()
			var lat, floor []time.Duration
			for range b.N {
				floor = append(floor, floorLatencies(b, h.url, alarmsPerBroker)...)
				lat = append(lat, alarmLatencies(b, h.url, alarmsPerBroker)...)
			}
			b.StopTimer()
			p50, p99 := quantiles(lat)
			f50, f99 := quantiles(floor)
			b.Logf("alarm→watch: p50 %v p90 %v p99 %v max %v; floor: p50 %v p90 %v p99 %v max %v",
				p50, quantile(lat, 0.9), p99, quantile(lat, 1), f50, quantile(floor, 0.9), f99, quantile(floor, 1))
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
			b.ReportMetric(ms(p50), "p50-ms")
			b.ReportMetric(ms(p99), "p99-ms")
			b.ReportMetric(ms(f50), "floor-p50-ms")
			b.ReportMetric(ms(f99), "floor-p99-ms")
			b.ReportMetric(float64(p99)/float64(f99), "x-floor")
			b.ReportMetric(0, "ns/op")
		})
	}
}

func quantiles(d []time.Duration) (p50, p99 time.Duration) {
	d = slices.Clone(d)
	slices.Sort(d)
	return d[len(d)/2], d[len(d)*99/100]
}

func quantile(d []time.Duration, q float64) time.Duration {
	d = slices.Clone(d)
	slices.Sort(d)
	return d[min(len(d)-1, int(float64(len(d))*q))]
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// alarmLatencies sends n alarms from device bench-1 through the store,
// outbox and uplink, and times each to its alert at a watching worker.
func alarmLatencies(b *testing.B, url string, n int) []time.Duration {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db, err := store.Open(filepath.Join(b.TempDir(), "sensord.db"), &store.Options{Device: "bench-1", Logger: discard()})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	up, err := uplink.New(db.Bolt(), db.Outbox(), &uplink.Options{
		Broker: url, ClientID: "bench-1", Username: "bench-1", Password: "pw", Logger: discard(),
		Birth: func(uint32) *contract.Birth { return &contract.Birth{Device: "bench-1", Kind: "sensor"} },
	})
	if err != nil {
		b.Fatal(err)
	}
	upDone := make(chan error, 1)
	go func() { upDone <- up.Run(ctx) }()
	defer func() { cancel(); <-upDone }()

	w, err := worker(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	alerts, err := w.Alerts(ctx, "g1")
	if err != nil {
		b.Fatal(err)
	}
	// next waits for the alert message of event id.
	next := func(id string, cleared bool) time.Time {
		timeout := time.After(30 * time.Second)
		for {
			select {
			case a := <-alerts:
				if a.Device == "bench-1" && a.Cleared == cleared && (cleared || a.EventID == id) {
					return time.Now()
				}
			case <-timeout:
				b.Fatalf("no alert (cleared %v) for event %s within 30 s", cleared, id)
			}
		}
	}
	commit := func(from, to contract.State, cause string) string {
		evs, err := db.Commit([]contract.Event{{Channel: "busbar-l1", Kind: "temperature", From: from, To: to,
			Cause: cause, Value: 95, Unit: "°C", SetPoint: 90}})
		if err != nil {
			b.Fatal(err)
		}
		return evs[0].ID
	}
	lat := make([]time.Duration, 0, n)
	for range n {
		t0 := time.Now()
		id := commit(contract.StateNormal, contract.StateAlarm, "threshold")
		lat = append(lat, next(id, false).Sub(t0))
		commit(contract.StateAlarm, contract.StateNormal, "reset")
		next("", true)
	}
	return lat
}

// floorLatencies times n rounds of one fsync'd bbolt transaction followed
// by a bare paho QoS 1 publish of a small message, received by a QoS 1
// subscriber on the same broker. The publisher is device floor-1 on its
// state topic, which a worker may read.
func floorLatencies(b *testing.B, url string, n int) []time.Duration {
	db, err := bolt.Open(filepath.Join(b.TempDir(), "floor.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("b")); return err }); err != nil {
		b.Fatal(err)
	}
	connect := func(id, user string) paho.Client {
		c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID(id).SetUsername(user).
			SetPassword("pw").SetProtocolVersion(4).SetCleanSession(true))
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			b.Fatalf("connect %s: %v", id, tok.Error())
		}
		return c
	}
	pub := connect("floor-1", "floor-1")
	defer pub.Disconnect(0)
	sub := connect("gridctl-w1-floor", "w1") // a client id of w1 (mqtt/broker binds ids to accounts)
	defer sub.Disconnect(0)
	topic := contract.DeviceTopic("floor-1", "state")
	got := make(chan time.Time, 1)
	tok := sub.Subscribe(topic, 1, func(paho.Client, paho.Message) { got <- time.Now() })
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatalf("subscribe: %v", tok.Error())
	}
	payload := contract.MustEncode(&contract.DeviceState{Device: "floor-1", Session: 1})
	lat := make([]time.Duration, 0, n)
	for i := range n {
		t0 := time.Now()
		if err := db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("b")).Put(fmt.Appendf(nil, "%08d", i), payload)
		}); err != nil {
			b.Fatal(err)
		}
		pub.Publish(topic, 1, false, payload)
		select {
		case t1 := <-got:
			lat = append(lat, t1.Sub(t0))
		case <-time.After(10 * time.Second):
			b.Fatal("floor message not received within 10 s")
		}
	}
	return lat
}
