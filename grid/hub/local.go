package hub

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"linli/grid/config"
	"linli/mqtt/contract"
)

// This file is the hub's in-process API for front-ends in the same
// process (the web console, package web): requests served through the
// same handler table and permission checks as gridctl's MQTT requests,
// device messages delivered through the same handlers as a kiosk's, and
// a live feed of what the hub publishes.

// Do serves request op req for worker w in process, through the handler
// table and permission checks of an MQTT request from gridctl: w must be
// a configured worker (by id; the rest of w is ignored and read from the
// configuration). It returns the response body, as the handler made it,
// or the error a gridctl user would see. Do blocks as long as the
// operation does (device.cmd waits for the device), and needs Run for
// operations that talk to devices.
func (h *Hub) Do(ctx context.Context, w config.Worker, req *contract.Request) (any, error) {
	h.c.requests.Add(1)
	body, err := h.serveRequest(ctx, w.ID, req)
	if err != nil {
		h.c.requestErrors.Add(1)
		h.log.Info("request refused", "from", w.ID, "op", req.Op, "via", "local", "error", err)
		return nil, err
	}
	h.log.Debug("request served", "from", w.ID, "op", req.Op, "via", "local")
	return body, nil
}

// Deliver hands m to the handler registered with HandleDeviceMessage for
// leaf, as if device had published it on its leaf topic: the web's
// resident reports and ratings are filed by exactly the code that files a
// kiosk's. device need not be in the registry (the web is a device of its
// own); its DeviceInfo is the registry's when it is. An unknown leaf
// fails with ErrBadRequest. Deliver returns the handler's error.
func (h *Hub) Deliver(ctx context.Context, device, leaf string, m contract.Message) error {
	fn := h.devFns[leaf]
	if fn == nil {
		return fmt.Errorf("%w: no handler for %q", ErrBadRequest, leaf)
	}
	info := contract.DeviceInfo{Device: device, Kind: "web"}
	h.mu.Lock()
	if r := h.devices[device]; r != nil {
		info = r.DeviceInfo
	}
	h.mu.Unlock()
	if err := fn(ctx, info, m); err != nil {
		h.c.handlerErrors.Add(1)
		return err
	}
	return nil
}

// Config returns the hub's configuration. The caller must not change it.
func (h *Hub) Config() *config.Config { return h.cfg }

// Sees reports whether worker w answers for a place at loc, the rule the
// hub applies to alerts and devices: a grid worker their grid, community
// staff their community, the subdistrict and maintenance everything.
func Sees(w config.Worker, loc contract.Location) bool { return sees(w, loc) }

// Change is one message the hub committed for publication: an Alert on a
// grid's topic, a building's AreaAlerts, a ticket's TicketStatus, a
// community's Notices or Wishes. Or, with Device set and no message, a
// device's registry entry as gridctl devices shows it changed: it came
// online or went offline, or sent its state (channels, health, firmware);
// telemetry alone, which only moves LastSeen, is no change. Resync, with
// no message, means changes were dropped because the subscriber lagged:
// read the state again.
type Change struct {
	Topic  string
	Msg    contract.Message
	Device *contract.DeviceInfo // a copy: the subscriber may keep it
	Resync bool
	// Peer marks another hub's grid alert (Options.Hubs): not in this
	// hub's store, passed on as it came.
	Peer bool
}

// subBuffer is how many changes a subscriber may fall behind before it
// gets a Resync instead.
const subBuffer = 64

// subscribers fans the hub's changes out to Subscribe's channels. The
// zero value is ready.
type subscribers struct {
	mu   sync.Mutex
	next int
	subs map[int]*subscriber
}

type subscriber struct {
	ch   chan Change
	lost bool // changes were dropped; a Resync is owed
}

// Subscribe returns a channel of the hub's committed changes, in commit
// order, and a cancel func that closes it. Delivery never blocks the
// hub: a subscriber more than a few dozen changes behind loses them and
// gets one Change with Resync set when it catches up. The caller must
// call cancel.
func (h *Hub) Subscribe() (<-chan Change, func()) {
	s := &h.subs
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.subs == nil {
		s.subs = map[int]*subscriber{}
	}
	id := s.next
	s.next++
	sub := &subscriber{ch: make(chan Change, subBuffer)}
	s.subs[id] = sub
	var once sync.Once
	return sub.ch, func() {
		once.Do(func() {
			s.mu.Lock()
			delete(s.subs, id)
			s.mu.Unlock()
			close(sub.ch)
		})
	}
}

// notify hands a committed change to every subscriber without blocking.
// It runs in a bbolt commit hook.
func (h *Hub) notify(topic string, m contract.Message) {
	h.subs.send(Change{Topic: topic, Msg: m})
}

// deviceChanged tells the subscribers that r changed. h.mu must be held.
func (h *Hub) deviceChanged(r *devRecord) {
	d := r.DeviceInfo
	d.Channels = slices.Clone(d.Channels)
	h.subs.send(Change{Device: &d})
}

// send hands c to every subscriber without blocking.
func (s *subscribers) send(c Change) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sub := range s.subs {
		if sub.lost {
			select {
			case sub.ch <- Change{Resync: true}:
				sub.lost = false
			default:
				continue
			}
		}
		select {
		case sub.ch <- c:
		default:
			sub.lost = true
		}
	}
}
