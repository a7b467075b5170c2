package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"linli/devices/store"
	"linli/mqtt/contract"
	"linli/mqtt/mqtttest"
)

// TestFaults runs gridhub (embedded broker) and sensord playing
// testdata/alarms.json at 20× speed, while a worker resets the meter box's
// latched alarm every 300 ms so that alarms keep coming. In the middle of
// that stream it kills sensord with SIGKILL and starts it again, kills
// gridhub (and so its broker) with SIGKILL and starts it again, and cuts
// sensord's network for 5 s. Then it checks that the hub applied every
// event sensord committed exactly once, in sequence order, with no gap, and
// raised exactly one alert per alarm.
//
// The network cut is 5 s, not issue 3's 10 minutes: a cut of any length is
// the same to the device (events wait in its durable outbox, the uplink
// reconnects with a back-off capped at 30 s). The proxy closes the
// connections and refuses new ones, as a router that went away does; a cut
// that silently drops packets is noticed only by the keep-alive (30 s),
// which would make this test slow for nothing.
//
// With mosquitto as the broker (gridhub --broker) the test also restarts
// mosquitto (SIGTERM, persistence on) in the middle of the stream; with the
// embedded broker, killing gridhub is the broker's crash.
func TestFaults(t *testing.T) {
	// In parallel: the processes mostly wait, and each run has its own
	// ports and directories.
	t.Run("embedded", func(t *testing.T) { t.Parallel(); testFaults(t, nil) })
	t.Run("mosquitto", func(t *testing.T) {
		t.Parallel()
		m := mqtttest.Mosquitto(t, &mqtttest.MosquittoOpts{Persistence: true, Config: []string{"set_tcp_nodelay true"}})
		testFaults(t, m)
	})
}

func testFaults(t *testing.T, m *mqtttest.MosquittoServer) {
	var h *hub
	var px *proxy
	if m == nil {
		h = startHub(t, "")
		px = newProxy(t, h.listen)
	} else {
		h = startHub(t, m.URL())
		px = newProxy(t, m.Addr())
	}
	data := t.TempDir()
	sensord := func(scenario string, extra ...string) *proc {
		args := append([]string{"run", "--config", "testdata/sensor.json", "--sim", scenario,
			"--data", data, "--broker", "tcp://" + px.addr(), "--user", "e2e-1", "--pass", "pw"}, extra...)
		return start(t, "sensord", nil, args...)
	}
	s := sensord("testdata/alarms.json", "--speed", "20", "--exit-at-end=false")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := worker(ctx, h.url)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// lastSeq asks the hub how far it has applied e2e-1's events.
	lastSeq := func() contract.DeviceInfo {
		var devs []contract.DeviceInfo
		cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
		defer ccancel()
		if err := w.Call(cctx, contract.OpDevices, nil, nil, &devs); err != nil {
			return contract.DeviceInfo{}
		}
		for _, d := range devs {
			if d.Device == "e2e-1" {
				return d
			}
		}
		return contract.DeviceInfo{}
	}
	// grows waits until the hub has applied n more events than now.
	grows := func(what string, n uint64) {
		t.Helper()
		from := lastSeq().LastEventSeq
		deadline := time.Now().Add(60 * time.Second)
		for lastSeq().LastEventSeq < from+n {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the hub's last event of e2e-1 stayed at %d, want %d more", what, lastSeq().LastEventSeq, n)
			}
			time.Sleep(100 * time.Millisecond) // polling other processes
		}
	}

	// The resetter re-arms the residual alarm, as a worker would.
	var wg sync.WaitGroup
	stopReset := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-stopReset:
				return
			case <-time.After(300 * time.Millisecond):
			}
			cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
			// Fails while sensord or gridhub is down, or the network cut.
			_ = w.Call(cctx, contract.OpDeviceCmd, map[string]string{"device": "e2e-1", "name": contract.CmdReset}, nil, nil)
			ccancel()
		}
	})
	defer func() {
		select {
		case <-stopReset:
		default:
			close(stopReset)
		}
		wg.Wait()
	}()

	grows("start", 20)
	t.Log("kill -9 sensord")
	s.kill()
	s = sensord("testdata/alarms.json", "--speed", "20", "--exit-at-end=false")
	grows("after sensord's restart", 20)

	t.Log("kill -9 gridhub")
	h.p.kill()
	time.Sleep(2 * time.Second) // sensord goes on deciding alarms meanwhile
	h.start()
	grows("after gridhub's restart", 20)

	if m != nil {
		t.Log("broker restart")
		m.Stop()
		time.Sleep(time.Second) // sensord goes on deciding alarms meanwhile
		m.Start()
		grows("after the broker's restart", 20)
	}

	t.Log("network cut")
	px.cut(5 * time.Second)
	grows("after the network cut", 20)

	close(stopReset)
	wg.Wait()
	s.stop()
	// A last calm run sends what the outbox still holds, then exits.
	s = sensord("testdata/quiet.json", "--speed", "1", "--drain", "30s")
	if err := s.wait(60 * time.Second); err != nil {
		t.Fatal(err)
	}

	db, err := store.Open(filepath.Join(data, "sensord.db"), &store.Options{ReadOnly: true, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	sent, err := db.Events(0, 0)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	last := uint64(len(sent))
	deadline := time.Now().Add(30 * time.Second)
	var info contract.DeviceInfo
	for info = lastSeq(); info.LastEventSeq < last; info = lastSeq() {
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond) // polling other processes
	}
	if info.LastEventSeq != last || info.MissingEvents != 0 {
		t.Errorf("hub: last event %d, missing %d; want %d, 0", info.LastEventSeq, info.MissingEvents, last)
	}
	w.Close()
	h.p.stop()

	got, alerts := hubEvents(t, filepath.Join(h.data, "hub.db"), "e2e-1")
	if len(got) != len(sent) {
		t.Errorf("hub applied %d events of e2e-1, sensord committed %d", len(got), len(sent))
	}
	alarms := 0
	for i := range sent {
		if i < len(got) && (got[i].ID != sent[i].ID || got[i].Seq != uint64(i+1)) {
			t.Fatalf("hub's event %d is %s (seq %d), want %s (seq %d): a duplicate, a gap or out of order",
				i, got[i].ID, got[i].Seq, sent[i].ID, i+1)
		}
		if sent[i].To == contract.StateAlarm && sent[i].From != contract.StateAlarm {
			alarms++
		}
	}
	if alerts != alarms {
		t.Errorf("hub raised %d alarm alerts for e2e-1, sensord decided %d alarms", alerts, alarms)
	}
	t.Logf("%d events, %d alarms, each applied once and in order", len(sent), alarms)
	if alarms < 5 {
		t.Errorf("only %d alarms: the stream of alarms this test is about did not happen", alarms)
	}
}

// hubEvents reads a stopped gridhub's database: the events it applied for
// device, in the order applied, and the number of alarm alerts it raised
// for it.
func hubEvents(t *testing.T, path, device string) ([]contract.Event, int) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var evs []contract.Event
	alerts := 0
	err = db.View(func(tx *bolt.Tx) error {
		if err := tx.Bucket([]byte("hub.events")).ForEach(func(_, v []byte) error {
			var e contract.Event
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			if e.Device == device {
				evs = append(evs, e)
			}
			return nil
		}); err != nil {
			return err
		}
		return tx.Bucket([]byte("hub.alerts")).ForEach(func(_, v []byte) error {
			var a contract.Alert
			if err := json.Unmarshal(v, &a); err != nil {
				return err
			}
			if a.Device == device && a.State == contract.StateAlarm {
				alerts++
			}
			return nil
		})
	})
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return evs, alerts
}

// proxy forwards TCP connections to a target, and can cut them.
type proxy struct {
	t      *testing.T
	l      net.Listener
	target string

	mu    sync.Mutex
	conns map[net.Conn]bool
	down  bool
	wg    sync.WaitGroup
}

func newProxy(t *testing.T, target string) *proxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, l: l, target: target, conns: map[net.Conn]bool{}}
	p.wg.Go(p.serve)
	t.Cleanup(func() {
		l.Close()
		p.closeAll()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) addr() string { return p.l.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			c.Close() // refused while the network is cut
			continue
		}
		up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		pipe := func(dst, src net.Conn) {
			_, _ = io.Copy(dst, src)
			dst.Close()
			src.Close()
			p.mu.Lock()
			delete(p.conns, dst)
			delete(p.conns, src)
			p.mu.Unlock()
		}
		p.wg.Go(func() { pipe(up, c) })
		p.wg.Go(func() { pipe(c, up) })
	}
}

func (p *proxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// cut closes every connection and refuses new ones for d.
func (p *proxy) cut(d time.Duration) {
	p.mu.Lock()
	p.down = true
	p.mu.Unlock()
	p.closeAll()
	time.Sleep(d) // the length of the outage
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}
