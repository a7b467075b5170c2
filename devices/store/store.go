package store

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"linli/mqtt/contract"
	"linli/mqtt/outbox"
)

// Errors.
var (
	// ErrCorrupt means the database file could not be read as a bbolt file
	// or failed its consistency check. Open moves such a file aside and
	// returns a fresh database (see DB.Recovered); it returns ErrCorrupt
	// only when even that failed.
	ErrCorrupt = errors.New("store: corrupt database")
	// ErrLocked means another process holds the database (Options.Timeout
	// passed waiting for its lock).
	ErrLocked = errors.New("store: database locked by another process")
)

// Options configures a DB. nil means defaults; the zero value of a field
// means its default.
type Options struct {
	// Device is the device id, used in event ids and outbox topics.
	// Required for Commit and PutTelemetry.
	Device string
	// Timeout bounds the wait for the file lock held by another process.
	// Default 2 s.
	Timeout time.Duration
	// MaxReadings bounds the readings kept, in readings. Default 200,000
	// (a little over 6 h of 8 channels at 1 Hz; about 10 MB).
	MaxReadings int
	// MaxReadingAge drops readings older than this. Default 7 days.
	MaxReadingAge time.Duration
	// Now is the clock, for reading ages and the corrupt-file suffix.
	// Default time.Now.
	Now func() time.Time
	// Outbox configures the outbox kept in the same file; nil = defaults.
	Outbox *outbox.Options
	// SkipCheck skips the consistency check of the whole file at Open
	// (tx.Check); the check reads every page, about a second per 100 MB
	// on a slow SD card.
	SkipCheck bool
	// BatchDelay is bbolt's MaxBatchDelay for AddReadings: how long a batch
	// waits for more writers. Default 1 ms (bbolt's 10 ms would stall an
	// agent, usually the only writer, for nothing).
	BatchDelay time.Duration
	// ReadOnly opens the file for reading only (a shared lock, so several
	// readers may look while no writer runs): no check, no boot count, no
	// moving aside. Only the read methods may be used.
	ReadOnly bool
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// DefaultOptions are the defaults of the fields of Options.
var DefaultOptions = Options{Timeout: 2 * time.Second, MaxReadings: 200_000, MaxReadingAge: 7 * 24 * time.Hour}

func (o *Options) ensureDefaults() {
	if o.Timeout <= 0 {
		o.Timeout = DefaultOptions.Timeout
	}
	if o.MaxReadings <= 0 {
		o.MaxReadings = DefaultOptions.MaxReadings
	}
	if o.MaxReadingAge <= 0 {
		o.MaxReadingAge = DefaultOptions.MaxReadingAge
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.BatchDelay <= 0 {
		o.BatchDelay = time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	o.Logger = o.Logger.With("component", "store")
}

var (
	bEvents   = []byte("events")   // seq → encoded contract.Event
	bChannels = []byte("channels") // name → channelRec JSON
	bReadings = []byte("readings") // seq → encoded reading
	bConfig   = []byte("config")   // key → value
	bMeta     = []byte("meta")

	kEventSeq     = []byte("event-seq")
	kTelemetrySeq = []byte("telemetry-seq")
	kBoots        = []byte("boots")
	kReadSeq      = []byte("readings-seq")
	kReadCount    = []byte("readings-count")
	kReadDropped  = []byte("readings-dropped")
)

// DB is a sensor device's store: the event log, the outbox, the readings,
// the channels' last states and the configuration, in one bbolt file. Its
// methods are safe for concurrent use.
type DB struct {
	db        *bolt.DB
	ob        *outbox.Outbox
	opts      Options
	path      string
	boot      uint32
	recovered string
	cause     error
}

// Open opens (creating if needed) the store at path. A file that is not a
// valid bbolt database is renamed to path+".corrupt-<UTC time>" and kept,
// and a fresh one is started: Recovered then says so, and the caller logs a
// fault. A file locked by another process is ErrLocked after
// Options.Timeout. Open increments the boot counter (see Boot).
func Open(path string, opts *Options) (*DB, error) {
	d := &DB{path: path}
	if opts != nil {
		d.opts = *opts
	}
	d.opts.ensureDefaults()
	if d.opts.ReadOnly {
		db, err := boltOpen(path, &bolt.Options{Timeout: d.opts.Timeout, ReadOnly: true})
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("%w: %s: %w", ErrLocked, path, err)
		}
		if err != nil {
			return nil, fmt.Errorf("store: open %s: %w", path, err)
		}
		d.db = db
		if err := db.View(func(tx *bolt.Tx) error {
			if tx.Bucket(bEvents) == nil || tx.Bucket(bMeta) == nil {
				return fmt.Errorf("store: %s: not a sensor store (no events bucket)", path)
			}
			return nil
		}); err != nil {
			db.Close()
			return nil, err
		}
		return d, nil
	}
	db, err := d.open()
	if errors.Is(err, ErrCorrupt) {
		aside := path + ".corrupt-" + d.opts.Now().UTC().Format("20060102T150405.000Z")
		if rerr := os.Rename(path, aside); rerr != nil {
			return nil, fmt.Errorf("%w: %w (and moving it aside failed: %w)", ErrCorrupt, err, rerr)
		}
		d.opts.Logger.Error("corrupt database moved aside", "path", path, "aside", aside, "err", err)
		d.recovered, d.cause = aside, err
		db, err = d.open()
	}
	if err != nil {
		return nil, err
	}
	d.db = db
	return d, nil
}

// boltOpen is bolt.Open with a panic (bbolt panics on some corrupt
// freelists) turned into an error. After such a panic the half-open file's
// descriptor and lock are leaked, on the file that is then moved aside:
// once per process, and a fresh file at the path has its own lock.
func boltOpen(path string, o *bolt.Options) (db *bolt.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("panic opening the file: %v", r)
		}
	}()
	return bolt.Open(path, 0o600, o)
}

func (d *DB) open() (*bolt.DB, error) {
	db, err := boltOpen(d.path, &bolt.Options{Timeout: d.opts.Timeout})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("%w: %s: %w", ErrLocked, d.path, err)
		}
		if !fileFault(err) {
			return nil, fmt.Errorf("store: open %s: %w", d.path, err)
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, d.path, err)
	}
	db.MaxBatchDelay = d.opts.BatchDelay
	if err := d.init(db); err != nil {
		db.Close()
		if !fileFault(err) {
			return nil, fmt.Errorf("store: open %s: %w", d.path, err)
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, d.path, err)
	}
	return db, nil
}

// fileFault reports whether err, from opening or initialising the file,
// may be the file's content's fault. A missing directory, a permission, a
// full or read-only file system are not: moving the file aside would only
// lose its latched alarms to a fresh file.
func fileFault(err error) bool {
	for _, notFile := range []error{fs.ErrPermission, fs.ErrNotExist, syscall.ENOSPC, syscall.EROFS} {
		if errors.Is(err, notFile) {
			return false
		}
	}
	return true
}

// init checks db and creates the buckets; a panic inside bbolt (a corrupt
// page) is an error.
func (d *DB) init(db *bolt.DB) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic reading the file: %v", r)
		}
	}()
	if !d.opts.SkipCheck {
		err = db.View(func(tx *bolt.Tx) error {
			for cerr := range tx.Check() {
				return cerr
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bEvents, bChannels, bReadings, bConfig, bMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bMeta)
		boots := getU64(meta, kBoots)
		if meta.Get(kBoots) == nil {
			boots = uint64(contract.FirstCounter(d.opts.Now()))
		}
		boots++
		d.boot = uint32(boots)
		if err := putU64(meta, kBoots, boots); err != nil {
			return err
		}
		// Sanity of the stored channel records: unreadable ones are a
		// corrupt file.
		return tx.Bucket(bChannels).ForEach(func(k, v []byte) error {
			var r channelRec
			return json.Unmarshal(v, &r)
		})
	})
	if err != nil {
		return err
	}
	ob, err := outbox.Open(db, d.opts.Outbox)
	if err != nil {
		return err
	}
	d.ob = ob
	return nil
}

// Close closes the file.
func (d *DB) Close() error { return d.db.Close() }

// Bolt returns the underlying database, for the uplink which keeps its own
// buckets in the same file.
func (d *DB) Bolt() *bolt.DB { return d.db }

// Outbox returns the outbox kept in the file.
func (d *DB) Outbox() *outbox.Outbox { return d.ob }

// Path returns the file's path.
func (d *DB) Path() string { return d.path }

// Boot returns the boot counter: contract.FirstCounter + 1 at the first
// Open of a file (the clock's seconds, so that a new file numbers above
// the one it replaces), then one more at each Open. It is the session of
// the device's events.
func (d *DB) Boot() uint32 { return d.boot }

// Recovered returns the path the corrupt file was moved to, and why, if
// Open had to start a fresh database; "" and nil otherwise.
func (d *DB) Recovered() (aside string, cause error) { return d.recovered, d.cause }

// Size returns the size of the file in bytes.
func (d *DB) Size() int64 {
	var n int64
	_ = d.db.View(func(tx *bolt.Tx) error { n = tx.Size(); return nil })
	return n
}

// ChannelState is a channel's last committed state.
type ChannelState struct {
	Channel string         `json:"channel"`
	Kind    string         `json:"kind"`
	State   contract.State `json:"state"`
	Seq     uint64         `json:"seq"` // of the event that set it
	Value   float64        `json:"value"`
}

type channelRec = ChannelState

// Commit assigns each event its per-device Seq (gapless, continuing the
// stored log) and a unique ID, and writes, in ONE fsync'd bbolt
// transaction, the events to the log, each to the outbox (QoS 1, topic
// contract.DeviceTopic(device, "event")) and the channels' last states.
// When Commit returns nil the events are durable and may be announced; it
// returns them with Seq and ID set. On error nothing was written.
func (d *DB) Commit(evs []contract.Event) ([]contract.Event, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	if d.opts.Device == "" {
		return nil, errors.New("store: commit: Options.Device is empty")
	}
	out := make([]contract.Event, len(evs))
	copy(out, evs)
	topic := contract.DeviceTopic(d.opts.Device, "event")
	// bbolt runs one write transaction at a time: the sequence read and
	// written inside it needs no lock of its own.
	err := d.db.Update(func(tx *bolt.Tx) error {
		meta, log, chans := tx.Bucket(bMeta), tx.Bucket(bEvents), tx.Bucket(bChannels)
		seq := getU64(meta, kEventSeq)
		for i := range out {
			ev := &out[i]
			seq++
			ev.Seq = seq
			ev.ID = eventID(d.opts.Device, seq)
			if ev.Device == "" {
				ev.Device = d.opts.Device
			}
			b, err := contract.Encode(ev)
			if err != nil {
				return err
			}
			if err := log.Put(u64(seq), b); err != nil {
				return err
			}
			if _, err := d.ob.PutTx(tx, outbox.Item{Class: outbox.Event, Topic: topic, Payload: b, QoS: 1}); err != nil {
				return err
			}
			rec, err := json.Marshal(channelRec{Channel: ev.Channel, Kind: ev.Kind, State: ev.To, Seq: seq, Value: ev.Value})
			if err != nil {
				return err
			}
			if err := chans.Put([]byte(ev.Channel), rec); err != nil {
				return err
			}
		}
		return putU64(meta, kEventSeq, seq)
	})
	if err != nil {
		return nil, fmt.Errorf("store: commit: %w", err)
	}
	d.ob.Notify()
	return out, nil
}

// eventID is "<device>-<seq>-<random>": unique even if the log is lost
// (a corrupt file) and the sequence starts again.
func eventID(device string, seq uint64) string {
	var r [6]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("%s-%d-%s", device, seq, hex.EncodeToString(r[:]))
}

// Events returns up to max events (all for max <= 0) with Seq > after, in
// order.
func (d *DB) Events(after uint64, max int) ([]contract.Event, error) {
	var out []contract.Event
	err := d.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bEvents).Cursor()
		for k, v := c.Seek(u64(after + 1)); k != nil; k, v = c.Next() {
			if max > 0 && len(out) >= max {
				break
			}
			m, err := contract.Decode("", v)
			if err != nil {
				return fmt.Errorf("event %d: %w", binary.BigEndian.Uint64(k), err)
			}
			ev, ok := m.(*contract.Event)
			if !ok {
				return fmt.Errorf("event %d: %T", binary.BigEndian.Uint64(k), m)
			}
			out = append(out, *ev)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: events: %w", err)
	}
	return out, nil
}

// MaxResend is the most events one Resend queues: a hub asking again
// after the first batch gets the rest.
const MaxResend = 1000

// Resend queues again in the outbox, as Commit did, the events of the log
// with Seq > after (at most MaxResend, oldest first) and returns how many.
// The hub asks for them when it misses one (contract.CmdResend); an event
// still in the outbox goes twice, and the hub drops the copy by id.
func (d *DB) Resend(after uint64) (int, error) {
	if d.opts.Device == "" {
		return 0, errors.New("store: resend: Options.Device is empty")
	}
	topic := contract.DeviceTopic(d.opts.Device, "event")
	n := 0
	err := d.db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bEvents).Cursor()
		for k, v := c.Seek(u64(after + 1)); k != nil && n < MaxResend; k, v = c.Next() {
			p := append([]byte(nil), v...) // v is valid only in tx; PutTx keeps the item
			if _, err := d.ob.PutTx(tx, outbox.Item{Class: outbox.Event, Topic: topic, Payload: p, QoS: 1}); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: resend: %w", err)
	}
	if n > 0 {
		d.ob.Notify()
	}
	return n, nil
}

// LastSeq returns the seq of the last event committed (0 if none).
func (d *DB) LastSeq() uint64 {
	var n uint64
	_ = d.db.View(func(tx *bolt.Tx) error { n = getU64(tx.Bucket(bMeta), kEventSeq); return nil })
	return n
}

// Channels returns the last committed state of every channel that ever had
// an event, sorted by name. A channel with an alarm still latched has state
// alarm.
func (d *DB) Channels() ([]ChannelState, error) {
	var out []ChannelState
	err := d.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bChannels).ForEach(func(k, v []byte) error {
			var r channelRec
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("channel %q: %w", k, err)
			}
			out = append(out, r)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: channels: %w", err)
	}
	return out, nil
}

// PutTelemetry assigns t its Seq (persisted, so it continues after a
// restart) and queues it in the outbox as telemetry (QoS 1, bounded: the
// oldest telemetry is dropped first, see package outbox), in one
// transaction.
func (d *DB) PutTelemetry(t *contract.Telemetry) error {
	if d.opts.Device == "" {
		return errors.New("store: telemetry: Options.Device is empty")
	}
	if t.Device == "" {
		t.Device = d.opts.Device
	}
	err := d.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bMeta)
		seq := getU64(meta, kTelemetrySeq) + 1
		t.Seq = seq
		b, err := contract.Encode(t)
		if err != nil {
			return err
		}
		if _, err := d.ob.PutTx(tx, outbox.Item{Class: outbox.Telemetry, Topic: contract.DeviceTopic(d.opts.Device, "telemetry"), Payload: b, QoS: 1}); err != nil {
			return err
		}
		return putU64(meta, kTelemetrySeq, seq)
	})
	if err != nil {
		return fmt.Errorf("store: telemetry: %w", err)
	}
	d.ob.Notify()
	return nil
}

// PutConfig stores value under key (e.g. set-points changed by command).
func (d *DB) PutConfig(key string, value []byte) error {
	err := d.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bConfig).Put([]byte(key), value) })
	if err != nil {
		return fmt.Errorf("store: config %s: %w", key, err)
	}
	return nil
}

// Config returns the value stored under key, or nil.
func (d *DB) Config(key string) ([]byte, error) {
	var v []byte
	err := d.db.View(func(tx *bolt.Tx) error {
		v = append([]byte(nil), tx.Bucket(bConfig).Get([]byte(key))...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: config %s: %w", key, err)
	}
	if len(v) == 0 {
		v = nil
	}
	return v, nil
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
