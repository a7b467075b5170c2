package kiosk

import (
	"context"
	"testing"
	"time"

	"linli/mqtt/contract"
)

func TestPrune(t *testing.T) {
	f := newFixture(t, Options{})
	n, err := f.s.FileReport(context.Background(), Draft{Category: "noise"})
	if err != nil {
		t.Fatal(err)
	}
	f.s.HandleMessage(contract.TicketTopic(n), status(n, StatusClosed, "submitted", "closed"))  // last step t0+1m
	f.s.HandleMessage(contract.TicketTopic("B-1"), status("B-1", StatusResolved, "submitted"))  // still open
	f.s.HandleMessage(contract.TicketTopic("B-2"), status("B-2", StatusDuplicate, "duplicate")) // t0
	tests := []struct {
		before time.Time
		want   int
	}{
		{t0, 0},
		{t0.Add(time.Minute), 1},      // B-2
		{t0.Add(time.Hour), 1},        // n
		{t0.Add(1000 * time.Hour), 0}, // B-1 stays
	}
	for _, tt := range tests {
		got, err := f.s.Prune(tt.before)
		if err != nil || got != tt.want {
			t.Errorf("Prune(%v) = %d, %v; want %d", tt.before, got, err, tt.want)
		}
	}
	if _, ok := f.s.Track(n); ok {
		t.Error("pruned ticket still tracked")
	}
	if _, ok := f.s.Track("B-1"); !ok {
		t.Error("open ticket pruned")
	}
	if h, _ := f.s.Health(); h.Reports != 0 || h.Tickets != 1 {
		t.Errorf("Health after prune = %+v", h)
	}
}
