package hub

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	bolt "go.etcd.io/bbolt"

	"linli/grid/replica"
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
	if t, err := contract.ParseTopic(m.Topic()); err == nil {
		if t.Kind == "dev" && t.Leaf == "telemetry" {
			h.onTelemetry(nil, m)
			m.Ack()
			return
		}
		if t.Kind == "grid" || (t.Kind == "hub" && t.Parts[1] == "resp") {
			h.onPeerMessage(m) // the other hubs' (Options.Hubs)
			m.Ack()
			return
		}
		if h.foreign(t) {
			if t.Kind == "hub" {
				// A request of a worker of other hubs: answered only when
				// relayed by a hub, which then need not wait (peers.go).
				if msg, err := contract.Decode(m.Topic(), m.Payload()); err == nil {
					if req, ok := msg.(*contract.Request); ok {
						h.onRelayed(t.Parts[2], req)
					}
				}
			}
			m.Ack() // not counted as received: another hub's
			return
		}
	}
	h.c.received.Add(1)
	msg, err := contract.Decode(m.Topic(), m.Payload())
	if err != nil {
		h.refuse(m.Topic(), len(m.Payload()), err)
		m.Ack()
		return
	}
	t, _ := contract.ParseTopic(m.Topic()) // Decode checked it
	switch t.Kind {
	case "hub":
		if req, ok := msg.(*contract.Request); ok && t.Parts[1] == "req" {
			// Requests are answered, not stored: a lost one times out at
			// gridctl. This hub's own, relayed to its peers, it leaves.
			m.Ack()
			if req.Relay != h.cfg.Hub.ID {
				h.startRequest(t.Parts[2], req)
			}
			return
		}
	case "dev":
		h.onDevice(t, msg, m)
		return
	}
	h.c.badType.Add(1)
	h.refusals.Log(context.Background(), slog.LevelWarn, source(m.Topic()), "not-for-hub", "message dropped: not for the hub", "topic", m.Topic())
	m.Ack()
}

// foreignTopic is foreign for a topic not parsed yet; it parses only when
// the configuration is a shard (telemetry's path, thousands a second).
func (h *Hub) foreignTopic(topic string) bool {
	if !h.cfg.SharedBroker {
		return false
	}
	t, err := contract.ParseTopic(topic)
	return err == nil && h.foreign(t)
}

// foreign reports whether a message on t belongs to another shard's hub:
// with Config.SharedBroker, the hub subscribes to every device's and
// worker's topics like the other hubs on the broker, and leaves alone
// what is not of its own configuration. Without it, every message is the
// hub's (a device the configuration does not list is located by its birth).
func (h *Hub) foreign(t contract.Topic) bool {
	if !h.cfg.SharedBroker {
		return false
	}
	switch {
	case t.Kind == "dev":
		if _, ok := h.cfg.Device(t.Device); ok {
			return false
		}
	case t.Kind == "hub" && len(t.Parts) > 2 && t.Parts[1] == "req":
		if _, ok := h.cfg.Worker(t.Parts[2]); ok {
			return false
		}
	default:
		return false
	}
	h.c.foreign.Add(1)
	return true
}

// refuse counts a message that could not be decoded and logs it, at most a
// few lines a minute per device and reason (then a summary).
func (h *Hub) refuse(topic string, size int, err error) {
	reason := "malformed"
	switch {
	case errors.Is(err, contract.ErrTooLarge):
		h.c.tooLarge.Add(1)
		reason = "too-large"
	case errors.Is(err, contract.ErrVersion):
		h.c.badVersion.Add(1)
		reason = "bad-version"
	case errors.Is(err, contract.ErrType):
		h.c.badType.Add(1)
		reason = "bad-type"
	default:
		h.c.malformed.Add(1)
	}
	h.refusals.Log(context.Background(), slog.LevelWarn, source(topic), reason, "message dropped", "topic", topic, "bytes", size, "error", err)
}

// source is who a refused message is logged under: the device of a dev
// topic (the broker lets a device publish only under its own id), else the
// topic's first levels.
func source(topic string) string {
	if t, err := contract.ParseTopic(topic); err == nil && t.Device != "" {
		return t.Device
	}
	if i := strings.Index(topic, "/dev/"); i >= 0 {
		rest := topic[i+len("/dev/"):]
		if j := strings.IndexByte(rest, '/'); j > 0 {
			return rest[:j]
		}
	}
	return "(topic " + topic + ")"
}

func (h *Hub) onDevice(t contract.Topic, msg contract.Message, m paho.Message) {
	now := h.now()
	switch v := msg.(type) {
	case *contract.Event:
		select {
		case h.events <- queuedEvent{ev: v, ack: m.Ack, dup: m.Duplicate(), conn: h.conn.Load()}:
		case <-h.runCtx.Done(): // not acknowledged: the broker delivers it again
		}
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
			h.deviceChanged(r)
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
			h.deviceChanged(r)
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
			h.deviceChanged(r)
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

// batch is a bbolt transaction shared by the events applied together (see
// applyBatch). err is the first store error, which aborts it.
type batch struct {
	tx  *bolt.Tx
	err error
}

// acceptEvent returns the acknowledgements to send. With b nil each event
// is committed on its own; otherwise in b's transaction. h.mu must be held.
func (h *Hub) acceptEvent(b *batch, ev *contract.Event, ack func(), dup bool) []func() {
	r := h.device(ev.Device)
	// An event of an earlier numbering (see applyTx) waits for nothing.
	if last := r.LastEventSeq; last != 0 && ev.Seq > last+1 && ev.Session >= r.EventBoot {
		q := h.held[ev.Device]
		for _, e := range q {
			if e.ev.Seq == ev.Seq {
				if dup {
					// The broker sending the held message itself
					// again on this connection (NATS does after its
					// ack wait, with the same packet id): acknowledging
					// it now would acknowledge the held event before it
					// is applied, and a hub killed meanwhile would lose
					// it. The held copy's ack covers it.
					return nil
				}
				// A second copy the device sent: the first stays
				// unacknowledged and stands for both.
				return []func(){ack}
			}
		}
		q = append(q, heldEvent{ev: ev, ack: ack, at: h.now()})
		sort.Slice(q, func(i, j int) bool { return q[i].ev.Seq < q[j].ev.Seq })
		h.held[ev.Device] = q
		h.c.held.Add(1)
		h.log.Debug("event held for a missing one", "device", ev.Device, "seq", ev.Seq, "last", last)
		h.askResend(ev.Device)
		return nil
	}
	if err := h.apply(b, ev); err != nil {
		return nil
	}
	return append([]func(){ack}, h.drainHeld(b, ev.Device)...)
}

// resendEvery is how often a device whose events are held for a missing
// one is asked again to send what follows its last applied event.
const resendEvery = 2 * time.Second

// askResend asks dev, whose events wait for a missing one, to publish its
// events after the last one applied again (contract.CmdResend), at most
// every resendEvery: a broker can lose a message (mochi, one in flight to
// a session taken over or dropped for a full queue), and then the gap
// would close only when the reorder window gives up on it. The device
// keeps its events in its log; copies are dropped by id. A device that
// does not know the command answers so, and the window decides as
// before. h.mu must be held.
func (h *Hub) askResend(dev string) {
	now := h.now()
	if at, ok := h.asked[dev]; ok && now.Sub(at) < resendEvery && !now.Before(at) {
		return
	}
	after := h.device(dev).LastEventSeq
	cmd := &contract.Command{ID: newID(), Device: dev, Name: contract.CmdResend, By: h.cfg.Hub.ID, Time: now,
		Args: map[string]string{"after": strconv.FormatUint(after, 10)}}
	select {
	case h.resendq <- cmd:
		h.asked[dev] = now
	default: // resendLoop is behind: the next tick asks again
	}
}

// resendLoop publishes askResend's commands. Their acks are not waited
// for: what matters is the events that follow.
func (h *Hub) resendLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case cmd := <-h.resendq:
			b, err := contract.Encode(cmd)
			if err != nil {
				h.log.Error("resend command", "device", cmd.Device, "error", err)
				continue
			}
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err = wait(pctx, h.client.Publish(contract.DeviceTopic(cmd.Device, "cmd"), 1, false, b))
			cancel()
			if err != nil {
				if ctx.Err() == nil {
					h.log.Warn("resend command not sent", "device", cmd.Device, "error", err)
				}
				continue
			}
			h.c.resends.Add(1)
			h.log.Info("asked device to send its events again", "device", cmd.Device, "after", cmd.Args["after"])
		}
	}
}

// drainHeld applies the held events of dev that are next in sequence, or
// have waited longer than the reorder window. h.mu must be held.
func (h *Hub) drainHeld(b *batch, dev string) []func() {
	var acks []func()
	q := h.held[dev]
	now := h.now()
	for len(q) > 0 {
		e := q[0]
		r := h.device(dev)
		if e.ev.Seq > r.LastEventSeq+1 && now.Sub(e.at) < h.opts.ReorderWindow {
			break
		}
		if err := h.apply(b, e.ev); err != nil {
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

// apply commits one event and its consequences, in a transaction of its
// own when b is nil. On a store error it restores the in-memory state from
// disk and returns the error; the event stays unacknowledged. In a batch it
// records the error in b, updates memory at once (the next event of the
// batch must see this one's alert), and applyBatch restores memory from
// disk if the batch fails. h.mu must be held.
func (h *Hub) apply(b *batch, ev *contract.Event) error {
	if b != nil {
		if b.err != nil {
			return b.err
		}
		effects, err := h.applyTx(b.tx, ev)
		if err != nil {
			b.err = err
			return err
		}
		for _, f := range effects {
			f()
		}
		return nil
	}
	var effects []func()
	err := replica.Update(h.db, func(tx *bolt.Tx) error {
		var err error
		effects, err = h.applyTx(tx, ev)
		return err
	})
	if err != nil {
		h.storeFailed(ev, err)
		return fmt.Errorf("hub: apply event: %w", err)
	}
	for _, f := range effects {
		f()
	}
	return nil
}

// storeFailed logs and counts a failed commit of ev and reloads the state
// from disk.
func (h *Hub) storeFailed(ev *contract.Event, err error) {
	h.c.storeErrors.Add(1)
	h.log.Error("event not stored; left for the broker to deliver again", "device", ev.Device, "id", ev.ID, "error", err)
	if lerr := h.load(); lerr != nil {
		h.log.Error("reload after store error", "error", lerr)
	}
}

// applyTx writes ev and its consequences in tx and returns what to do in
// memory once they are committed. h.mu must be held.
func (h *Hub) applyTx(tx *bolt.Tx, ev *contract.Event) ([]func(), error) {
	now := h.now()
	r := h.device(ev.Device)
	seen := tx.Bucket(bSeen)
	if seen.Get([]byte(ev.ID)) != nil {
		return []func(){func() {
			h.c.duplicates.Add(1)
			h.log.Debug("duplicate event dropped", "device", ev.Device, "id", ev.ID, "seq", ev.Seq)
		}}, nil
	}
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(now.UnixNano()))
	if err := replica.Put(tx, bSeen, []byte(ev.ID), ts[:]); err != nil {
		return nil, err
	}
	// A device whose store was lost (moved aside as corrupt, replaced)
	// numbers its events from 1 again, under a Session (its boot count)
	// that starts at the clock's seconds (contract.FirstCounter): a seq
	// going back while the session goes up is a new numbering, never a
	// stale copy (in one store both only go up). The channels start again
	// with it; an event of an earlier numbering arriving later is only
	// recorded (prev).
	if last := r.LastEventSeq; last != 0 && r.LastEventBoot != 0 && ev.Seq <= last && ev.Session > r.LastEventBoot {
		h.log.Warn("device numbers its events anew: its store was lost or replaced", "device", ev.Device,
			"session", ev.Session, "seq", ev.Seq, "last_session", r.LastEventBoot, "last_seq", last)
		r.EventBoot, r.LastEventSeq, r.Chans = ev.Session, 0, nil
	}
	prev := ev.Session < r.EventBoot
	switch last := r.LastEventSeq; {
	case prev:
		h.c.outOfOrder.Add(1)
		h.log.Warn("event of the device's earlier numbering", "device", ev.Device, "session", ev.Session, "seq", ev.Seq, "id", ev.ID)
	case ev.Seq > last:
		if last != 0 && ev.Seq > last+1 {
			gap := ev.Seq - last - 1
			r.MissingEvents += gap
			h.c.missing.Add(gap)
			h.log.Warn("events missing", "device", ev.Device, "after_seq", last, "count", gap)
		}
		r.LastEventSeq, r.LastEventBoot = ev.Seq, ev.Session
	default:
		h.c.outOfOrder.Add(1)
		h.log.Warn("event out of order", "device", ev.Device, "seq", ev.Seq, "last", last, "id", ev.ID)
	}
	// A channel's state is that of its newest event: one older than an
	// event of the channel already applied (a copy in flight to a killed
	// hub, delivered again after later ones) is recorded, not obeyed.
	if r.Chans == nil {
		r.Chans = map[string]*chanState{}
	}
	cs := r.Chans[ev.Channel]
	if cs == nil {
		cs = &chanState{}
		r.Chans[ev.Channel] = cs
	}
	late := prev || (cs.Newest != nil && ev.Seq < cs.Newest.Seq)
	if !late {
		e := *ev
		cs.Newest = &e
	}
	r.LastSeen = now
	n, err := replica.NextSequence(tx, bEvents)
	if err != nil {
		return nil, err
	}
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], n)
	if err := putJSON(tx, bEvents, string(k[:]), ev); err != nil {
		return nil, err
	}
	effects, err := h.alertsForEvent(tx, ev, r, cs, late, now)
	if err != nil {
		return nil, err
	}
	if err := putJSON(tx, bDevices, ev.Device, r); err != nil {
		return nil, err
	}
	return append([]func(){func() { delete(h.dirty, ev.Device) }}, effects...), nil
}

// queuedEvent is an event waiting for the event loop.
type queuedEvent struct {
	ev   *contract.Event
	ack  func()
	dup  bool   // the broker's redelivery (MQTT DUP flag)
	conn uint64 // the connection it came on (Hub.conn)
}

// maxBatch bounds the events committed in one transaction.
const maxBatch = 256

// eventLoop applies the queued events: all those waiting, up to maxBatch,
// in one transaction, so that under load (or a slow disk) the hub pays one
// fsync for many events instead of one each, and an alarm does not wait
// behind a queue of single commits.
func (h *Hub) eventLoop(ctx context.Context) {
	for {
		var b []queuedEvent
		select {
		case q := <-h.events:
			b = append(b, q)
		case <-ctx.Done():
			return
		}
	more:
		for len(b) < maxBatch {
			select {
			case q := <-h.events:
				b = append(b, q)
			default:
				break more
			}
		}
		h.applyBatch(b)
	}
}

// applyBatch applies events in one transaction and then acknowledges what
// it committed. If the transaction fails, memory is restored from disk and
// the events are applied one by one, each with its own error handling.
func (h *Hub) applyBatch(events []queuedEvent) {
	h.mu.Lock()
	conn := h.conn.Load()
	for i := range events {
		if events[i].conn != conn {
			// Came on a connection that is gone: a PUBACK now could
			// acknowledge another message with the same packet id. The
			// broker sends it again; the copy is dropped as a duplicate.
			events[i].ack = func() {}
		}
	}
	held := make(map[string][]heldEvent, len(h.held))
	for k, v := range h.held {
		held[k] = slices.Clone(v)
	}
	var acks []func()
	b := &batch{}
	err := replica.Update(h.db, func(tx *bolt.Tx) error {
		b.tx = tx
		for _, q := range events {
			acks = append(acks, h.acceptEvent(b, q.ev, q.ack, q.dup)...)
			if b.err != nil {
				return b.err
			}
		}
		return nil
	})
	if err != nil {
		h.held = held
		h.storeFailed(events[0].ev, err)
		acks = nil
		for _, q := range events {
			acks = append(acks, h.acceptEvent(nil, q.ev, q.ack, q.dup)...)
		}
	}
	h.mu.Unlock()
	for _, a := range acks {
		a()
	}
}
