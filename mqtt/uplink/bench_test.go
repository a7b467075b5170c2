package uplink

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	bolt "go.etcd.io/bbolt"

	"linli/mqtt/contract"
	"linli/mqtt/mqtttest"
	"linli/mqtt/outbox"
)

// hubCounter is an inline subscriber in the embedded broker: it counts
// events and telemetry as they arrive and notes how much telemetry arrived
// before the last expected event.
type hubCounter struct {
	events, telemetry atomic.Int64
	teleBeforeEvents  atomic.Int64 // telemetry seen while events < wantEvents
	wantEvents        int64
	allEvents         chan struct{}
	once              sync.Once
	target            atomic.Int64 // telemetry count that closes done
	done              chan struct{}
	doneOnce          sync.Once
	seen              sync.Map // event payload ids, for de-dup
}

func newHubCounter(srv *mochi.Server, b *testing.B, id int) *hubCounter {
	h := &hubCounter{allEvents: make(chan struct{}), done: make(chan struct{})}
	err := srv.Subscribe(contract.Root+"/dev/+/+", id, func(_ *mochi.Client, _ packets.Subscription, pk packets.Packet) {
		switch {
		case strings.HasSuffix(pk.TopicName, "/event"):
			if _, dup := h.seen.LoadOrStore(string(pk.Payload), true); dup {
				return
			}
			if h.events.Add(1) == h.wantEvents {
				h.once.Do(func() { close(h.allEvents) })
			}
		case strings.HasSuffix(pk.TopicName, "/telemetry"), strings.HasSuffix(pk.TopicName, "/raw"):
			if h.events.Load() < h.wantEvents {
				h.teleBeforeEvents.Add(1)
			}
			if h.telemetry.Add(1) == h.target.Load() {
				h.doneOnce.Do(func() { close(h.done) })
			}
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// fillBacklog writes tele telemetry items (8 readings each) and then events
// alarms, in transactions of 5,000, as a device offline for a while would
// have queued them.
func fillBacklog(b *testing.B, db *bolt.DB, ob *outbox.Outbox, dev string, tele, events int) {
	const chunk = 5000
	for i := 0; i < tele; i += chunk {
		err := db.Update(func(tx *bolt.Tx) error {
			for j := i; j < min(i+chunk, tele); j++ {
				if _, err := ob.PutTx(tx, telemetryItem(dev, uint64(j+1), 8)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	for i := 1; i <= events; i++ {
		putEvent(b, ob, dev, uint64(i))
	}
}

// rawThroughput publishes n copies of payload with a bare paho client,
// QoS 1, pipelined with window publishes in flight, and returns messages
// per second from the first publish to the last PUBACK.
func rawThroughput(b *testing.B, url string, n, window int, payload []byte) float64 {
	o := paho.NewClientOptions().AddBroker(url).SetClientID("raw").SetAutoReconnect(false).SetProtocolVersion(4)
	c := paho.NewClient(o)
	if err := mqtttest.Wait(context.Background(), c.Connect()); err != nil {
		b.Fatal(err)
	}
	defer c.Disconnect(100)
	topic := contract.DeviceTopic("raw-dev", "raw")
	toks := make(chan paho.Token, window)
	errc := make(chan error, 1)
	go func() {
		for tok := range toks {
			if err := mqtttest.Wait(context.Background(), tok); err != nil {
				select {
				case errc <- err:
				default:
				}
			}
		}
		close(errc)
	}()
	t0 := time.Now()
	for range n {
		toks <- c.Publish(topic, 1, false, payload)
	}
	close(toks)
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	return float64(n) / time.Since(t0).Seconds()
}

// BenchmarkBacklogDrain: a device offline for 24 h has 86,400 telemetry
// batches (8 channels at 1 Hz, one Telemetry per second) and 100 alarms
// queued. On connect every alarm must reach the hub before any telemetry;
// reported are the time to all alarms (ms-to-alarms, target ≤ 1000), the
// drain rate (items/s) and its ratio to a bare paho client publishing the
// same payloads QoS 1 pipelined on the same broker (x-raw-throughput,
// target ≥ 0.5). x-raw-cpu is the process's CPU time per item (broker
// included) of the drain over that of the bare client: less sensitive than
// the wall-clock ratio to other load on the machine. Run with
// -benchtime=1x: one iteration drains the backlog.
func BenchmarkBacklogDrain(b *testing.B) {
	for _, sc := range []struct {
		name string
		tele int
	}{{"1h", 3600}, {"24h", 86400}} {
		b.Run(sc.name, func(b *testing.B) { benchDrain(b, sc.tele) })
	}
}

// rawWindow is the baseline's publishes in flight: enough that paho, not
// the window, is the limit.
const rawWindow = 1024

func benchDrain(b *testing.B, tele int) {
	const events = 100
	const dev = "mb-bench"
	srv, url := mqtttest.EmbeddedServer(b)
	payload := telemetryItem(dev, 1, 8).Payload
	rawThroughput(b, url, 5000, rawWindow, payload) // warm the broker up
	var sumRatio, sumAlarms, sumRate, sumRaw, sumCPU float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		// The baseline runs right before and right after the drain, and
		// their mean is used: other load on the machine hits both.
		c0 := cpuTime()
		raw := rawThroughput(b, url, tele, rawWindow, payload)
		cpuRaw := cpuTime() - c0
		db, err := bolt.Open(filepath.Join(b.TempDir(), "dev.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		ob, err := outbox.Open(db, nil)
		if err != nil {
			b.Fatal(err)
		}
		fillBacklog(b, db, ob, dev, tele, events)
		h := newHubCounter(srv, b, 100+i)
		h.wantEvents = events
		h.target.Store(int64(tele))
		o := &Options{Broker: url, ClientID: dev, Birth: birthFor(dev), Logger: testLog(b)}
		u, err := New(db, ob, o)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		b.StartTimer()
		t0 := time.Now()
		c0 = cpuTime()
		go func() { done <- u.Run(ctx) }()
		<-h.allEvents
		tAlarms := time.Since(t0)
		<-h.done
		for u.Stats().QueueDepth != 0 { // the last deletes follow the last PUBACKs
			time.Sleep(time.Millisecond)
		}
		tAll := time.Since(t0)
		cpuDrain := cpuTime() - c0
		b.StopTimer()
		cancel()
		<-done
		srv.Unsubscribe(contract.Root+"/dev/+/+", 100+i)
		db.Close()
		if n := h.teleBeforeEvents.Load(); n != 0 {
			b.Errorf("%d telemetry messages reached the hub before all alarms", n)
		}
		if s := u.Stats(); s.Published != uint64(tele+events) {
			b.Errorf("published %d, want %d", s.Published, tele+events)
		}
		c0 = cpuTime()
		raw = (raw + rawThroughput(b, url, tele, rawWindow, payload)) / 2
		cpuRaw = (cpuRaw + cpuTime() - c0) / 2
		sumCPU += float64(cpuDrain) / float64(tele+events) / (float64(cpuRaw) / float64(tele))
		rate := float64(tele+events) / tAll.Seconds()
		sumRatio += rate / raw
		sumAlarms += float64(tAlarms.Milliseconds())
		sumRate += rate
		sumRaw += raw
	}
	n := float64(b.N)
	b.ReportMetric(sumAlarms/n, "ms-to-alarms")
	b.ReportMetric(sumRate/n, "items/s")
	b.ReportMetric(sumRaw/n, "raw-msgs/s")
	b.ReportMetric(sumRatio/n, "x-raw-throughput")
	b.ReportMetric(sumCPU/n, "x-raw-cpu")
}

// cpuTime is the CPU time (user and system) the test process used so far,
// broker included. Per item, it tells the uplink's cost apart from the
// load of other processes, which the wall-clock ratio cannot.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkEventLatency measures one alarm from the commit of its
// outbox.Put to the hub's subscriber (µs-uplink), against a bare paho QoS 1
// publish to the same subscriber (µs-raw); x-raw-latency is their ratio.
// µs-put is the bbolt commit itself (the device's cost of durability,
// which the raw publish does not pay).
func BenchmarkEventLatency(b *testing.B) {
	const dev = "mb-lat"
	srv, url := mqtttest.EmbeddedServer(b)
	got := make(chan struct{}, 1)
	if err := srv.Subscribe(contract.Root+"/dev/+/+", 7, func(_ *mochi.Client, _ packets.Subscription, pk packets.Packet) {
		if strings.HasSuffix(pk.TopicName, "/event") || strings.HasSuffix(pk.TopicName, "/raw") {
			got <- struct{}{}
		}
	}); err != nil {
		b.Fatal(err)
	}
	db, err := bolt.Open(filepath.Join(b.TempDir(), "dev.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ob, err := outbox.Open(db, nil)
	if err != nil {
		b.Fatal(err)
	}
	u, err := New(db, ob, &Options{Broker: url, ClientID: dev, Birth: birthFor(dev), Logger: testLog(b)})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for !u.Stats().Connected {
		time.Sleep(time.Millisecond)
	}
	raw := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("raw-lat").SetProtocolVersion(4))
	if err := mqtttest.Wait(context.Background(), raw.Connect()); err != nil {
		b.Fatal(err)
	}
	defer raw.Disconnect(100)
	payload := contract.MustEncode(&contract.Event{ID: "x", Device: dev, Seq: 1, Channel: "c", To: contract.StateAlarm})

	var rawTotal, upTotal, putTotal time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		raw.Publish(contract.DeviceTopic("raw-dev", "raw"), 1, false, payload)
		<-got
		rawTotal += time.Since(t0)

		e := &contract.Event{ID: fmt.Sprintf("e%d", i), Device: dev, Seq: uint64(i + 1), Channel: "c", To: contract.StateAlarm}
		t0 = time.Now()
		if _, err := ob.Put(outbox.Item{Class: outbox.Event, Topic: contract.DeviceTopic(dev, "event"), Payload: contract.MustEncode(e), QoS: 1}); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		<-got
		putTotal += t1.Sub(t0)
		upTotal += time.Since(t1)
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(putTotal.Microseconds())/n, "µs-put")
	b.ReportMetric(float64(upTotal.Microseconds())/n, "µs-uplink")
	b.ReportMetric(float64(rawTotal.Microseconds())/n, "µs-raw")
	b.ReportMetric(float64(upTotal)/float64(rawTotal), "x-raw-latency")
}
