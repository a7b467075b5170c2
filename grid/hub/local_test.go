package hub

import (
	"testing"

	"linli/mqtt/contract"
)

// TestSubscribeLagging: a subscriber that does not read never blocks the
// hub; it gets what fitted, then one Resync, then changes again.
func TestSubscribeLagging(t *testing.T) {
	var h Hub
	slow, cancelSlow := h.Subscribe()
	fast, cancelFast := h.Subscribe()
	defer cancelFast()
	n := 0
	for i := 0; i < subBuffer+10; i++ {
		h.notify("t", &contract.Alert{ID: "a"})
		select {
		case <-fast:
			n++
		default:
			t.Fatalf("change %d not delivered to the reading subscriber", i)
		}
	}
	for i := 0; i < subBuffer; i++ {
		if c := <-slow; c.Resync || c.Topic != "t" {
			t.Fatalf("change %d = %+v, want a plain change", i, c)
		}
	}
	select {
	case c := <-slow:
		t.Fatalf("got %+v after the buffer; the rest must be dropped", c)
	default:
	}
	h.notify("u", &contract.Alert{ID: "b"})
	if c := <-slow; !c.Resync {
		t.Fatalf("after the drop got %+v, want Resync", c)
	}
	if c := <-slow; c.Topic != "u" {
		t.Fatalf("after the Resync got %+v, want the new change", c)
	}
	cancelSlow()
	cancelSlow() // twice is fine
	if _, ok := <-slow; ok {
		t.Fatal("channel open after cancel")
	}
	h.notify("v", &contract.Alert{ID: "c"}) // no panic on a cancelled subscriber
}
