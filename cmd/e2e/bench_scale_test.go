package e2e

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"linli/cmd/internal/bintest"
	"linli/grid/config"
	"linli/mqtt/contract"
	"linli/mqtt/natsbroker/natstest"
)

// scaleAlarmTarget is issue 10's bound on the alarm p99 at each size.
const scaleAlarmTarget = 50 * time.Millisecond

// scaleSettleMax bounds the settling phase before the timed load.
const scaleSettleMax = 2 * time.Minute

// scaleDuration is the load time per size: the 60 s, or
// LINLI_SCALE_DURATION (a Go duration) for development.
func scaleDuration(b *testing.B) time.Duration {
	if s := os.Getenv("LINLI_SCALE_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			b.Fatalf("LINLI_SCALE_DURATION: %v", err)
		}
		return d
	}
	return 60 * time.Second
}

// scaleSizes are issue 10's sizes, or LINLI_SCALE_SIZES (comma-separated).
func scaleSizes(b *testing.B) []int {
	s := os.Getenv("LINLI_SCALE_SIZES")
	if s == "" {
		return []int{5000, 10000, 20000}
	}
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			b.Fatalf("LINLI_SCALE_SIZES: %q is not a size", f)
		}
		out = append(out, n)
	}
	return out
}

// BenchmarkDevicesPerHub is issue 10's capacity figure: n simulated devices,
// each its own MQTT connection with its own account, a persistent session,
// a will, keep-alive, a QoS 1 subscription to its cmd topic and retained
// birth and state, as sensord's uplink connects; then, once alarms are
// prompt again after that mass connect (settle-s: the seconds until probe
// alarms of 10 s in a row were all under the target, telemetry running),
// for scaleDuration each device publishes one telemetry message a second
// (QoS 0) while
// alarms (QoS 1 events from distinct devices, 4 a second, ≥ 200 in 60 s)
// are timed from the device's publish to the alert at a watching worker
// (the hubclient of gridctl watch). The hub is the real gridhub binary,
// with its embedded mochi broker or as a client of a 3-node NATS cluster
// (natstest, in this process; devices are spread over its nodes).
//
// It reports p50-ms and p99-ms of the alarms, x-target = p99 / 50 ms
// (holds when ≤ 1), lost (alarms with no alert, counted as 1 h),
// hub-rss-MB-per-1k (gridhub's VmRSS growth over its idle start per 1,000
// devices, which includes the embedded broker) and, for the cluster,
// proc-rss-MB-per-1k (this process's growth: the three nodes plus the
// load generator's connections), and hub-cpu-%-per-1k and
// proc-cpu-%-per-1k: the CPU gridhub and this process used during the
// load, in % of one core per 1,000 devices (robust to whatever else the
// machine runs, which the latencies are not).
//
// It runs only with LINLI_SCALE=1 (make bench-scale): at the sizes
// it takes well over ten minutes and needs an open-file limit above 40,000,
// more than `make bench` may take.
func BenchmarkDevicesPerHub(b *testing.B) {
	if os.Getenv("LINLI_SCALE") == "" {
		b.Skip("set LINLI_SCALE=1 (make bench-scale): thousands of connections for minutes")
	}
	fdLimit := raiseFileLimit(b)
	d := scaleDuration(b)
	for _, bk := range []string{"embedded", "nats-cluster"} {
		b.Run(bk, func(b *testing.B) {
			held := 0
			for _, n := range scaleSizes(b) {
				b.Run(strconv.Itoa(n), func(b *testing.B) {
					// n device sockets here and n in gridhub, or, with the
					// cluster's nodes in this process, 2n sockets and the
					// files of each session's consumer on each of the three
					// nodes (about 3n); plus files, routes and listeners.
					need := uint64(n) + 1000
					if bk != "embedded" {
						need += 4 * uint64(n)
					}
					if need > fdLimit {
						b.Skipf("%d devices need an open-file limit of about %d; this process may have %d (raise the hard limit: ulimit -Hn, or run as a user with CAP_SYS_RESOURCE)", n, need, fdLimit)
					}
					for range b.N {
						p99 := runScale(b, bk, n, d)
						if p99 <= scaleAlarmTarget {
							held = n
						}
					}
				})
			}
			b.Logf("%s: largest size with alarm p99 ≤ %v: %d", bk, scaleAlarmTarget, held)
		})
	}
}

// raiseFileLimit lets this process (and gridhub, which inherits it) hold
// 20,000 connections on each side, and returns the open-file limit it got.
func raiseFileLimit(b *testing.B) uint64 {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		b.Fatal(err)
	}
	hard := l.Max
	l.Cur, l.Max = 200000, max(l.Max, 200000)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		// Without CAP_SYS_RESOURCE: up to the hard limit.
		l.Cur, l.Max = hard, hard
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			b.Fatal(err)
		}
		b.Logf("open-file limit %d (cannot raise the hard limit: %v): a size near it cannot connect", hard, err)
	}
	return l.Cur
}

// scaleConfig is hubConfig's community with n devices dev-00001….
func scaleConfig(n int) []byte {
	var c map[string]any
	if err := json.Unmarshal([]byte(hubConfig), &c); err != nil {
		panic(err)
	}
	devs := make([]any, 0, n)
	var buildings []string
	for i := range n {
		if i%scaleDevicesPerBuilding == 0 {
			buildings = append(buildings, scaleBuilding(i))
		}
		devs = append(devs, map[string]any{"id": scaleID(i), "kind": "sensor", "password": "pw-" + scaleID(i),
			"location": map[string]string{"community": "east", "building": scaleBuilding(i), "unit": strconv.Itoa(i)}})
	}
	c["devices"] = devs
	c["communities"] = []any{map[string]any{"id": "east", "name": "East",
		"grids": []any{map[string]any{"id": "g1", "name": "Grid 1", "buildings": buildings}}}}
	b, err := json.Marshal(c)
	if err != nil {
		panic(err)
	}
	return b
}

func scaleID(i int) string { return fmt.Sprintf("dev-%05d", i) }

// scaleDevicesPerBuilding spreads the devices over buildings: the hub keeps
// a building's active alerts in one retained message, which holds about
// 110 alerts within contract.MaxPayload (see BenchmarkDevicesPerHub).
const scaleDevicesPerBuilding = 50

func scaleBuilding(i int) string { return fmt.Sprintf("b%d", i/scaleDevicesPerBuilding+1) }

// runScale runs one size on one broker and returns the alarms' p99.
func runScale(b *testing.B, bk string, n int, d time.Duration) time.Duration {
	cfgJSON := scaleConfig(n)
	dir := b.TempDir()
	h := &hub{t: b, config: dir + "/hub.json", data: dir + "/data"}
	if err := os.WriteFile(h.config, cfgJSON, 0o600); err != nil {
		b.Fatal(err)
	}
	var urls []string
	before := rss(b, os.Getpid())
	switch bk {
	case "embedded":
		h.listen = freeAddr(b)
		h.url = "tcp://" + h.listen
		urls = []string{h.url}
	default:
		cfg, err := config.Parse(cfgJSON)
		if err != nil {
			b.Fatal(err)
		}
		c, err := natstest.Start(&natstest.Options{Accounts: cfg.Accounts(), Logger: discard()})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(c.Close)
		h.broker, h.url = rotate(c, 1), c.MQTTURLs()[0]
		urls = c.MQTTURLs()
	}
	h.start()
	hubIdle := rss(b, h.p.cmd.Process.Pid)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fleet := &fleet{}
	defer fleet.close()
	t0 := time.Now()
	// Devices connect 32 at a time, as a fleet does after a power cut.
	devs := make([]*device, n)
	var dmu sync.Mutex
	errs := make(chan error, n)
	var dial sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range n {
		dial.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			addr := strings.TrimPrefix(urls[i%len(urls)], "tcp://")
			dv, err := dialDevice(addr, scaleID(i), i)
			if err != nil {
				errs <- fmt.Errorf("device %d of %d: %w", i, n, err)
				return
			}
			dmu.Lock()
			devs[i] = dv
			dmu.Unlock()
		})
	}
	// A device connected early pings while the rest connect, so that its
	// keep-alive does not expire before the load starts.
	pingDone, stopPing := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(pingDone)
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stopPing:
				return
			case <-t.C:
				dmu.Lock()
				ready := slicesCloneDevs(devs)
				dmu.Unlock()
				for _, dv := range ready {
					if dv != nil {
						_ = dv.write([]byte{0xc0, 0}) // PINGREQ; its PINGRESP waits in the buffer
					}
				}
			}
		}
	}()
	dial.Wait()
	close(stopPing)
	<-pingDone
	for _, dv := range devs {
		if dv != nil {
			fleet.add(dv)
		}
	}
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	b.Logf("%s/%d: %d devices connected in %v", bk, n, n, time.Since(t0).Round(time.Millisecond))

	w, err := worker(ctx, h.url)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	alerts, err := w.Alerts(ctx, "g1")
	if err != nil {
		b.Fatal(err)
	}
	var (
		mu   sync.Mutex
		sent = map[string]time.Time{}
		// probes are the settling phase's alarms (see settle): their
		// latencies go to probed, not into the figures.
		probes = map[string]time.Time{}
		probed = make(chan time.Duration, 64)
		lat    []time.Duration
		// slow lists the alarms over the target: when in the load (from
		// loadStart) they were sent, and how long they took.
		slow      []string
		loadStart = time.Now()
	)
	recvDone := make(chan struct{})
	go func() {
		defer close(recvDone)
		for a := range alerts {
			now := time.Now()
			mu.Lock()
			if t, ok := probes[a.EventID]; ok && !a.Cleared {
				delete(probes, a.EventID)
				select {
				case probed <- now.Sub(t):
				default:
				}
			}
			if t, ok := sent[a.EventID]; ok && !a.Cleared {
				lat = append(lat, now.Sub(t))
				if l := now.Sub(t); l > scaleAlarmTarget {
					// Raised is the hub's clock (this machine's) when it
					// applied the event: the alarm's wait before it, and
					// after it (outbox, broker, watcher).
					slow = append(slow, fmt.Sprintf("t+%v:%v(in %v, out %v)", t.Sub(loadStart).Round(time.Millisecond), l.Round(time.Millisecond),
						a.Raised.Sub(t).Round(time.Millisecond), now.Sub(a.Raised).Round(time.Millisecond)))
				}
				delete(sent, a.EventID)
			}
			mu.Unlock()
		}
	}()

	// Telemetry from the settling phase to the end of the load.
	teleCtx, stopTele := context.WithCancel(ctx)
	defer stopTele()
	var wg sync.WaitGroup
	wg.Go(func() { fleet.telemetry(teleCtx) })

	// Settle: a fleet that has just connected (after a power cut, say)
	// sends every birth and state at once, and the broker makes every
	// session; alarms wait behind that for a while. How long is a figure
	// of its own (settle-s); the latencies are those of the steady load
	// after it: probes (alarms on another channel of devices the load does
	// not use) every 250 ms until those of 10 s in a row (40) were all
	// under the target.
	used := map[int]bool{}
	for a := range int(d/(250*time.Millisecond)) + 100 {
		used[(a*7919)%n] = true
	}
	var probeDevs []*device
	for i := n - 1; i >= 0 && len(probeDevs) < 1000; i-- {
		if !used[i] {
			probeDevs = append(probeDevs, fleet.devs[i])
		}
	}
	settleStart := time.Now()
	settled := false
	for k, good := 0, 0; !settled && time.Since(settleStart) < scaleSettleMax && len(probeDevs) > 0; k++ {
		dv := probeDevs[k%len(probeDevs)]
		ev := contract.Event{ID: fmt.Sprintf("%s-%d-probe", dv.id, k), Device: dv.id, Session: 1, Seq: uint64(k/len(probeDevs) + 1),
			Channel: "probe", Kind: "temperature", From: contract.StateNormal, To: contract.StateAlarm,
			Cause: "threshold", Value: 95, Unit: "°C", SetPoint: 90, Time: contract.Stamp{At: time.Now(), Synced: true}}
		mu.Lock()
		probes[ev.ID] = time.Now()
		mu.Unlock()
		if err := dv.publish(contract.DeviceTopic(dv.id, "event"), contract.MustEncode(&ev), 1, false); err != nil {
			b.Fatalf("probe from %s: %v", dv.id, err)
		}
		select {
		case l := <-probed:
			if good++; l > scaleAlarmTarget {
				good = 0
			}
			settled = good >= 40
		case <-time.After(250 * time.Millisecond):
			good = 0
		}
		time.Sleep(250 * time.Millisecond)
	}
	settle := time.Since(settleStart)
	if !settled {
		b.Logf("%s/%d: alarms still slow %v after the fleet connected; timing the load anyway", bk, n, settle.Round(time.Second))
	}

	mu.Lock()
	loadStart = time.Now()
	mu.Unlock()
	hubCPU0, procCPU0 := cpuTime(b, h.p.cmd.Process.Pid), cpuTime(b, os.Getpid())
	loadCtx, stopLoad := context.WithTimeout(ctx, d)
	defer stopLoad()
	alarms := 0
	tick := time.NewTicker(250 * time.Millisecond)
	for loop := true; loop; {
		select {
		case <-loadCtx.Done():
			loop = false
		case <-tick.C:
			dv := fleet.devs[(alarms*7919)%n] // distinct devices while alarms < n
			ev := contract.Event{ID: fmt.Sprintf("%s-%d-scale", dv.id, alarms+1), Device: dv.id, Session: 1, Seq: 1,
				Channel: "busbar-l1", Kind: "temperature", From: contract.StateNormal, To: contract.StateAlarm,
				Cause: "threshold", Value: 95, Unit: "°C", SetPoint: 90, Time: contract.Stamp{At: time.Now(), Synced: true}}
			p := contract.MustEncode(&ev)
			mu.Lock()
			sent[ev.ID] = time.Now()
			mu.Unlock()
			if err := dv.publish(contract.DeviceTopic(dv.id, "event"), p, 1, false); err != nil {
				b.Fatalf("alarm from %s: %v", dv.id, err)
			}
			alarms++
		}
	}
	tick.Stop()
	stopTele()
	wg.Wait()
	loadTime := time.Since(loadStart)
	hubCPU, procCPU := cpuTime(b, h.p.cmd.Process.Pid)-hubCPU0, cpuTime(b, os.Getpid())-procCPU0
	hubRSS := rss(b, h.p.cmd.Process.Pid)
	procRSS := rss(b, os.Getpid()) - before
	// Let the last alarms arrive.
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		left := len(sent)
		mu.Unlock()
		if left == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	got, lost := slicesClone(lat), len(sent)
	if len(slow) > 0 {
		b.Logf("%s/%d: %d alarms over %v (sent at: took (device to hub applied, to watcher)): %s", bk, n, len(slow), scaleAlarmTarget, strings.Join(slow[:min(len(slow), 30)], " "))
	}
	mu.Unlock()
	if len(got) == 0 {
		b.Fatalf("%s/%d: no alert received for %d alarms", bk, n, alarms)
	}
	if lost > 0 {
		out := h.p.out.String()
		b.Logf("%s/%d: gridhub's last output:\n%s", bk, n, out[max(0, len(out)-2000):])
	}
	// An alarm whose alert never came counts as slower than any that did.
	for range lost {
		got = append(got, time.Hour)
	}
	p50, p99 := quantiles(got)
	b.Logf("%s/%d: settled in %v; %d alarms, %d without alert, p50 %v p99 %v max %v; telemetry sent %d; hub RSS %.0f MB (idle %.0f MB), test process +%.0f MB",
		bk, n, settle.Round(100*time.Millisecond), alarms, lost, p50, p99, quantile(got, 1), fleet.sent.Load(), hubRSS, hubIdle, procRSS)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(p50), "p50-ms")
	b.ReportMetric(ms(p99), "p99-ms")
	b.ReportMetric(float64(p99)/float64(scaleAlarmTarget), "x-target")
	b.ReportMetric(float64(alarms), "alarms")
	b.ReportMetric(float64(lost), "lost")
	b.ReportMetric(settle.Seconds(), "settle-s")
	b.ReportMetric((hubRSS-hubIdle)/float64(n)*1000, "hub-rss-MB-per-1k")
	// CPU per 1,000 devices under load, in % of one core: what the load
	// costs, whatever else the machine runs (the latencies are not).
	pct := func(cpu time.Duration) float64 { return 100 * cpu.Seconds() / loadTime.Seconds() / float64(n) * 1000 }
	b.ReportMetric(pct(hubCPU), "hub-cpu-%-per-1k")
	b.ReportMetric(pct(procCPU), "proc-cpu-%-per-1k")
	if bk != "embedded" {
		b.ReportMetric(procRSS/float64(n)*1000, "proc-rss-MB-per-1k")
	}
	b.ReportMetric(0, "ns/op")
	cancel()
	w.Close()
	<-recvDone
	fleet.close()
	h.p.stop()
	return p99
}

func slicesCloneDevs(d []*device) []*device { return append([]*device(nil), d...) }

func slicesClone(d []time.Duration) []time.Duration { return append([]time.Duration(nil), d...) }

func freeAddr(b *testing.B) string { return bintest.FreeAddr(b) }

// cpuTime is the CPU time (user and system) pid has used.
func cpuTime(b *testing.B, pid int) time.Duration {
	s, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The fields after the command (which may hold spaces) in parentheses:
	// utime and stime are the 14th and 15th of the line, in clock ticks.
	f := strings.Fields(string(s[strings.LastIndexByte(string(s), ')')+1:]))
	if len(f) < 13 {
		b.Fatalf("/proc/%d/stat: %q", pid, s)
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * time.Second / 100 // USER_HZ, 100 on Linux
}

// rss is pid's VmRSS in MB.
func rss(b *testing.B, pid int) float64 {
	s, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for l := range strings.SplitSeq(string(s), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	b.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// fleet is the simulated devices: one reading goroutine each, and one
// writer (telemetry) for all.
type fleet struct {
	devs []*device
	sent atomic.Int64
	wg   sync.WaitGroup
	once sync.Once
}

// close closes every connection and waits for the readers.
func (f *fleet) close() {
	f.once.Do(func() {
		for _, d := range f.devs {
			_ = d.conn.Close()
		}
		f.wg.Wait()
	})
}

func (f *fleet) add(d *device) {
	f.devs = append(f.devs, d)
	f.wg.Go(d.read)
}

// telemetry sends each device's telemetry once a second, spread over the
// second, and a PINGREQ every 25 s, until ctx ends.
func (f *fleet) telemetry(ctx context.Context) {
	const slots = 50
	tick := time.NewTicker(time.Second / slots)
	defer tick.Stop()
	readings := []contract.Reading{{Channel: "busbar-l1", Value: 41.5}, {Channel: "residual", Value: 3}}
	for k := 0; ; k++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		sec, slot := k/slots, k%slots
		for i := slot; i < len(f.devs); i += slots {
			d := f.devs[i]
			p := contract.MustEncode(&contract.Telemetry{Device: d.id, Session: 1, Seq: uint64(sec + 1), Readings: readings})
			if err := d.publish(d.telemetryTopic, p, 0, false); err == nil {
				f.sent.Add(1)
			}
			if sec%25 == 24 {
				_ = d.write([]byte{0xc0, 0}) // PINGREQ
			}
		}
	}
}

// device is one simulated device: a minimal MQTT 3.1.1 client on a raw
// connection, as cheap as this benchmark needs.
type device struct {
	id, telemetryTopic string
	conn               net.Conn
	wmu                sync.Mutex
	nextID             uint16
}

const scaleKeepAlive = 30 // seconds, sensord's default

// dialDevice connects device id (index i) as sensord's uplink does: clean
// session false, a retained QoS 1 death as will, keep-alive; subscribes to
// its cmd topic at QoS 1 and publishes its retained birth and state at
// QoS 1, waiting for each acknowledgement.
func dialDevice(addr, id string, i int) (*device, error) {
	c, err := net.DialTimeout("tcp", addr, 30*time.Second)
	if err != nil {
		return nil, err
	}
	d := &device{id: id, telemetryTopic: contract.DeviceTopic(id, "telemetry"), conn: c}
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	will := contract.MustEncode(&contract.Death{Device: id, Session: 1})
	var v []byte
	v = appendStr(v, "MQTT")
	// Level 4; flags: user, password, will retain, will QoS 1, will; clean
	// session off.
	v = append(v, 4, 0x80|0x40|0x20|0x08|0x04, 0, scaleKeepAlive)
	v = appendStr(v, id)
	v = appendStr(v, contract.DeviceTopic(id, "death"))
	v = appendStr(v, string(will))
	v = appendStr(v, id)
	v = appendStr(v, "pw-"+id)
	if err := d.write(packet(0x10, v)); err != nil {
		return nil, err
	}
	r := bufio.NewReaderSize(c, 512)
	typ, body, err := readPacket(r)
	if err != nil {
		return nil, fmt.Errorf("connack: %w", err)
	}
	if typ>>4 != 2 || len(body) < 2 || body[1] != 0 {
		return nil, fmt.Errorf("connect refused: packet %#x %v", typ, body)
	}
	// SUBSCRIBE cmd at QoS 1.
	s := binary.BigEndian.AppendUint16(nil, 1)
	s = appendStr(s, contract.DeviceTopic(id, "cmd"))
	s = append(s, 1)
	if err := d.write(packet(0x82, s)); err != nil {
		return nil, err
	}
	if typ, _, err = readPacket(r); err != nil || typ>>4 != 9 {
		return nil, fmt.Errorf("suback: %#x %w", typ, err)
	}
	loc := contract.Location{Community: "east", Grid: "g1", Building: scaleBuilding(i), Unit: strconv.Itoa(i)}
	now := contract.Stamp{At: time.Now(), Synced: true}
	birth := contract.MustEncode(&contract.Birth{Device: id, Kind: "sensor", Session: 1, Firmware: "bench", Location: loc,
		Channels: []contract.ChannelInfo{{Name: "busbar-l1", Kind: "temperature", Unit: "°C", PreAlarm: 70, Alarm: 90}}, Time: now})
	state := contract.MustEncode(&contract.DeviceState{Device: id, Session: 1,
		Channels: []contract.ChannelState{{Channel: "busbar-l1", State: contract.StateNormal, Value: 41.5}}, Time: now})
	for _, m := range []struct {
		kind string
		p    []byte
	}{{"birth", birth}, {"state", state}} {
		if err := d.publish(contract.DeviceTopic(id, m.kind), m.p, 1, true); err != nil {
			return nil, err
		}
		if typ, _, err = readPacket(r); err != nil || typ>>4 != 4 {
			return nil, fmt.Errorf("puback of %s: %#x %w", m.kind, typ, err)
		}
	}
	_ = c.SetDeadline(time.Time{})
	d.conn = &bufConn{Conn: c, r: r}
	return d, nil
}

// bufConn keeps what dialDevice's reader buffered.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// read runs until the connection closes: it acknowledges QoS 1 commands
// and drops everything else (PUBACKs, PINGRESPs).
func (d *device) read() {
	r := d.conn.(*bufConn).r
	for {
		typ, body, err := readPacket(r)
		if err != nil {
			return
		}
		if typ>>4 == 3 && typ&0x06 != 0 && len(body) >= 2 { // PUBLISH QoS ≥ 1
			tl := int(binary.BigEndian.Uint16(body))
			if len(body) >= 2+tl+2 {
				_ = d.write(packet(0x40, body[2+tl:2+tl+2]))
			}
		}
	}
}

// publish sends a PUBLISH; for QoS 1 the PUBACK is read by read (or by
// dialDevice before read runs).
func (d *device) publish(topic string, payload []byte, qos byte, retain bool) error {
	h := byte(0x30) | qos<<1
	if retain {
		h |= 1
	}
	v := appendStr(make([]byte, 0, len(topic)+len(payload)+8), topic)
	if qos > 0 {
		d.wmu.Lock()
		d.nextID++
		if d.nextID == 0 {
			d.nextID = 1
		}
		v = binary.BigEndian.AppendUint16(v, d.nextID)
		d.wmu.Unlock()
	}
	return d.write(packet(h, append(v, payload...)))
}

func (d *device) write(p []byte) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	_ = d.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := d.conn.Write(p)
	return err
}

func appendStr(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// packet is a fixed header (with the remaining length) and body.
func packet(h byte, body []byte) []byte {
	out := []byte{h}
	n := len(body)
	for {
		c := byte(n % 128)
		n /= 128
		if n > 0 {
			c |= 0x80
		}
		out = append(out, c)
		if n == 0 {
			break
		}
	}
	return append(out, body...)
}

func readPacket(r *bufio.Reader) (byte, []byte, error) {
	typ, err := r.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	n, mul := 0, 1
	for i := 0; ; i++ {
		c, err := r.ReadByte()
		if err != nil {
			return 0, nil, err
		}
		n += int(c&0x7f) * mul
		mul *= 128
		if c&0x80 == 0 {
			break
		}
		if i == 3 {
			return 0, nil, errors.New("malformed remaining length")
		}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, err
	}
	return typ, body, nil
}
