package hub

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	bolt "go.etcd.io/bbolt"

	"linli/mqtt/contract"
)

// heldEvent is an event waiting for its predecessor.
type heldEvent struct {
	ev  *contract.Event
	ack func()
	at  time.Time
}

// onMessage is paho's handler for every message. It runs on paho's single
// receiving goroutine, so messages are handled in arrival order.
func (h *Hub) onMessage(_ paho.Client, m paho.Message) {
	if h.stopping.Load() {
		return // not acknowledged: the broker delivers it again
	}
	if t, err := contract.ParseTopic(m.Topic()); err == nil && t.Kind == "dev" && t.Leaf == "telemetry" {
		h.onTelemetry(nil, m)
		m.Ack()
		return
	}
	h.c.received.Add(1)
	msg, err := contract.Decode(m.Topic(), m.Payload())
	if err != nil {
		h.refuse(m, err)
		m.Ack()
		return
	}
	t, _ := contract.ParseTopic(m.Topic()) // Decode checked it
	switch t.Kind {
	case "hub":
		if req, ok := msg.(*contract.Request); ok && t.Parts[1] == "req" {
			m.Ack() // requests are answered, not stored: a lost one times out at gridctl
			h.startRequest(t.Parts[2], req)
			return
		}
	case "dev":
		h.onDevice(t, msg, m)
		return
	}
	h.c.badType.Add(1)
	h.log.Warn("message dropped: not for the hub", "topic", m.Topic())
	m.Ack()
}

// refuse logs and counts a message that could not be decoded.
func (h *Hub) refuse(m paho.Message, err error) {
	switch {
	case errors.Is(err, contract.ErrTooLarge):
		h.c.tooLarge.Add(1)
	case errors.Is(err, contract.ErrVersion):
		h.c.badVersion.Add(1)
	case errors.Is(err, contract.ErrType):
		h.c.badType.Add(1)
	default:
		h.c.malformed.Add(1)
	}
	h.log.Warn("message dropped", "topic", m.Topic(), "bytes", len(m.Payload()), "error", err)
}

func (h *Hub) onDevice(t contract.Topic, msg contract.Message, m paho.Message) {
	now := h.now()
	switch v := msg.(type) {
	case *contract.Event:
		h.onEvent(v, m.Ack)
		return
	case *contract.CommandAck:
		h.pendMu.Lock()
		ch := h.pending[v.ID]
		h.pendMu.Unlock()
		if ch != nil {
			select {
			case ch <- v:
			default:
			}
		} else {
			h.log.Debug("command ack for nobody", "device", v.Device, "id", v.ID)
		}
	case *contract.Birth:
		h.mu.Lock()
		r := h.device(v.Device)
		switch {
		case v.Session < r.Session || (v.Session == r.DeadSession && v.Session != 0):
			h.log.Debug("stale birth ignored", "device", v.Device, "session", v.Session)
		default:
			if !r.Online || r.Session != v.Session {
				h.log.Info("device online", "device", v.Device, "session", v.Session, "firmware", v.Firmware)
			}
			r.Online = true
			r.Session = v.Session
			r.Kind = v.Kind
			r.Firmware = v.Firmware
			if cd, ok := h.cfg.Device(v.Device); ok {
				r.Location = cd.Location
			} else {
				r.Location = h.cfg.Locate(v.Location)
			}
			if !m.Retained() {
				r.LastSeen = now
			}
			h.dirty[v.Device] = true
		}
		h.mu.Unlock()
	case *contract.Death:
		h.mu.Lock()
		r := h.device(v.Device)
		if v.Session >= r.Session {
			if r.Online {
				h.log.Info("device offline", "device", v.Device, "session", v.Session)
			}
			r.Online = false
			r.Session = v.Session
			r.DeadSession = v.Session
			h.dirty[v.Device] = true
		}
		h.mu.Unlock()
	case *contract.DeviceState:
		h.mu.Lock()
		r := h.device(v.Device)
		if v.Session >= r.Session {
			r.Channels = v.Channels
			r.Health = v.Health
			if v.Health.Firmware != "" {
				r.Firmware = v.Health.Firmware
			}
			if !m.Retained() {
				r.LastSeen = now
				if v.Session != r.DeadSession {
					r.Online = true
					r.Session = v.Session
				}
			}
			h.dirty[v.Device] = true
		}
		h.mu.Unlock()
	}
	if fn := h.devFns[t.Leaf]; fn != nil {
		h.mu.Lock()
		info := h.device(t.Device).DeviceInfo
		h.mu.Unlock()
		if err := fn(h.runCtx, info, msg); err != nil {
			h.c.handlerErrors.Add(1)
			h.log.Error("device message handler failed", "topic", m.Topic(), "error", err)
		}
	}
	m.Ack()
}

// onEvent applies ev in sequence order and acknowledges what it committed.
func (h *Hub) onEvent(ev *contract.Event, ack func()) {
	h.mu.Lock()
	acks := h.acceptEvent(ev, ack)
	h.mu.Unlock()
	for _, a := range acks {
		a()
	}
}

// acceptEvent returns the acknowledgements to send. h.mu must be held.
func (h *Hub) acceptEvent(ev *contract.Event, ack func()) []func() {
	r := h.device(ev.Device)
	if last := r.LastEventSeq; last != 0 && ev.Seq > last+1 {
		q := h.held[ev.Device]
		for _, e := range q {
			if e.ev.Seq == ev.Seq {
				// A second copy of a held event: the first stays
				// unacknowledged and stands for both.
				return []func(){ack}
			}
		}
		q = append(q, heldEvent{ev: ev, ack: ack, at: h.now()})
		sort.Slice(q, func(i, j int) bool { return q[i].ev.Seq < q[j].ev.Seq })
		h.held[ev.Device] = q
		h.c.held.Add(1)
		h.log.Debug("event held for a missing one", "device", ev.Device, "seq", ev.Seq, "last", last)
		return nil
	}
	if err := h.apply(ev); err != nil {
		return nil
	}
	return append([]func(){ack}, h.drainHeld(ev.Device)...)
}

// drainHeld applies the held events of dev that are next in sequence, or
// have waited longer than the reorder window. h.mu must be held.
func (h *Hub) drainHeld(dev string) []func() {
	var acks []func()
	q := h.held[dev]
	now := h.now()
	for len(q) > 0 {
		e := q[0]
		r := h.device(dev)
		if e.ev.Seq > r.LastEventSeq+1 && now.Sub(e.at) < h.opts.ReorderWindow {
			break
		}
		if err := h.apply(e.ev); err != nil {
			break
		}
		acks = append(acks, e.ack)
		q = q[1:]
	}
	if len(q) == 0 {
		delete(h.held, dev)
	} else {
		h.held[dev] = q
	}
	return acks
}

// apply commits one event and its consequences. On a store error it
// restores the in-memory state from disk and returns the error; the event
// stays unacknowledged. h.mu must be held.
func (h *Hub) apply(ev *contract.Event) error {
	now := h.now()
	r := h.device(ev.Device)
	var dup bool
	var effects []func()
	err := h.db.Update(func(tx *bolt.Tx) error {
		effects = nil
		seen := tx.Bucket(bSeen)
		if seen.Get([]byte(ev.ID)) != nil {
			dup = true
			return nil
		}
		var ts [8]byte
		binary.BigEndian.PutUint64(ts[:], uint64(now.UnixNano()))
		if err := seen.Put([]byte(ev.ID), ts[:]); err != nil {
			return err
		}
		switch last := r.LastEventSeq; {
		case ev.Seq > last:
			if last != 0 && ev.Seq > last+1 {
				gap := ev.Seq - last - 1
				r.MissingEvents += gap
				h.c.missing.Add(gap)
				h.log.Warn("events missing", "device", ev.Device, "after_seq", last, "count", gap)
			}
			r.LastEventSeq = ev.Seq
		default:
			h.c.outOfOrder.Add(1)
			h.log.Warn("event out of order", "device", ev.Device, "seq", ev.Seq, "last", last, "id", ev.ID)
		}
		r.LastSeen = now
		evs := tx.Bucket(bEvents)
		n, err := evs.NextSequence()
		if err != nil {
			return err
		}
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], n)
		if err := putJSON(evs, string(k[:]), ev); err != nil {
			return err
		}
		if err := putJSON(tx.Bucket(bDevices), ev.Device, r); err != nil {
			return err
		}
		effects, err = h.alertsForEvent(tx, ev, r, now)
		return err
	})
	if err != nil {
		h.c.storeErrors.Add(1)
		h.log.Error("event not stored; left for the broker to deliver again", "device", ev.Device, "id", ev.ID, "error", err)
		if lerr := h.load(); lerr != nil {
			h.log.Error("reload after store error", "error", lerr)
		}
		return fmt.Errorf("hub: apply event: %w", err)
	}
	if dup {
		h.c.duplicates.Add(1)
		h.log.Debug("duplicate event dropped", "device", ev.Device, "id", ev.ID, "seq", ev.Seq)
		return nil
	}
	delete(h.dirty, ev.Device)
	for _, f := range effects {
		f()
	}
	return nil
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
