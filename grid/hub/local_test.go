package hub

import (
	"testing"
	"time"

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

// TestSubscribeDeviceChanges: a device coming online, sending its state
// and going offline each reach Subscribe as a Change with the registry
// entry gridctl devices shows.
func TestSubscribeDeviceChanges(t *testing.T) {
	e := newEnv(t, "")
	_, e.url = embedded(t, e.cfg, t.TempDir())
	h := e.start().h
	feed, cancel := h.Subscribe()
	defer cancel()
	next := func(what string, ok func(*contract.DeviceInfo) bool) {
		t.Helper()
		timeout := time.After(15 * time.Second)
		for {
			select {
			case c := <-feed:
				if c.Device != nil && c.Device.Device == "dev-1" && ok(c.Device) {
					if c.Msg != nil {
						t.Errorf("device change with a message: %+v", c)
					}
					return
				}
			case <-timeout:
				t.Fatalf("no device change: %s", what)
			}
		}
	}
	d := e.device("dev-1")
	d.send(&contract.Birth{Device: "dev-1", Kind: "sensor", Session: 1, Firmware: "1.2.3"}, "birth", true)
	next("online", func(i *contract.DeviceInfo) bool {
		return i.Online && i.Firmware == "1.2.3" && i.Location.Grid == "g1"
	})
	d.send(&contract.DeviceState{Device: "dev-1", Session: 1, Channels: []contract.ChannelState{{Channel: "busbar-l1", State: contract.StateAlarm, Value: 91, Latched: true}},
		Health: contract.Health{Firmware: "1.2.4", QueueDepth: 3}}, "state", true)
	next("state", func(i *contract.DeviceInfo) bool {
		return i.Online && i.Firmware == "1.2.4" && i.Health.QueueDepth == 3 && len(i.Channels) == 1 && i.Channels[0].Latched
	})
	d.send(&contract.Death{Device: "dev-1", Session: 1}, "death", false)
	next("offline", func(i *contract.DeviceInfo) bool { return !i.Online })
}
