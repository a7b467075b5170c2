package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"linli/grid/replica"
	"linli/mqtt/contract"
)

// BenchmarkHATakeover kills the active one of two gridhub --ha processes
// (SIGKILL) again and again while a device raises and resets alarms every
// 20 ms, and measures the takeover: from the kill to the first alert of an
// alarm sent after it, as a grid worker receives it. The baseline is the
// lease TTL (the default, 6 s): a takeover cannot be shorter, and the
// issue asks for at most 10 s.
func BenchmarkHATakeover(b *testing.B) {
	const kills = 12
	r := newHARig(b)
	lease := replica.DefaultOptions.LeaseTTL
	r.lease = lease.String()
	hubs := map[string]*haHub{"a": r.start(b, "a")}
	hubs["a"].waitLog(b, "msg=subscribed", 30*time.Second)
	hubs["b"] = r.start(b, "b")
	hubs["b"].waitLog(b, "msg=standby", 30*time.Second)

	dev := r.client(b, "mb-0001", "mb-dev")
	w := r.client(b, "w-li", "li-dev")
	var (
		mu       sync.Mutex
		sentAt   = map[uint64]time.Time{}
		killedAt time.Time
		after    uint64 // first seq sent after the kill
		got      = make(chan time.Time, 1)
	)
	tok := w.Subscribe(contract.GridAlertTopic("east-1"), 1, func(_ paho.Client, m paho.Message) {
		msg, err := contract.Decode(m.Topic(), m.Payload())
		if err != nil {
			return
		}
		a, ok := msg.(*contract.Alert)
		if !ok {
			return
		}
		seq, err := strconv.ParseUint(strings.TrimPrefix(a.EventID, "mb-0001-"), 10, 64)
		mu.Lock()
		defer mu.Unlock()
		if err == nil && after != 0 && seq >= after {
			after = 0
			got <- time.Now()
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatal("subscribe", tok.Error())
	}
	var seq atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			i := seq.Add(1)
			to, cause := contract.StateAlarm, "threshold"
			if i%2 == 0 {
				to, cause = contract.StateNormal, "reset"
			}
			mu.Lock()
			sentAt[i] = time.Now()
			mu.Unlock()
			ev := &contract.Event{ID: fmt.Sprintf("mb-0001-%d", i), Device: "mb-0001", Session: 1, Seq: i,
				Channel: "busbar-l1", Kind: "temperature", To: to, Cause: cause, Value: 90, Unit: "°C"}
			if publishErr(dev, contract.DeviceTopic("mb-0001", "event"), contract.MustEncode(ev)) != nil {
				return
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	active, standby := "a", "b"
	var took []time.Duration
	b.ResetTimer()
	for range kills {
		time.Sleep(lease) // a steady state: renewals going, the standby caught up
		mu.Lock()
		killedAt = time.Now()
		mu.Unlock()
		hubs[active].signal(b, syscall.SIGKILL)
		hubs[active].cmd.Wait()
		mu.Lock()
		after = seq.Load() + 1
		mu.Unlock()
		select {
		case at := <-got:
			took = append(took, at.Sub(killedAt))
		case <-time.After(60 * time.Second):
			b.Fatalf("no alert 60 s after killing %s:\n%s", active, hubs[standby].log())
		}
		hubs[active] = r.start(b, active) // back, as a standby
		hubs[active].waitLog(b, "msg=standby", 30*time.Second)
		active, standby = standby, active
	}
	b.StopTimer()
	slices.Sort(took)
	p50, p99 := took[len(took)/2], took[len(took)-1] // p99 of 12 is the largest
	b.ReportMetric(float64(p50)/float64(lease), "x-lease-p50")
	b.ReportMetric(float64(p99)/float64(lease), "x-lease-p99")
	b.ReportMetric(float64(p50.Milliseconds()), "ms-takeover-p50")
	b.ReportMetric(float64(p99.Milliseconds()), "ms-takeover-p99")
	b.ReportMetric(float64(lease.Milliseconds()), "ms-lease")
	b.ReportMetric(kills, "kills")
}
