package replica

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	bolt "go.etcd.io/bbolt"
)

// Options configures a Journal. The zero value of a field means its
// default.
type Options struct {
	// Shard names the lease and the journal: one per hub configuration,
	// that is per set of communities (gridhub uses the configuration's hub
	// id). Required: letters, digits, '-' and '_'.
	Shard string
	// Name tells this process apart in the lease (gridhub --ha-name).
	// Required; two processes of one shard must not share it.
	Name string
	// LeaseTTL is how long a lease outlives its holder's last renewal: the
	// longest a dead active hub leaves its communities without one. The
	// holder renews it every LeaseTTL/3. Default 6 s.
	LeaseTTL time.Duration
	// Replicas of the journal stream and the lease bucket: 3 on a 3-node
	// cluster. Default 1.
	Replicas int
	// AppendTimeout bounds one append to the journal. Default 5 s.
	AppendTimeout time.Duration
	// CompactBytes is how large the journal may grow: once its entries
	// take more than both CompactBytes and the hub's file, the active hub
	// stores a snapshot of its file (SnapshotBucket) and purges the
	// entries the snapshot holds. Default 64 MiB; negative: never.
	CompactBytes int64
	// CompactCheck is how often the active hub compares. Default 1 min.
	CompactCheck time.Duration
	// Logger receives the journal's log lines. Default slog.Default().
	Logger *slog.Logger `yaml:"-"`
}

// DefaultOptions holds the defaults applied to zero fields.
var DefaultOptions = Options{
	LeaseTTL: 6 * time.Second, Replicas: 1, AppendTimeout: 5 * time.Second,
	CompactBytes: 64 << 20, CompactCheck: time.Minute,
}

func (o *Options) ensureDefaults() {
	d := DefaultOptions
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = d.LeaseTTL
	}
	if o.Replicas <= 0 {
		o.Replicas = d.Replicas
	}
	if o.AppendTimeout <= 0 {
		o.AppendTimeout = d.AppendTimeout
	}
	if o.CompactBytes == 0 {
		o.CompactBytes = d.CompactBytes
	}
	if o.CompactCheck <= 0 {
		o.CompactCheck = d.CompactCheck
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// ErrDeposed is returned by Serve when this process lost the lease, or the
// journal refused its write, while active: the caller serves again (as a
// standby) or exits.
var ErrDeposed = errors.New("replica: deposed")

// ErrBehind is returned by Serve when the journal no longer holds the
// entries after the last one the local file holds, and no snapshot does.
var ErrBehind = errors.New("replica: file behind the journal")

// LeaseBucket is the JetStream key-value bucket of the leases, one key per
// shard.
const LeaseBucket = "linli_hub_leases"

var shardRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// Headers of a journal entry.
const (
	hdrEpoch = "Linli-Epoch" // the lease revision of the writer
	hdrKind  = "Linli-Kind"  // kindTx or kindTakeover
	hdrPart  = "Linli-Part"  // "i/n" when a change set spans several entries
)

const (
	kindTx       = "tx"
	kindTakeover = "takeover"
)

// bMeta is the local bucket of the journal's own state; it is never
// replicated.
var (
	bMeta      = []byte("replica")
	keyApplied = []byte("applied") // journal sequence the file holds, 8 bytes
)

// Journal replicates the writes of one bbolt file through a JetStream
// stream and elects the process that may write (see the package doc).
// Create it with Open, run it with Serve, detach it with Close.
type Journal struct {
	db      *bolt.DB
	js      jetstream.JetStream
	kv      jetstream.KeyValue
	obs     jetstream.ObjectStore // the snapshots
	opts    Options
	log     *slog.Logger
	stream  string
	subject string
	chunk   int // the largest entry, in bytes

	cur current

	// last is the journal sequence the file holds. Written by the
	// follower while standby and by Update while active, never both.
	last   atomic.Uint64
	active atomic.Bool
	epoch  atomic.Uint64
	rev    atomic.Uint64 // the lease entry's revision, after each renewal

	mu      sync.Mutex
	deposed chan struct{} // closed when deposed while active
	leaseOK time.Time     // when the last successful renewal was sent

	partial [][]byte // parts of a change set not yet complete (follower only)

	holder      atomic.Pointer[string] // the lease holder's name, as last seen
	compactions atomic.Uint64
	restores    atomic.Uint64
}

// Stats are a journal's figures, for the operator.
type Stats struct {
	Active      bool   // this process is the active hub
	Holder      string // name of the active hub as last seen ("" none yet)
	Epoch       uint64 // the lease revision while active, else 0
	Applied     uint64 // journal sequence the local file holds
	Compactions uint64 // snapshots stored and journal purged by this process
	Restores    uint64 // files restored from a snapshot by this process
}

// Stats returns the journal's figures.
func (j *Journal) Stats() Stats {
	st := Stats{Active: j.active.Load(), Epoch: j.Epoch(), Applied: j.last.Load(),
		Compactions: j.compactions.Load(), Restores: j.restores.Load()}
	if h := j.holder.Load(); h != nil {
		st.Holder = *h
	}
	return st
}

// Open attaches a Journal to db, creating the journal stream and the lease
// bucket if needed. From then on every write of the hub's write sites must
// go through Update. The caller closes the Journal before db.
func Open(ctx context.Context, db *bolt.DB, js jetstream.JetStream, opts *Options) (*Journal, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	o.ensureDefaults()
	switch {
	case !shardRE.MatchString(o.Shard):
		return nil, fmt.Errorf("replica: shard %q: want letters, digits, '-' and '_'", o.Shard)
	case o.Name == "":
		return nil, errors.New("replica: no name for this process")
	}
	j := &Journal{
		db: db, js: js, opts: o,
		log:     o.Logger.With("component", "replica", "shard", o.Shard),
		stream:  "HUBJ_" + o.Shard,
		subject: "linli.hubj." + o.Shard,
		chunk:   int(js.Conn().MaxPayload()) - 4096,
	}
	if j.chunk < 4096 {
		j.chunk = 4096
	}
	err := retryCreate(ctx, func(ctx context.Context) error {
		_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name: j.stream, Subjects: []string{j.subject}, Storage: jetstream.FileStorage,
			Replicas: o.Replicas, Description: "linli hub journal of shard " + o.Shard,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("replica: journal stream: %w", err)
	}
	err = retryCreate(ctx, func(ctx context.Context) error {
		var err error
		j.kv, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: LeaseBucket, TTL: o.LeaseTTL, History: 1, Replicas: o.Replicas, Storage: jetstream.FileStorage,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("replica: lease bucket: %w", err)
	}
	err = retryCreate(ctx, func(ctx context.Context) error {
		var err error
		j.obs, err = js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket: SnapshotBucket, Replicas: o.Replicas, Storage: jetstream.FileStorage,
			Description: "linli hub snapshots, one per shard",
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("replica: snapshot bucket: %w", err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bMeta)
		if err != nil {
			return err
		}
		if v := b.Get(keyApplied); len(v) == 8 {
			j.last.Store(binary.BigEndian.Uint64(v))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("replica: open: %w", err)
	}
	if _, dup := attached.LoadOrStore(db, j); dup {
		return nil, errors.New("replica: the database has a journal already")
	}
	return j, nil
}

// Close detaches the journal from its database. It does not release a
// lease: Serve does when its ctx is done.
func (j *Journal) Close() error {
	attached.CompareAndDelete(j.db, j)
	return nil
}

// Applied returns the journal sequence the local file holds.
func (j *Journal) Applied() uint64 { return j.last.Load() }

// Epoch returns the lease revision this process holds while active, else 0.
func (j *Journal) Epoch() uint64 {
	if !j.active.Load() {
		return 0
	}
	return j.epoch.Load()
}

// Update runs fn in a writable transaction of db, like bolt.DB.Update. If a
// Journal is attached to db (gridhub --ha), the writes fn records (Put,
// Delete, NextSequence, Touch) are appended to the journal before the local
// commit; if this process is not the active hub, or the journal refuses the
// append, the transaction rolls back and Update returns an error wrapping
// ErrNotActive or ErrFenced. Without a Journal it is db.Update.
func Update(db *bolt.DB, fn func(*bolt.Tx) error) error {
	j := journalOf(db)
	if j == nil {
		return db.Update(fn)
	}
	return j.update(fn)
}

func (j *Journal) update(fn func(*bolt.Tx) error) error {
	appended := false
	err := j.db.Update(func(tx *bolt.Tx) error {
		if !j.active.Load() || !j.leaseFresh() {
			return ErrNotActive
		}
		cs := &changeSet{tx: tx}
		j.cur.Store(cs)
		defer j.cur.Store(nil)
		if err := fn(tx); err != nil {
			return err
		}
		if len(cs.ops) == 0 {
			return nil
		}
		appended = true
		if err := j.append(kindTx, encode(nil, cs.ops)); err != nil {
			return err
		}
		return putApplied(tx, j.last.Load())
	})
	if err != nil && appended {
		// The journal may hold what the file does not: only a standby's
		// catch-up makes them one again.
		j.depose(err)
	}
	return err
}

func putApplied(tx *bolt.Tx, seq uint64) error {
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], seq)
	return tx.Bucket(bMeta).Put(keyApplied, v[:])
}

// append publishes data as one journal entry (or several parts of at most
// j.chunk bytes), each expecting the journal to end where this process
// last saw it.
func (j *Journal) append(kind string, data []byte) error {
	n := max(1, (len(data)+j.chunk-1)/j.chunk)
	epoch := strconv.FormatUint(j.epoch.Load(), 10)
	for i := range n {
		part := data[min(i*j.chunk, len(data)):min((i+1)*j.chunk, len(data))]
		m := nats.NewMsg(j.subject)
		m.Data = part
		m.Header.Set(hdrEpoch, epoch)
		m.Header.Set(hdrKind, kind)
		if n > 1 {
			m.Header.Set(hdrPart, fmt.Sprintf("%d/%d", i+1, n))
		}
		ctx, cancel := context.WithTimeout(context.Background(), j.opts.AppendTimeout)
		ack, err := j.js.PublishMsg(ctx, m, jetstream.WithExpectLastSequence(j.last.Load()))
		cancel()
		if err != nil {
			var apiErr *jetstream.APIError
			if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
				apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
				return fmt.Errorf("%w: %w", ErrFenced, err)
			}
			return fmt.Errorf("replica: append: %w", err)
		}
		j.last.Store(ack.Sequence)
	}
	return nil
}

// Holding reports whether this process is the active hub with its lease
// renewed within the lease's TTL. After a pause past the TTL (SIGSTOP, a
// frozen VM) it is false at once, before the renewal finds out: a hub
// asks it before connecting to the broker, so that a deposed one does not
// take the broker session back from the hub active now.
func (j *Journal) Holding() bool { return j.active.Load() && j.leaseFresh() }

func (j *Journal) leaseFresh() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return time.Since(j.leaseOK) < j.opts.LeaseTTL
}

// depose ends this process's tenure: no write passes from now on.
func (j *Journal) depose(why error) {
	if !j.active.Swap(false) {
		return
	}
	j.log.Warn("stepping down", "epoch", j.epoch.Load(), "reason", why)
	j.mu.Lock()
	close(j.deposed)
	j.mu.Unlock()
}

// Serve follows the journal as a standby, applying its entries to the
// local file, until this process wins the shard's lease. It then catches
// up with the journal's tail, appends a takeover entry (which fences every
// earlier holder), and calls active with a context that is cancelled when
// the lease is lost or the journal refuses a write. It renews the lease
// while active runs. Serve returns active's error, nil after ctx is done
// (releasing the lease, so that a standby takes over at once), or an error
// wrapping ErrDeposed.
func (j *Journal) Serve(ctx context.Context, active func(ctx context.Context) error) error {
	epoch, err := j.standby(ctx)
	if err != nil || ctx.Err() != nil {
		return err
	}
	j.log.Info("active", "epoch", epoch, "name", j.opts.Name, "journal_seq", j.last.Load())
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		j.renew(actx, epoch)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		j.compactLoop(actx)
	}()
	j.mu.Lock()
	deposed := j.deposed
	j.mu.Unlock()
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-deposed:
			cancel()
		case <-actx.Done():
		}
	}()
	err = active(actx)
	lost := !j.active.Swap(false)
	cancel()
	wg.Wait()
	if lost {
		return errors.Join(ErrDeposed, err)
	}
	if ctx.Err() != nil {
		dctx, dcancel := context.WithTimeout(context.Background(), time.Second)
		defer dcancel()
		if derr := j.kv.Delete(dctx, j.opts.Shard, jetstream.LastRevision(j.rev.Load())); derr != nil {
			j.log.Debug("release lease", "error", derr)
		}
		return err
	}
	return err
}

// createTry bounds one attempt of retryCreate; createTries is how many it
// makes.
const (
	createTry   = 3 * time.Second
	createTries = 20
)

// retryCreate runs create (a stream or bucket creation) until it answers:
// on a cluster (nats-server 2.15.3), when several hubs create the same R3
// stream at once, the server answers only one of the requests; the others
// time out, and asking again finds the stream.
func retryCreate(ctx context.Context, create func(context.Context) error) error {
	var err error
	for range createTries {
		tctx, cancel := context.WithTimeout(ctx, createTry)
		err = create(tctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
			return err
		}
	}
	return err
}
