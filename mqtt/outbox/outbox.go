package outbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// Class is an outbox message class.
type Class uint8

// Classes, in the order Peek returns them.
const (
	Event     Class = iota // never dropped
	Telemetry              // bounded, oldest dropped first
)

func (c Class) String() string {
	if c == Event {
		return "event"
	}
	return "telemetry"
}

// Item is one queued MQTT message.
type Item struct {
	Class   Class
	Seq     uint64 // assigned by Put; the order within the class
	Topic   string
	Payload []byte
	QoS     byte
	Retain  bool
}

// Stats describes the queue.
type Stats struct {
	Events    int    // events waiting
	Telemetry int    // telemetry waiting
	Dropped   uint64 // telemetry dropped by the bound, ever
}

// Depth is the number of messages waiting.
func (s Stats) Depth() int { return s.Events + s.Telemetry }

// Options configures an Outbox. The zero value of a field means its default.
type Options struct {
	// MaxTelemetry bounds the telemetry waiting, in messages. Default
	// 200,000 (about 24 h of one batch a second, with room to spare).
	MaxTelemetry int
	// Prefix is prepended to the bucket names, so that one bbolt file can
	// hold several outboxes. Default "outbox".
	Prefix string
}

// DefaultOptions are the options used for nil.
var DefaultOptions = Options{MaxTelemetry: 200_000, Prefix: "outbox"}

func (o *Options) ensureDefaults() {
	if o.MaxTelemetry <= 0 {
		o.MaxTelemetry = DefaultOptions.MaxTelemetry
	}
	if o.Prefix == "" {
		o.Prefix = DefaultOptions.Prefix
	}
}

// ErrCorrupt means a stored item could not be read back.
var ErrCorrupt = errors.New("outbox: corrupt item")

// Outbox is a durable queue in a bbolt file. Its methods are safe for
// concurrent use.
type Outbox struct {
	db     *bolt.DB
	opts   Options
	bucket [2][]byte
	meta   []byte

	mu    sync.Mutex
	ready chan struct{} // closed and replaced by Notify
}

var (
	keyDropped = []byte("dropped")
	keyCount   = [2][]byte{[]byte("n-event"), []byte("n-telemetry")}
)

// Open returns the outbox kept in db, creating its buckets if needed. The
// caller owns db and closes it after it is done with the Outbox. opts may be
// nil.
func Open(db *bolt.DB, opts *Options) (*Outbox, error) {
	o := &Outbox{db: db, ready: make(chan struct{})}
	if opts != nil {
		o.opts = *opts
	}
	o.opts.ensureDefaults()
	p := o.opts.Prefix
	o.bucket = [2][]byte{[]byte(p + ".event"), []byte(p + ".telemetry")}
	o.meta = []byte(p + ".meta")
	err := db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{o.bucket[0], o.bucket[1], o.meta} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: open: %w", err)
	}
	return o, nil
}

// PutTx queues it inside the caller's writable transaction, so that the
// message and what it announces are committed together. It returns the
// assigned sequence number. The caller must call Notify after the
// transaction committed.
func (o *Outbox) PutTx(tx *bolt.Tx, it Item) (uint64, error) {
	if it.Class > Telemetry {
		return 0, fmt.Errorf("outbox: put: unknown class %d", it.Class)
	}
	if it.Topic == "" || len(it.Topic) > 0xffff {
		return 0, fmt.Errorf("outbox: put: bad topic length %d", len(it.Topic))
	}
	b := tx.Bucket(o.bucket[it.Class])
	meta := tx.Bucket(o.meta)
	seq, err := b.NextSequence()
	if err != nil {
		return 0, fmt.Errorf("outbox: put: %w", err)
	}
	it.Seq = seq
	if err := b.Put(u64(seq), encode(it)); err != nil {
		return 0, fmt.Errorf("outbox: put: %w", err)
	}
	n := getU64(meta, keyCount[it.Class]) + 1
	if it.Class == Telemetry && n > uint64(o.opts.MaxTelemetry) {
		// Drop the oldest telemetry to stay within the bound.
		c := b.Cursor()
		for k, _ := c.First(); k != nil && n > uint64(o.opts.MaxTelemetry); k, _ = c.Next() {
			if err := c.Delete(); err != nil {
				return 0, fmt.Errorf("outbox: drop: %w", err)
			}
			n--
			if err := putU64(meta, keyDropped, getU64(meta, keyDropped)+1); err != nil {
				return 0, err
			}
		}
	}
	if err := putU64(meta, keyCount[it.Class], n); err != nil {
		return 0, fmt.Errorf("outbox: put: %w", err)
	}
	return seq, nil
}

// Put queues it in a transaction of its own, durable when Put returns, and
// notifies waiters.
func (o *Outbox) Put(it Item) (uint64, error) {
	var seq uint64
	err := o.db.Update(func(tx *bolt.Tx) error {
		var err error
		seq, err = o.PutTx(tx, it)
		return err
	})
	if err != nil {
		return 0, err
	}
	o.Notify()
	return seq, nil
}

// Notify wakes whoever waits on Ready.
func (o *Outbox) Notify() {
	o.mu.Lock()
	close(o.ready)
	o.ready = make(chan struct{})
	o.mu.Unlock()
}

// Ready returns a channel closed at the next Notify.
func (o *Outbox) Ready() <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.ready
}

// Peek returns up to max waiting items, events first, each class in the
// order it was put, without removing them. max <= 0 means all.
func (o *Outbox) Peek(max int) ([]Item, error) {
	var items []Item
	err := o.db.View(func(tx *bolt.Tx) error {
		for class := Event; class <= Telemetry; class++ {
			c := tx.Bucket(o.bucket[class]).Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				if max > 0 && len(items) >= max {
					return nil
				}
				it, err := decode(class, k, v)
				if err != nil {
					return err
				}
				items = append(items, it)
			}
		}
		return nil
	})
	return items, err
}

// Delete removes the items (by class and Seq), once the broker acknowledged
// them. Deleting an item that is gone already is not an error.
func (o *Outbox) Delete(items ...Item) error {
	if len(items) == 0 {
		return nil
	}
	err := o.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(o.meta)
		var removed [2]uint64
		for _, it := range items {
			if it.Class > Telemetry {
				continue
			}
			b := tx.Bucket(o.bucket[it.Class])
			k := u64(it.Seq)
			if b.Get(k) == nil {
				continue
			}
			if err := b.Delete(k); err != nil {
				return err
			}
			removed[it.Class]++
		}
		for class, r := range removed {
			if r == 0 {
				continue
			}
			n := getU64(meta, keyCount[class])
			if r > n {
				r = n
			}
			if err := putU64(meta, keyCount[class], n-r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("outbox: delete: %w", err)
	}
	return nil
}

// Stats returns the queue's counters.
func (o *Outbox) Stats() (Stats, error) {
	var s Stats
	err := o.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(o.meta)
		s.Events = int(getU64(meta, keyCount[Event]))
		s.Telemetry = int(getU64(meta, keyCount[Telemetry]))
		s.Dropped = getU64(meta, keyDropped)
		return nil
	})
	return s, err
}

func u64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

func getU64(b *bolt.Bucket, k []byte) uint64 {
	v := b.Get(k)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func putU64(b *bolt.Bucket, k []byte, v uint64) error { return b.Put(k, u64(v)) }

// encode lays an item out as: flags(1) topicLen(2) topic payload.
func encode(it Item) []byte {
	buf := make([]byte, 3+len(it.Topic)+len(it.Payload))
	buf[0] = it.QoS & 3
	if it.Retain {
		buf[0] |= 4
	}
	binary.BigEndian.PutUint16(buf[1:], uint16(len(it.Topic)))
	copy(buf[3:], it.Topic)
	copy(buf[3+len(it.Topic):], it.Payload)
	return buf
}

func decode(class Class, k, v []byte) (Item, error) {
	if len(k) != 8 || len(v) < 3 {
		return Item{}, fmt.Errorf("%w: %s key %x", ErrCorrupt, class, k)
	}
	n := int(binary.BigEndian.Uint16(v[1:]))
	if 3+n > len(v) {
		return Item{}, fmt.Errorf("%w: %s %d: topic length %d beyond %d bytes", ErrCorrupt, class, binary.BigEndian.Uint64(k), n, len(v))
	}
	return Item{
		Class:   class,
		Seq:     binary.BigEndian.Uint64(k),
		QoS:     v[0] & 3,
		Retain:  v[0]&4 != 0,
		Topic:   string(v[3 : 3+n]),
		Payload: append([]byte(nil), v[3+n:]...),
	}, nil
}
