package main

import (
	"context"
	"sync"
	"testing"
	"time"

	"linli/mqtt/contract"
)

// TestPrune checks the kiosk forgets ended tickets after 90 days: at once
// when it starts, and again at each daily tick.
func TestPrune(t *testing.T) {
	s := openService(t)
	t0 := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	cache := func(number, status string, last time.Time) {
		b, err := contract.Encode(&contract.TicketStatus{Number: number, Status: status, Location: contract.Location{Community: "c1"},
			Timeline: []contract.TicketStep{{Status: "submitted", At: last.Add(-day)}, {Status: status, At: last}}})
		if err != nil {
			t.Fatal(err)
		}
		s.HandleMessage(contract.TicketTopic(number), b)
		if _, ok := s.Track(number); !ok {
			t.Fatalf("ticket %s not cached", number)
		}
	}
	cache("K1-20260801-0001", "closed", t0.Add(-100*day))      // forgotten at once
	cache("K1-20260901-0001", "closed", t0.Add(-80*day))       // forgotten 20 days later
	cache("K1-20260801-0002", "in-progress", t0.Add(-100*day)) // open: kept
	cache("K1-20261127-0001", "duplicate", t0.Add(-day))       // recent: kept

	var mu sync.Mutex
	now := t0
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	tick := make(chan time.Time)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		prune(ctx, s, clock, tick, discard())
	}()
	tick <- t0 // received once the first prune is done
	want := func(number string, kept bool) {
		t.Helper()
		if _, ok := s.Track(number); ok != kept {
			t.Errorf("%s kept = %v, want %v", number, ok, kept)
		}
	}
	want("K1-20260801-0001", false)
	want("K1-20260901-0001", true)
	want("K1-20260801-0002", true)
	want("K1-20261127-0001", true)

	mu.Lock()
	now = t0.Add(20 * day)
	mu.Unlock()
	tick <- now // the second prune runs …
	cancel()
	<-done // … and is done once prune returns
	want("K1-20260901-0001", false)
	want("K1-20260801-0002", true)
	want("K1-20261127-0001", true)
}
