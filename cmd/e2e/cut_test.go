package e2e

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"linli/mqtt/contract"
	"linli/mqtt/mqtttest"
)

// The timers of TestLongSilentCut: sensord's uplink is given a short
// keep-alive, ack timeout and back-off cap, so that a cut of cutLength is
// long next to every timer in play.
const (
	cutKeepAlive  = 2 * time.Second
	cutAckTimeout = 3 * time.Second
	cutMaxBackoff = 2 * time.Second
	cutLength     = 30 * time.Second
)

// TestLongSilentCut is issue 3's 10-minute network cut: sensord plays
// testdata/alarms.json at 20× speed while a worker keeps resetting the
// latched alarm, as in TestFaults, and in the middle of that stream the
// proxy between sensord and the broker goes silent: it drops every byte in
// both directions and closes nothing, as a dead link does. The test checks
// that
//   - the hub shows the device offline during the cut (the broker's
//     keep-alive expired and it published the device's will), and never
//     online again before the cut ends;
//   - sensord noticed by itself (its log shows the connection failing at
//     least twice during the cut: its own ack or ping timeout, then a
//     connect attempt that met the silent link) and kept deciding events
//     (the temperatures' pre-alarms; the residual alarm stays latched, as
//     no reset gets through);
//   - after the cut the hub shows the device online in a new session (it
//     reconnected and sent its birth) and, with the same sensord still
//     running, receives every event decided during the cut;
//   - in the end every event sensord committed reached the hub exactly
//     once, in sequence order, with one alert per alarm (as TestFaults).
//
// How 30 seconds stand for 10 minutes. Once every timer has run out, a cut
// is a steady state that its length does not change: the broker has
// declared the device dead, and the device loops through a connect attempt
// that times out and a capped back-off, while its events wait in the
// durable outbox. The cut is long next to every timer here: 15× the
// keep-alive (2 s) and 10× the broker's expiry of 1.5 × keep-alive (3 s),
// 10× the ack timeout (3 s) and over twice paho's ping timeout (keep-alive
// + 10 s), 15× the back-off cap (2 s), and nearly 3× the uplink's connect
// timeout (10 s + 1 s), so the device goes through its whole cycle, back-off
// at its cap, more than once. With the defaults (keep-alive 30 s, so death
// at 45 s; ack timeout 20 s; back-off cap 30 s) a real 10-minute cut has
// the same ratios. And at --speed 20 the 30 s are 10 minutes of the
// device's simulated clock: the outbox holds as many events as 10 real
// minutes of this scenario would decide.
func TestLongSilentCut(t *testing.T) {
	t.Parallel() // waits most of the time; overlaps TestFaults
	t.Run("embedded", func(t *testing.T) { t.Parallel(); testSilentCut(t, nil) })
	t.Run("mosquitto", func(t *testing.T) {
		t.Parallel()
		m := mqtttest.Mosquitto(t, &mqtttest.MosquittoOpts{Config: []string{"set_tcp_nodelay true"}})
		testSilentCut(t, m)
	})
}

// eventLine matches an event sensord prints, capturing its seq.
var eventLine = regexp.MustCompile(`  e2e-1  #(\d+)  `)

// lastDecided is the highest event seq in sensord's output.
func lastDecided(out string) uint64 {
	var last uint64
	for _, m := range eventLine.FindAllStringSubmatch(out, -1) {
		if n, err := strconv.ParseUint(m[1], 10, 64); err == nil && n > last {
			last = n
		}
	}
	return last
}

func testSilentCut(t *testing.T, m *mqtttest.MosquittoServer) {
	h, px := hubBehindProxy(t, m)
	data := t.TempDir()
	sensord := func(scenario string, extra ...string) *proc {
		args := append([]string{"run", "--config", "testdata/sensor.json", "--sim", scenario,
			"--data", data, "--broker", "tcp://" + px.addr(), "--user", "e2e-1", "--pass", "pw",
			"--keepalive", cutKeepAlive.String(), "--ack-timeout", cutAckTimeout.String(),
			"--max-backoff", cutMaxBackoff.String()}, extra...)
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
	// until polls the hub's view of e2e-1 until ok holds, for up to d.
	until := func(what string, d time.Duration, ok func(contract.DeviceInfo) bool) contract.DeviceInfo {
		t.Helper()
		deadline := time.Now().Add(d)
		for {
			info := deviceInfo(ctx, w)
			if ok(info) {
				return info
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %v; the hub shows online %v, session %d, last event %d",
					what, d, info.Online, info.Session, info.LastEventSeq)
			}
			time.Sleep(100 * time.Millisecond) // polling other processes
		}
	}
	stopReset := resetLoop(ctx, w)
	defer stopReset()

	// Enough of the stream before the cut, and after it, for a few alarms
	// to be raised and reset (during the cut the residual alarm stays
	// latched: no reset gets through).
	before := until("60 events before the cut", 60*time.Second, func(i contract.DeviceInfo) bool {
		return i.Online && i.LastEventSeq >= 60
	})

	t.Logf("silent cut for %v (session %d, hub at event %d)", cutLength, before.Session, before.LastEventSeq)
	outAtCut := len(s.out.String())
	decidedAtCut := lastDecided(s.out.String())
	cutStart := time.Now()
	px.silence()
	// Watch the hub through the cut: it must see the device go offline,
	// and nothing may bring it back while no byte gets through.
	var offlineAfter time.Duration
	for time.Since(cutStart) < cutLength {
		info := deviceInfo(ctx, w)
		switch {
		case !info.Online && info.Device != "" && offlineAfter == 0:
			offlineAfter = time.Since(cutStart)
		case info.Online && offlineAfter != 0:
			t.Errorf("the hub shows e2e-1 online again (session %d) %v into a cut that lets nothing through",
				info.Session, time.Since(cutStart).Round(time.Millisecond))
		}
		time.Sleep(200 * time.Millisecond) // polling other processes through the cut's length
	}
	out := s.out.String()
	px.unsilence()
	decidedAtEnd := lastDecided(out)
	if offlineAfter == 0 {
		t.Errorf("the hub never showed e2e-1 offline during a %v cut with keep-alive %v", cutLength, cutKeepAlive)
	} else {
		t.Logf("the hub showed e2e-1 offline %v into the cut", offlineAfter.Round(time.Millisecond))
	}
	if n := strings.Count(out[outAtCut:], "uplink: connection failed"); n < 2 {
		t.Errorf("sensord logged %d failed connections during the cut, want at least 2 (its own timeout, then a connect attempt on the silent link):\n%s",
			n, out[outAtCut:])
	}
	if decidedAtEnd < decidedAtCut+10 {
		t.Errorf("sensord decided events %d to %d during the cut; want at least 10 to deliver afterwards", decidedAtCut, decidedAtEnd)
	}
	t.Logf("sensord decided events %d to %d during the cut", decidedAtCut+1, decidedAtEnd)

	after := until("back online in a new session", 60*time.Second, func(i contract.DeviceInfo) bool {
		return i.Online && i.Session > before.Session
	})
	t.Logf("back online in session %d after %v", after.Session, time.Since(cutStart.Add(cutLength)).Round(time.Millisecond))
	until("the events of the cut delivered", 60*time.Second, func(i contract.DeviceInfo) bool {
		return i.LastEventSeq >= decidedAtEnd
	})
	until("the stream going on after the cut", 60*time.Second, func(i contract.DeviceInfo) bool {
		return i.LastEventSeq >= decidedAtEnd+40
	})

	stopReset()
	s.stop()
	checkDelivered(t, h, w, data, sensord)
}
