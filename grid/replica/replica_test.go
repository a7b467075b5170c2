package replica

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	bolt "go.etcd.io/bbolt"

	"linli/grid/replica/replicatest"
)

var bData = []byte("data")

func openDB(t *testing.T, name string) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), name), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func connect(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// dump returns the replicated content of db: every bucket but the
// journal's own, with its sequence.
func dump(t *testing.T, db *bolt.DB) string {
	t.Helper()
	var buf bytes.Buffer
	err := db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			if bytes.Equal(name, bMeta) {
				return nil
			}
			fmt.Fprintf(&buf, "[%s seq %d]\n", name, b.Sequence())
			return b.ForEach(func(k, v []byte) error {
				fmt.Fprintf(&buf, "%q=%d bytes %x\n", k, len(v), v[:min(len(v), 16)])
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// hub is one process of the test: a file, a journal, and Serve running.
type hub struct {
	db      *bolt.DB
	j       *Journal
	active  chan struct{} // closed when Serve calls active
	actx    chan context.Context
	cancel  context.CancelFunc
	done    chan error
	stopped sync.Once
	err     error // Serve's, once stopped
}

func startHub(t *testing.T, js jetstream.JetStream, name string) *hub {
	t.Helper()
	return startHubOn(t, js, openDB(t, name+".db"), Options{Shard: "c1", Name: name, LeaseTTL: 600 * time.Millisecond})
}

// startHubOn starts a hub on db with opts.
func startHubOn(t *testing.T, js jetstream.JetStream, db *bolt.DB, opts Options) *hub {
	t.Helper()
	h := &hub{db: db, active: make(chan struct{}), actx: make(chan context.Context, 1), done: make(chan error, 1)}
	j, err := Open(context.Background(), h.db, js, &opts)
	if err != nil {
		t.Fatal(err)
	}
	h.j = j
	t.Cleanup(func() { j.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() {
		h.done <- j.Serve(ctx, func(ctx context.Context) error {
			h.actx <- ctx
			close(h.active)
			<-ctx.Done()
			return nil
		})
	}()
	t.Cleanup(func() { h.stop() })
	return h
}

// stop cancels Serve and returns what it returned.
func (h *hub) stop() error {
	h.stopped.Do(func() {
		h.cancel()
		h.err = <-h.done
	})
	return h.err
}

func waitActive(t *testing.T, h *hub) {
	t.Helper()
	select {
	case <-h.active:
	case <-time.After(10 * time.Second):
		t.Fatal("not active after 10 s")
	}
}

func TestJournalTakeover(t *testing.T) {
	srv := replicatest.Server(t)
	js := connect(t, srv.ClientURL())
	a := startHub(t, js, "a")
	waitActive(t, a)
	b := startHub(t, js, "b")

	// Writes of every kind, one of them larger than an entry.
	big := bytes.Repeat([]byte("x"), 3*int(js.Conn().MaxPayload())/2)
	var ids []uint64
	err := Update(a.db, func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bData); err != nil {
			return err
		}
		for i := range 3 {
			n, err := NextSequence(tx, bData)
			if err != nil {
				return err
			}
			ids = append(ids, n)
			if err := Put(tx, bData, fmt.Appendf(nil, "k%d", i), []byte("v")); err != nil {
				return err
			}
		}
		return Put(tx, bData, []byte("big"), big)
	})
	if err != nil {
		t.Fatal(err)
	}
	err = Update(a.db, func(tx *bolt.Tx) error {
		if err := Delete(tx, bData, []byte("k1")); err != nil {
			return err
		}
		c := tx.Bucket(bData).Cursor()
		k, _ := c.Seek([]byte("k2"))
		return DeleteCursor(tx, bData, c, k)
	})
	if err != nil {
		t.Fatal(err)
	}
	// A failing transaction leaves no trace anywhere.
	bad := errors.New("refused by the caller")
	if err := Update(a.db, func(tx *bolt.Tx) error {
		if err := Put(tx, bData, []byte("nope"), []byte("v")); err != nil {
			return err
		}
		return bad
	}); !errors.Is(err, bad) {
		t.Fatalf("Update = %v, want %v", err, bad)
	}
	// A recorded write outside Update is refused.
	if err := a.db.Update(func(tx *bolt.Tx) error { return Put(tx, bData, []byte("x"), nil) }); !errors.Is(err, ErrUnjournaled) {
		t.Fatalf("Put outside Update = %v, want ErrUnjournaled", err)
	}
	// The standby may not write.
	if err := Update(b.db, func(tx *bolt.Tx) error { return nil }); !errors.Is(err, ErrNotActive) {
		t.Fatalf("Update on the standby = %v, want ErrNotActive", err)
	}
	select {
	case <-b.active:
		t.Fatal("standby became active while a is")
	default:
	}

	// A clean stop releases the lease: b takes over at once, holding all.
	want := dump(t, a.db)
	if err := a.stop(); err != nil {
		t.Fatalf("a.Serve = %v", err)
	}
	waitActive(t, b)
	if got := dump(t, b.db); got != want {
		t.Fatalf("standby holds\n%s\nwant\n%s", got, want)
	}
	// Sequence numbers continue where a stopped.
	var n uint64
	if err := Update(b.db, func(tx *bolt.Tx) (err error) { n, err = NextSequence(tx, bData); return err }); err != nil {
		t.Fatal(err)
	}
	if n != ids[len(ids)-1]+1 {
		t.Errorf("next id on b = %d, want %d", n, ids[len(ids)-1]+1)
	}
}

func TestJournalFencing(t *testing.T) {
	srv := replicatest.Server(t)
	js := connect(t, srv.ClientURL())
	a := startHub(t, js, "a")
	waitActive(t, a)
	actxA := <-a.actx
	b := startHub(t, js, "b")
	if err := Update(a.db, func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bData); err != nil {
			return err
		}
		return Put(tx, bData, []byte("before"), []byte("a"))
	}); err != nil {
		t.Fatal(err)
	}

	// Take a's lease away behind its back, as expiry during a pause would.
	if err := a.j.kv.Purge(context.Background(), "c1"); err != nil {
		t.Fatal(err)
	}
	waitActive(t, b)
	// a still believes it is active (its renewal has not run yet): its
	// write is refused by the journal, and it steps down.
	a.j.mu.Lock()
	a.j.leaseOK = time.Now()
	a.j.mu.Unlock()
	err := Update(a.db, func(tx *bolt.Tx) error { return Put(tx, bData, []byte("late"), []byte("a")) })
	if !errors.Is(err, ErrFenced) && !errors.Is(err, ErrNotActive) {
		t.Fatalf("deposed write = %v, want ErrFenced", err)
	}
	select {
	case <-actxA.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a's active context not cancelled after its write was fenced")
	}
	if err := a.stop(); !errors.Is(err, ErrDeposed) {
		t.Fatalf("a.Serve = %v, want ErrDeposed", err)
	}
	err = a.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bData).Get([]byte("late")); v != nil {
			return errors.New("a committed its fenced write locally")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := Update(b.db, func(tx *bolt.Tx) error { return Put(tx, bData, []byte("after"), []byte("b")) }); err != nil {
		t.Fatal(err)
	}
	if err := b.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bData).Get([]byte("before")) == nil || tx.Bucket(bData).Get([]byte("late")) != nil {
			return errors.New("b's file: want 'before', not 'late'")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestUpdateWithoutJournal(t *testing.T) {
	db := openDB(t, "plain.db")
	err := Update(db, func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bData); err != nil {
			return err
		}
		if _, err := NextSequence(tx, bData); err != nil {
			return err
		}
		if err := Touch(tx, bData, []byte("k")); err != nil {
			return err
		}
		return Put(tx, bData, []byte("k"), []byte("v"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if Journaled(db) {
		t.Error("Journaled = true without a journal")
	}
}

func TestCodec(t *testing.T) {
	ops := []op{
		{kind: opPut, bucket: []byte("b"), key: []byte("k"), value: []byte("v")},
		{kind: opPut, bucket: []byte("b"), key: []byte("e"), value: []byte{}},
		{kind: opDelete, bucket: []byte("b"), key: []byte("k")},
		{kind: opSequence, bucket: []byte("b"), seq: 1 << 40},
	}
	got, err := decode(encode(nil, ops))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(ops) {
		t.Errorf("decode(encode) = %v, want %v", got, ops)
	}
	for _, bad := range [][]byte{{9, 1, 'b'}, {opPut, 5, 'b'}, {opSequence, 1, 'b'}} {
		if _, err := decode(bad); !errors.Is(err, errCorrupt) {
			t.Errorf("decode(%v) = %v, want errCorrupt", bad, err)
		}
	}
}

// TestNATSRestart restarts the NATS server under an active hub and a
// standby: the active one's write fails and it steps down, both keep
// serving, one of them becomes active again, and the standby ends up with
// the same file.
func TestNATSRestart(t *testing.T) {
	dir := t.TempDir()
	srv, err := replicatest.Start(dir)
	if err != nil {
		t.Fatal(err)
	}
	port := srv.Addr().(*net.TCPAddr).Port
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	nc, err := nats.Connect(srv.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	a := startHub(t, js, "a")
	waitActive(t, a)
	actx := <-a.actx
	b := startHub(t, js, "b")
	put := func(db *bolt.DB, k string) error {
		return Update(db, func(tx *bolt.Tx) error {
			if _, err := tx.CreateBucketIfNotExists(bData); err != nil {
				return err
			}
			return Put(tx, bData, []byte(k), []byte("v"))
		})
	}
	if err := put(a.db, "before"); err != nil {
		t.Fatal(err)
	}

	srv.Shutdown()
	srv.WaitForShutdown()
	if err := put(a.db, "during"); err == nil {
		t.Fatal("write with NATS down: committed")
	}
	select {
	case <-actx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a still active after a failed append")
	}
	if srv, err = replicatest.StartAt(dir, port); err != nil {
		t.Fatal(err)
	}

	// Deposed, a serves again (as gridhub does); a or b wins the lease.
	if err := <-a.done; !errors.Is(err, ErrDeposed) {
		t.Fatalf("a.Serve = %v, want ErrDeposed", err)
	}
	a.active = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	go func() {
		a.done <- a.j.Serve(ctx, func(ctx context.Context) error {
			close(a.active)
			<-ctx.Done()
			return nil
		})
	}()
	var act, other *hub
	select {
	case <-b.active:
		act, other = b, a
	case <-a.active:
		act, other = a, b
	case <-time.After(20 * time.Second):
		t.Fatal("nobody active 20 s after NATS came back")
	}
	if err := put(act.db, "after"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for other.j.Applied() < act.j.Applied() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got, want := dump(t, other.db), dump(t, act.db); got != want {
		t.Errorf("standby holds\n%s\nactive\n%s", got, want)
	}
}
