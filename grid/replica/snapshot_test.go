package replica

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	bolt "go.etcd.io/bbolt"

	"linli/grid/replica/replicatest"
)

// compacting are the options of a hub of TestCompact: the journal is
// compacted as soon as it outgrows the file.
func compacting(name string) Options {
	return Options{Shard: "c1", Name: name, LeaseTTL: 600 * time.Millisecond, CompactBytes: 1, CompactCheck: 50 * time.Millisecond}
}

// writeRound overwrites ten keys of 1 KiB n times, so that the journal
// outgrows the file, and draws one id.
func writeRound(t *testing.T, db *bolt.DB, round, n int) uint64 {
	t.Helper()
	var id uint64
	for i := range n {
		err := Update(db, func(tx *bolt.Tx) error {
			if _, err := tx.CreateBucketIfNotExists(bData); err != nil {
				return err
			}
			v := bytes.Repeat([]byte{byte(round)}, 1024)
			return Put(tx, bData, fmt.Appendf(nil, "k%d", i%10), v)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	err := Update(db, func(tx *bolt.Tx) error {
		var err error
		id, err = NextSequence(tx, bData)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// journalFirst returns the journal's first sequence.
func journalFirst(t *testing.T, js jetstream.JetStream, shard string) uint64 {
	t.Helper()
	s, err := js.Stream(context.Background(), "HUBJ_"+shard)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.FirstSeq
}

// waitCompacted waits until the journal starts after sequence after.
func waitCompacted(t *testing.T, js jetstream.JetStream, after uint64) uint64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if first := journalFirst(t, js, "c1"); first > after {
			return first
		}
		if time.Now().After(deadline) {
			t.Fatalf("journal not compacted past %d after 10 s", after)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitApplied waits until h's file holds the journal up to seq.
func waitApplied(t *testing.T, h *hub, seq uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for h.j.Applied() < seq {
		select {
		case err := <-h.done:
			t.Fatalf("standby stopped: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("standby holds %d after 10 s, want %d", h.j.Applied(), seq)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCompact(t *testing.T) {
	srv := replicatest.Server(t)
	js := connect(t, srv.ClientURL())
	a := startHubOn(t, js, openDB(t, "a.db"), compacting("a"))
	waitActive(t, a)
	live := startHubOn(t, js, openDB(t, "live.db"), compacting("live"))
	stale := startHubOn(t, js, openDB(t, "stale.db"), compacting("stale"))

	// stale holds a key that a deletes after stale has stopped.
	writeRound(t, a.db, 1, 50)
	if err := Update(a.db, func(tx *bolt.Tx) error { return Put(tx, bData, []byte("gone"), []byte("soon")) }); err != nil {
		t.Fatal(err)
	}
	waitApplied(t, stale, a.j.Applied())
	if err := stale.stop(); err != nil {
		t.Fatal(err)
	}
	stale.j.Close()
	if err := Update(a.db, func(tx *bolt.Tx) error { return Delete(tx, bData, []byte("gone")) }); err != nil {
		t.Fatal(err)
	}
	writeRound(t, a.db, 2, 300)
	first := waitCompacted(t, js, stale.j.Applied()+1)
	if err := live.j.Compact(context.Background()); !errors.Is(err, ErrNotActive) {
		t.Errorf("a standby's Compact = %v, want ErrNotActive", err)
	}

	// A new standby and one whose file is older than the journal start
	// from the snapshot; the one that followed all along is unchanged.
	fresh := startHubOn(t, js, openDB(t, "fresh.db"), compacting("fresh"))
	stale = startHubOn(t, js, stale.db, compacting("stale"))
	last := writeRound(t, a.db, 3, 20)
	want := dump(t, a.db)
	for _, h := range []*hub{live, fresh, stale} {
		waitApplied(t, h, a.j.Applied())
		if got := dump(t, h.db); got != want {
			t.Errorf("%s after compaction at %d:\n%s\nwant (a's):\n%s", h.j.opts.Name, first, got, want)
		}
	}

	// The next active hub goes on where a stopped, and compacts in turn.
	if err := a.stop(); err != nil {
		t.Fatal(err)
	}
	var next *hub
	select {
	case <-live.active:
		next = live
	case <-fresh.active:
		next = fresh
	case <-stale.active:
		next = stale
	case <-time.After(10 * time.Second):
		t.Fatal("no standby took over")
	}
	if id := writeRound(t, next.db, 4, 300); id != last+1 {
		t.Errorf("id drawn on %s after the takeover = %d, want %d", next.j.opts.Name, id, last+1)
	}
	waitCompacted(t, js, first)
}

func TestBehindWithoutSnapshot(t *testing.T) {
	srv := replicatest.Server(t)
	js := connect(t, srv.ClientURL())
	opts := compacting("a")
	opts.CompactBytes = -1
	a := startHubOn(t, js, openDB(t, "a.db"), opts)
	waitActive(t, a)
	writeRound(t, a.db, 1, 5)
	s, err := js.Stream(context.Background(), "HUBJ_c1")
	if err != nil {
		t.Fatal(err)
	}
	// An operator's purge, not a compaction: there is no snapshot.
	if err := s.Purge(context.Background(), jetstream.WithPurgeSequence(a.j.Applied())); err != nil {
		t.Fatal(err)
	}
	opts.Name = "b"
	b := startHubOn(t, js, openDB(t, "b.db"), opts)
	select {
	case err := <-b.done:
		if !errors.Is(err, ErrBehind) {
			t.Fatalf("b.Serve = %v, want ErrBehind", err)
		}
		t.Log(err)
		b.err = err
		b.stopped.Do(b.cancel)
	case <-time.After(10 * time.Second):
		t.Fatal("a standby without the journal's start and no snapshot did not stop")
	}
}

// TestFollowRestartInParts restarts a follower between the two parts of a
// change set: it must read the first part again, not drop the set.
func TestFollowRestartInParts(t *testing.T) {
	srv := replicatest.Server(t)
	js := connect(t, srv.ClientURL())
	db := openDB(t, "s.db")
	j, err := Open(context.Background(), db, js, &Options{Shard: "p", Name: "s"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	payload := encode(nil, []op{{kind: opPut, bucket: bData, key: []byte("k"), value: bytes.Repeat([]byte("v"), 100)}})
	publish := func(i int, part []byte) {
		t.Helper()
		m := nats.NewMsg(j.subject)
		m.Data = part
		m.Header.Set(hdrEpoch, "1")
		m.Header.Set(hdrKind, kindTx)
		m.Header.Set(hdrPart, fmt.Sprintf("%d/2", i))
		if _, err := js.PublishMsg(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	follow := func(upTo uint64) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- j.follow(ctx) }()
		deadline := time.Now().Add(10 * time.Second)
		for j.Applied() < upTo && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if j.Applied() < upTo {
			t.Fatalf("follower at %d after 10 s, want %d", j.Applied(), upTo)
		}
	}
	publish(1, payload[:10])
	follow(1)
	publish(2, payload[10:])
	follow(2)
	err = db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bData); b == nil || b.Get([]byte("k")) == nil {
			return errors.New("the change set split across the restart is not in the file")
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}
