package hub

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	bolt "go.etcd.io/bbolt"

	"linli/grid/config"
	"linli/mqtt/broker"
	"linli/mqtt/contract"
)

// BenchmarkHubLoad runs the hub with the embedded broker under the load of
// a community: 5,000 devices sending one telemetry message a second, and
// alarms (each followed by its reset) mixed in. One iteration is one second
// of that load, paced in real time, so run it with e.g. -benchtime=5x.
//
// The ACL binds a device id to its own login, so the simulated devices
// publish through 10 clients of an "admin" account, each multiplexing 500
// device ids; the broker's work per message is the same.
//
// It reports the p50 and p99 latency from an alarm's publish to its alert
// arriving at a worker, the hub's largest outbox depth, and the p99 ratio
// to an idle hub measured first in the same run (alarm-p99-x-idle). For
// where the time goes it also reports to-hub-p99-ms, from the alarm's
// publish to the hub raising the alert (the broker, and the hub's queue in
// front of the alarm), and fsync-p99-ms, a bbolt transaction timed every
// 100 ms during the load: on a loaded machine the disk is most of it.
func BenchmarkHubLoad(b *testing.B) {
	const (
		devices    = 5000
		publishers = 10
		alarmsPerS = 10
	)
	cfg, err := config.Parse([]byte(testConfig))
	if err != nil {
		b.Fatal(err)
	}
	acc := cfg.Accounts()
	acc["bench"] = broker.Entry{Account: broker.Account{ID: "bench", Role: broker.RoleAdmin}, Password: "pw"}
	srv, err := broker.New(&broker.Options{Listen: "127.0.0.1:0", DataDir: b.TempDir(), Accounts: acc, Logger: logger(b)})
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	url := "tcp://" + srv.Addr()
	db, err := bolt.Open(filepath.Join(b.TempDir(), "hub.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	h, err := New(db, cfg, &Options{Broker: url, Password: "hubpw", Logger: logger(b)})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	defer func() { cancel(); <-done }()
	<-h.Ready()

	connect := func(id string) paho.Client {
		c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID(id).
			SetUsername("bench").SetPassword("pw").SetProtocolVersion(4).SetMaxResumePubInFlight(1000))
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			b.Fatalf("connect %s: %v", id, tok.Error())
		}
		return c
	}
	var mu sync.Mutex
	sent := map[string]time.Time{}
	var lat, toHub []time.Duration
	watcher := connect("bench-watch")
	defer watcher.Disconnect(0)
	tok := watcher.Subscribe(contract.Root+"/grid/+/alert", 1, func(_ paho.Client, m paho.Message) {
		now := time.Now()
		msg, err := contract.Decode(m.Topic(), m.Payload())
		if err != nil {
			return
		}
		a := msg.(*contract.Alert)
		mu.Lock()
		if t0, ok := sent[a.EventID]; ok && !a.Cleared {
			lat = append(lat, now.Sub(t0))
			toHub = append(toHub, a.Raised.Sub(t0)) // the hub's clock is this process's
			delete(sent, a.EventID)
		}
		mu.Unlock()
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatal(tok.Error())
	}
	alarmer := connect("bench-alarm")
	defer alarmer.Disconnect(0)
	seq := uint64(0)
	alarm := func() {
		seq++
		ev := &contract.Event{ID: fmt.Sprintf("bench-%d", seq), Device: "dev-1", Session: 1, Seq: seq,
			Channel: "busbar-l1", Kind: "temperature", To: contract.StateAlarm, Cause: "threshold", Value: 90}
		p := contract.MustEncode(ev)
		mu.Lock()
		sent[ev.ID] = time.Now()
		mu.Unlock()
		alarmer.Publish(contract.DeviceTopic("dev-1", "event"), 1, false, p)
		seq++
		reset := &contract.Event{ID: fmt.Sprintf("bench-%d", seq), Device: "dev-1", Session: 1, Seq: seq,
			Channel: "busbar-l1", Kind: "temperature", To: contract.StateNormal, Cause: "reset"}
		alarmer.Publish(contract.DeviceTopic("dev-1", "event"), 1, false, contract.MustEncode(reset))
	}
	p99 := func() (time.Duration, time.Duration, time.Duration) {
		// Wait for the alerts still under way.
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			n := len(sent)
			mu.Unlock()
			if n == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(sent) > 0 {
			b.Errorf("%d alarms got no alert", len(sent))
		}
		if len(lat) == 0 {
			return 0, 0, 0
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		sort.Slice(toHub, func(i, j int) bool { return toHub[i] < toHub[j] })
		p50, p99, hub99 := lat[len(lat)/2], lat[(len(lat)*99)/100], toHub[(len(toHub)*99)/100]
		b.Logf("alarm latencies: n=%d top %v; publish→hub top %v", len(lat), lat[max(0, len(lat)-5):], toHub[max(0, len(toHub)-5):])
		lat, toHub = lat[:0], toHub[:0]
		return p50, p99, hub99
	}
	// fsyncs times a bbolt transaction every 100 ms until stop: the disk's
	// part of every figure on a loaded machine.
	fdb, err := bolt.Open(filepath.Join(b.TempDir(), "fsync.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer fdb.Close()
	fsyncs := func(stop <-chan struct{}) <-chan time.Duration {
		res := make(chan time.Duration, 1)
		go func() {
			var d []time.Duration
			for i := 0; ; i++ {
				select {
				case <-stop:
					sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
					res <- d[(len(d)*99)/100]
					return
				case <-time.After(100 * time.Millisecond):
				}
				t0 := time.Now()
				_ = fdb.Update(func(tx *bolt.Tx) error {
					bk, err := tx.CreateBucketIfNotExists([]byte("b"))
					if err != nil {
						return err
					}
					return bk.Put(fmt.Appendf(nil, "%d", i), []byte("x"))
				})
				d = append(d, time.Since(t0))
			}
		}()
		return res
	}

	// Idle baseline: alarms alone.
	for range 50 {
		alarm()
		time.Sleep(20 * time.Millisecond)
	}
	_, idle99, _ := p99()

	pubs := make([]paho.Client, publishers)
	for i := range pubs {
		pubs[i] = connect(fmt.Sprintf("bench-pub-%d", i))
		defer pubs[i].Disconnect(0)
	}
	tseq := make([]uint64, devices)
	stopFsync := make(chan struct{})
	fsync99 := fsyncs(stopFsync)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		second := time.Now()
		var wg sync.WaitGroup
		for p := range pubs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Each publisher spreads its 500 devices over the second.
				per := devices / publishers
				step := time.Second / time.Duration(per)
				var toks []paho.Token
				for k := range per {
					d := p*per + k
					tseq[d]++
					id := fmt.Sprintf("sim-%04d", d)
					m := &contract.Telemetry{Device: id, Session: 1, Seq: tseq[d],
						Readings: []contract.Reading{{Channel: "busbar-l1", Value: 35.5, Unit: "°C"}}}
					toks = append(toks, pubs[p].Publish(contract.DeviceTopic(id, "telemetry"), 1, false, contract.MustEncode(m)))
					if wait := time.Until(second.Add(time.Duration(k+1) * step)); wait > 0 {
						time.Sleep(wait)
					}
				}
				for _, t := range toks {
					t.WaitTimeout(10 * time.Second)
				}
			}()
		}
		for range alarmsPerS {
			alarm()
			time.Sleep(time.Second / alarmsPerS)
		}
		wg.Wait()
	}
	elapsed := time.Since(start)
	b.StopTimer()
	p50, load99, hub99 := p99()
	close(stopFsync)
	f99 := <-fsync99
	st := h.Stats()
	b.ReportMetric(float64(p50.Microseconds())/1000, "alarm-p50-ms")
	b.ReportMetric(float64(load99.Microseconds())/1000, "alarm-p99-ms")
	b.ReportMetric(float64(idle99.Microseconds())/1000, "idle-p99-ms")
	b.ReportMetric(float64(hub99.Microseconds())/1000, "to-hub-p99-ms")
	b.ReportMetric(float64(f99.Microseconds())/1000, "fsync-p99-ms")
	if idle99 > 0 {
		b.ReportMetric(float64(load99)/float64(idle99), "alarm-p99-x-idle")
	}
	b.ReportMetric(float64(st.MaxQueueDepth), "max-queue-depth")
	b.ReportMetric(float64(devices*b.N)/elapsed.Seconds(), "telemetry/s")
	b.ReportMetric(0, "ns/op")
}
