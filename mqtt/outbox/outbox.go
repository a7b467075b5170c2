package outbox

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
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
	Corrupt   uint64 // unreadable items set aside by Peek, ever
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
	// Logger receives the error logged for each corrupt item set aside;
	// nil means slog.Default().
	Logger *slog.Logger `yaml:"-"`
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
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// ErrCorrupt means a stored item could not be read back. Peek does not
// return it: it sets such an item aside (see Peek) and logs an error
// wrapping it.
var ErrCorrupt = errors.New("outbox: corrupt item")

// Outbox is a durable queue in a bbolt file. Its methods are safe for
// concurrent use.
type Outbox struct {
	db      *bolt.DB
	opts    Options
	bucket  [2][]byte
	meta    []byte
	corrupt []byte
	log     *slog.Logger

	mu    sync.Mutex
	ready chan struct{} // closed and replaced by Notify
}

var (
	keyDropped = []byte("dropped")
	keyCorrupt = []byte("corrupt")
	keyLow     = []byte("telemetry-low") // no telemetry below this seq
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
	o.corrupt = []byte(p + ".corrupt")
	o.log = o.opts.Logger.With("component", "outbox", "prefix", p)
	err := db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{o.bucket[0], o.bucket[1], o.meta, o.corrupt} {
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
	if it.QoS > 2 {
		return 0, fmt.Errorf("outbox: put: QoS %d", it.QoS)
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
	if limit := uint64(o.opts.MaxTelemetry); it.Class == Telemetry && n > limit {
		// Drop the oldest telemetry to stay within the bound. keyLow is a
		// sequence number no telemetry below which exists; seeking to it
		// finds the oldest at once. (Cursor.First would walk over every
		// leaf emptied earlier in this transaction, quadratic in the
		// drops of a large one; and Delete-then-Next, although right in
		// bbolt 1.5, skipped keys in old bolt versions.)
		low := getU64(meta, keyLow)
		var dropped uint64
		c := b.Cursor()
		for ; n > limit; n-- {
			k, _ := c.Seek(u64(low))
			if k == nil || len(k) != 8 || binary.BigEndian.Uint64(k) == seq {
				break // the count was off: never drop the new item
			}
			low = binary.BigEndian.Uint64(k) + 1
			if err := c.Delete(); err != nil {
				return 0, fmt.Errorf("outbox: drop: %w", err)
			}
			dropped++
		}
		if err := putU64(meta, keyLow, low); err != nil {
			return 0, fmt.Errorf("outbox: drop: %w", err)
		}
		if err := putU64(meta, keyDropped, getU64(meta, keyDropped)+dropped); err != nil {
			return 0, fmt.Errorf("outbox: drop: %w", err)
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

// Cursor is a reading position in the outbox: for each class, the Seq of
// the last item read. The zero Cursor is before the oldest item.
type Cursor struct {
	Event, Telemetry uint64
}

// Advance moves c past it.
func (c *Cursor) Advance(it Item) {
	switch it.Class {
	case Event:
		c.Event = max(c.Event, it.Seq)
	case Telemetry:
		c.Telemetry = max(c.Telemetry, it.Seq)
	}
}

func (c Cursor) after(class Class) uint64 {
	if class == Event {
		return c.Event
	}
	return c.Telemetry
}

// Peek returns up to max waiting items, events first, each class in the
// order it was put, without removing them. max <= 0 means all. It is
// PeekAfter(Cursor{}, max).
func (o *Outbox) Peek(max int) ([]Item, error) { return o.PeekAfter(Cursor{}, max) }

// PeekAfter returns up to max waiting items that come after cur, events
// first, each class in the order it was put, without removing them.
// max <= 0 means all. A sender keeps a Cursor advanced past every item it
// sent, so that it reads each item once while earlier ones await their
// acknowledgement; after a reconnect it starts again from the zero Cursor,
// that is from the oldest item not deleted.
//
// An item that cannot be decoded is not returned: it is moved to the
// bucket "<prefix>.corrupt", counted in Stats.Corrupt and logged at Error,
// so that it does not block the items behind it. Only an error of bbolt
// itself is returned.
func (o *Outbox) PeekAfter(cur Cursor, max int) ([]Item, error) {
	var items []Item
	var bad []badItem
	err := o.db.View(func(tx *bolt.Tx) error {
		var d decoder
		for class := Event; class <= Telemetry; class++ {
			c := tx.Bucket(o.bucket[class]).Cursor()
			var k, v []byte
			switch after := cur.after(class); after {
			case 0:
				k, v = c.First()
			case math.MaxUint64:
				continue // nothing can come after it
			default:
				k, v = c.Seek(u64(after + 1))
			}
			for ; k != nil; k, v = c.Next() {
				if max > 0 && len(items) >= max {
					return nil
				}
				it, err := d.decode(class, k, v)
				if err != nil {
					bad = append(bad, badItem{class, append([]byte(nil), k...), err})
					continue
				}
				items = append(items, it)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: peek: %w", err)
	}
	if len(bad) > 0 {
		if err := o.setAside(bad); err != nil {
			return nil, err
		}
	}
	return items, nil
}

type badItem struct {
	class Class
	key   []byte
	err   error
}

// setAside moves the corrupt items to the corrupt bucket, under the key
// class(1) seq(8), and counts them.
func (o *Outbox) setAside(bad []badItem) error {
	var moved []badItem
	err := o.db.Update(func(tx *bolt.Tx) error {
		moved = moved[:0]
		meta := tx.Bucket(o.meta)
		aside := tx.Bucket(o.corrupt)
		for _, it := range bad {
			b := tx.Bucket(o.bucket[it.class])
			v := b.Get(it.key)
			if v == nil {
				continue // deleted meanwhile
			}
			if err := aside.Put(append([]byte{byte(it.class)}, it.key...), v); err != nil {
				return err
			}
			if err := b.Delete(it.key); err != nil {
				return err
			}
			moved = append(moved, it)
		}
		if len(moved) == 0 {
			return nil
		}
		// Whatever wrote garbage may have upset the counts too: count the
		// buckets again (rare, so the full walk is affordable; a cursor,
		// since Bucket.Stats sees only committed pages).
		for class := Event; class <= Telemetry; class++ {
			var n uint64
			c := tx.Bucket(o.bucket[class]).Cursor()
			for k, _ := c.First(); k != nil; k, _ = c.Next() {
				n++
			}
			if err := putU64(meta, keyCount[class], n); err != nil {
				return err
			}
		}
		return putU64(meta, keyCorrupt, getU64(meta, keyCorrupt)+uint64(len(moved)))
	})
	if err != nil {
		return fmt.Errorf("outbox: set corrupt items aside: %w", err)
	}
	for _, it := range moved {
		o.log.Error("outbox: corrupt item set aside", "class", it.class, "bucket", string(o.corrupt), "err", it.err)
	}
	return nil
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
		cursors := [2]*bolt.Cursor{tx.Bucket(o.bucket[Event]).Cursor(), tx.Bucket(o.bucket[Telemetry]).Cursor()}
		var k [8]byte
		for _, it := range items {
			if it.Class > Telemetry {
				continue
			}
			// One search per item: Seek finds it or shows it is gone.
			c := cursors[it.Class]
			binary.BigEndian.PutUint64(k[:], it.Seq)
			if got, _ := c.Seek(k[:]); !bytes.Equal(got, k[:]) {
				continue
			}
			if err := c.Delete(); err != nil {
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
		s.Corrupt = getU64(meta, keyCorrupt)
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

// decoder decodes the items of one Peek. It copies the payloads into
// shared slabs and reuses the topic strings, so that a large Peek costs a
// few allocations rather than two per item.
type decoder struct {
	slab   []byte
	topics map[string]string
}

const slabSize = 64 << 10

func (d *decoder) decode(class Class, k, v []byte) (Item, error) {
	if len(k) != 8 || len(v) < 3 {
		return Item{}, fmt.Errorf("%w: %s key %x, %d bytes", ErrCorrupt, class, k, len(v))
	}
	seq := binary.BigEndian.Uint64(k)
	n := int(binary.BigEndian.Uint16(v[1:]))
	if v[0]&^7 != 0 || v[0]&3 == 3 || n == 0 || 3+n > len(v) { // QoS 3 does not exist
		return Item{}, fmt.Errorf("%w: %s %d: flags %#x, topic length %d in %d bytes", ErrCorrupt, class, seq, v[0], n, len(v))
	}
	topic, ok := d.topics[string(v[3:3+n])]
	if !ok {
		if d.topics == nil {
			d.topics = make(map[string]string)
		}
		topic = string(v[3 : 3+n])
		d.topics[topic] = topic
	}
	it := Item{Class: class, Seq: seq, QoS: v[0] & 3, Retain: v[0]&4 != 0, Topic: topic}
	p := v[3+n:]
	if len(p) == 0 {
		return it, nil
	}
	if len(p) > cap(d.slab)-len(d.slab) {
		d.slab = make([]byte, 0, max(slabSize, len(p)))
	}
	off := len(d.slab)
	d.slab = append(d.slab, p...)
	it.Payload = d.slab[off:len(d.slab):len(d.slab)]
	return it, nil
}
