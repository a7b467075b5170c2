package hub

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"linli/grid/replica"
	"linli/mqtt/contract"
	"linli/mqtt/outbox"
)

// Buckets of the hub's bbolt file.
var (
	bDevices = []byte("hub.devices") // device id → devRecord JSON
	bAlerts  = []byte("hub.alerts")  // alert id → contract.Alert JSON (active and cleared)
	bSeen    = []byte("hub.seen")    // event id → hub time, 8 bytes unix ns
	bEvents  = []byte("hub.events")  // hub seq → contract.Event JSON, in the order applied
)

// devRecord is the stored registry entry of a device.
type devRecord struct {
	contract.DeviceInfo
	// DeadSession is the session whose death the hub has seen; a retained
	// birth of that same session, replayed later, must not revive it.
	DeadSession uint32 `json:"dead_session,omitempty"`

	// LastEventBoot is the Session (boot count) of the event that set
	// LastEventSeq; EventBoot the Session of the first event of the
	// device's current numbering (see Hub.applyTx).
	LastEventBoot uint32 `json:"last_event_boot,omitempty"`
	EventBoot     uint32 `json:"event_boot,omitempty"`

	// Channels holds, per channel, what decides how a late event is
	// handled (see Hub.lateAlert).
	Chans map[string]*chanState `json:"chans,omitempty"`

	// savedSeen is the LastSeen last written to disk (minus a jitter):
	// telemetry alone rewrites a record at most every seenEvery.
	savedSeen time.Time
}

// chanState is what the hub keeps of a device's channel.
type chanState struct {
	// Newest is the channel's newest event applied.
	Newest *contract.Event `json:"newest"`
	// AlertSeq is the seq of the event that raised the channel's last
	// alert (an alarm folded into an active alert does not change it).
	AlertSeq uint64 `json:"alert_seq,omitempty"`
}

// seenEvery is how often a device's "last seen" alone is written to disk.
const seenEvery = time.Minute

func (h *Hub) load() error {
	h.devices = map[string]*devRecord{}
	h.dirty = map[string]bool{}
	h.alerts = map[string]*contract.Alert{}
	if h.held == nil {
		h.held = map[string][]heldEvent{}
	}
	err := h.db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bDevices, bAlerts, bSeen, bEvents} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bDevices).ForEach(func(k, v []byte) error {
			r := new(devRecord)
			if err := json.Unmarshal(v, r); err != nil {
				return fmt.Errorf("device %s: %w", k, err)
			}
			h.devices[string(k)] = r
			return nil
		}); err != nil {
			return err
		}
		return tx.Bucket(bAlerts).ForEach(func(k, v []byte) error {
			a := new(contract.Alert)
			if err := json.Unmarshal(v, a); err != nil {
				return fmt.Errorf("alert %s: %w", k, err)
			}
			if !a.Cleared {
				h.alerts[a.ID] = a
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("hub: load: %w", err)
	}
	for _, d := range h.cfg.Devices {
		r := h.devices[d.ID]
		if r == nil {
			r = &devRecord{DeviceInfo: contract.DeviceInfo{Device: d.ID, Kind: d.Kind}}
			h.devices[d.ID] = r
		}
		r.Location = d.Location // the configuration wins over what a device says
	}
	return nil
}

// device returns the record of id, creating it for a device the
// configuration does not know.
func (h *Hub) device(id string) *devRecord {
	r := h.devices[id]
	if r == nil {
		r = &devRecord{DeviceInfo: contract.DeviceInfo{Device: id}}
		h.devices[id] = r
	}
	return r
}

// putJSON stores v under key in the top-level bucket, through the journal.
func putJSON(tx *bolt.Tx, bucket []byte, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return replica.Put(tx, bucket, []byte(key), data)
}

// flushMax bounds the records a tick writes: with thousands of devices
// seen for the first time, one transaction of all of them would hold h.mu,
// and so the next alarm, for its whole marshalling and fsync. The rest
// waits for the next ticks; the registry in memory is current.
const flushMax = 256

// flush writes up to limit dirty registry records (limit <= 0: all of them).
// h.mu must be held.
func (h *Hub) flush(limit int) error {
	if len(h.dirty) == 0 {
		return nil
	}
	ids := make([]string, 0, len(h.dirty))
	for id := range h.dirty {
		if limit > 0 && len(ids) == limit {
			break
		}
		ids = append(ids, id)
	}
	err := replica.Update(h.db, func(tx *bolt.Tx) error {
		for _, id := range ids {
			if err := putJSON(tx, bDevices, id, h.devices[id]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, id := range ids {
		if r := h.devices[id]; r != nil {
			// Spread the next writes over time.
			r.savedSeen = r.LastSeen.Add(-time.Duration(rand.Int64N(int64(seenEvery / 2))))
		}
		delete(h.dirty, id)
	}
	return nil
}

// prune forgets event ids older than SeenFor.
func (h *Hub) prune(now time.Time) error {
	limit := now.Add(-h.opts.SeenFor).UnixNano()
	n := 0
	err := replica.Update(h.db, func(tx *bolt.Tx) error {
		c := tx.Bucket(bSeen).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(v) == 8 && int64(binary.BigEndian.Uint64(v)) < limit {
				if err := replica.DeleteCursor(tx, bSeen, c, k); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	if n > 0 {
		h.log.Info("forgot old event ids", "count", n)
	}
	return err
}

// queue puts a message for the broker into the outbox inside tx.
func (h *Hub) queue(tx *bolt.Tx, topic string, m contract.Message, retain bool) error {
	b, err := contract.Encode(m)
	if err != nil {
		return err
	}
	seq, err := h.out.PutTx(tx, outbox.Item{Class: outbox.Event, Topic: topic, Payload: b, QoS: 1, Retain: retain})
	if err != nil {
		return err
	}
	if err := touchOutbox(tx, seq); err != nil {
		return err
	}
	tx.OnCommit(func() {
		h.addDepth(1)
		h.out.Notify()
		h.notify(topic, m) // Subscribe's live feed (local.go)
	})
	return nil
}

// Events returns the events the hub applied for device, in the order it
// applied them; device "" means all devices.
func (h *Hub) Events(device string) ([]contract.Event, error) {
	var out []contract.Event
	err := h.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bEvents).ForEach(func(_, v []byte) error {
			var e contract.Event
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			if device == "" || e.Device == device {
				out = append(out, e)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("hub: events: %w", err)
	}
	return out, nil
}

// Devices returns the registry, sorted by device id.
func (h *Hub) Devices() []contract.DeviceInfo {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.foldSeen()
	out := make([]contract.DeviceInfo, 0, len(h.devices))
	for _, r := range h.devices {
		out = append(out, r.DeviceInfo)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Device < out[j].Device })
	return out
}

// Alerts returns the active alerts, oldest first; with cleared true, the
// cleared ones kept on disk too.
func (h *Hub) Alerts(cleared bool) ([]contract.Alert, error) {
	var out []contract.Alert
	if !cleared {
		h.mu.Lock()
		for _, a := range h.alerts {
			out = append(out, *a)
		}
		h.mu.Unlock()
	} else {
		err := h.db.View(func(tx *bolt.Tx) error {
			return tx.Bucket(bAlerts).ForEach(func(_, v []byte) error {
				var a contract.Alert
				if err := json.Unmarshal(v, &a); err != nil {
					return err
				}
				out = append(out, a)
				return nil
			})
		})
		if err != nil {
			return nil, fmt.Errorf("hub: alerts: %w", err)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// The outbox's buckets (Options.Prefix "hub.outbox"), which mqtt/outbox
// writes without recording: the hub records their state after it (see
// replica.Touch), so that a standby sends what the active hub queued.
var (
	bOutboxEvents = []byte("hub.outbox.event")
	bOutboxMeta   = []byte("hub.outbox.meta")
	keyOutboxN    = []byte("n-event")
)

// touchOutbox records the outbox event seq (queued or deleted) for the
// standbys. Without a journal it does nothing.
func touchOutbox(tx *bolt.Tx, seqs ...uint64) error {
	keys := make([][]byte, len(seqs))
	for i, s := range seqs {
		keys[i] = binary.BigEndian.AppendUint64(nil, s)
	}
	if err := replica.Touch(tx, bOutboxEvents, keys...); err != nil {
		return err
	}
	return replica.Touch(tx, bOutboxMeta, keyOutboxN)
}
