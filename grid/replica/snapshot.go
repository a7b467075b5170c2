package replica

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	bolt "go.etcd.io/bbolt"
)

// SnapshotBucket is the JetStream object store of the snapshots, one
// object per shard: the hub's file as of a journal sequence.
const SnapshotBucket = "linli_hub_snapshots"

// mdSeq is the snapshot object's metadata key holding the journal sequence
// the file holds.
const mdSeq = "journal-seq"

// compactLoop compacts the journal while this process is active, looking
// every CompactCheck.
func (j *Journal) compactLoop(ctx context.Context) {
	if j.opts.CompactBytes < 0 {
		return
	}
	t := time.NewTicker(j.opts.CompactCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := j.compact(ctx); err != nil && ctx.Err() == nil && j.Holding() {
			j.log.Warn("compacting the journal failed; it keeps its entries", "error", err)
		}
	}
}

// compact snapshots the file and purges the journal's entries the snapshot
// holds, once those entries take more room than both CompactBytes and the
// file.
func (j *Journal) compact(ctx context.Context) error {
	s, err := j.js.Stream(ctx, j.stream)
	if err != nil {
		return err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return err
	}
	var size int64
	if err := j.db.View(func(tx *bolt.Tx) error { size = tx.Size(); return nil }); err != nil {
		return err
	}
	if int64(info.State.Bytes) < max(j.opts.CompactBytes, size) {
		return nil
	}
	return j.Compact(ctx)
}

// Compact stores a snapshot of the local file in SnapshotBucket and purges
// the journal entries it holds, so that the journal does not grow without
// end and a new standby starts from the snapshot instead of the first
// entry. Only the active hub compacts: it returns an error wrapping
// ErrNotActive otherwise. The active hub calls it by itself (see
// Options.CompactBytes).
func (j *Journal) Compact(ctx context.Context) error {
	if !j.Holding() {
		return ErrNotActive
	}
	start := time.Now()
	f, err := os.CreateTemp(filepath.Dir(j.db.Path()), ".snapshot-*")
	if err != nil {
		return fmt.Errorf("replica: snapshot: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	var seq uint64
	var size int64
	err = j.db.View(func(tx *bolt.Tx) error {
		seq = appliedIn(tx)
		var err error
		size, err = tx.WriteTo(f)
		return err
	})
	if err != nil {
		return fmt.Errorf("replica: snapshot: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("replica: snapshot: %w", err)
	}
	if prev, err := j.snapshotSeq(ctx); err != nil {
		return err
	} else if prev >= seq {
		return nil // nothing written since
	}
	// A deposed hub must not replace its successor's snapshot with an
	// older one, nor purge: it asks its lease before each step. (What a
	// hub paused between the question and the step writes is an older
	// snapshot; a standby restoring it finds the gap and says so.)
	if !j.Holding() {
		return ErrNotActive
	}
	_, err = j.obs.Put(ctx, jetstream.ObjectMeta{
		Name:        j.opts.Shard,
		Description: "hub.db of shard " + j.opts.Shard,
		Metadata:    map[string]string{mdSeq: strconv.FormatUint(seq, 10), "epoch": strconv.FormatUint(j.epoch.Load(), 10)},
	}, f)
	if err != nil {
		return fmt.Errorf("replica: snapshot: %w", err)
	}
	if !j.Holding() {
		return ErrNotActive
	}
	s, err := j.js.Stream(ctx, j.stream)
	if err != nil {
		return fmt.Errorf("replica: compact: %w", err)
	}
	if err := s.Purge(ctx, jetstream.WithPurgeSequence(seq+1)); err != nil {
		return fmt.Errorf("replica: compact: %w", err)
	}
	j.compactions.Add(1)
	j.log.Info("journal compacted", "journal_seq", seq, "snapshot_bytes", size, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// snapshotSeq returns the journal sequence of the shard's snapshot, 0 if
// there is none.
func (j *Journal) snapshotSeq(ctx context.Context) (uint64, error) {
	info, err := j.obs.GetInfo(ctx, j.opts.Shard)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("replica: snapshot: %w", err)
	}
	seq, err := strconv.ParseUint(info.Metadata[mdSeq], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: snapshot of shard %s: journal sequence %q", errCorrupt, j.opts.Shard, info.Metadata[mdSeq])
	}
	return seq, nil
}

// restore replaces the content of the local file with the shard's
// snapshot: the journal no longer holds the entries after the file's last
// (first is the journal's first entry). A standby only.
func (j *Journal) restore(ctx context.Context, first uint64) error {
	last := j.last.Load()
	seq, err := j.snapshotSeq(ctx)
	if err != nil {
		return err
	}
	switch {
	case seq == 0:
		return fmt.Errorf("%w: the journal starts at %d, this file holds up to %d, and there is no snapshot: copy hub.db from a current hub", ErrBehind, first, last)
	case seq+1 < first:
		return fmt.Errorf("%w: the journal starts at %d, the snapshot holds up to %d only: copy hub.db from a current hub", ErrBehind, first, seq)
	case seq <= last:
		return fmt.Errorf("%w: the journal starts at %d, this file holds up to %d, the snapshot no more (%d)", ErrBehind, first, last, seq)
	}
	start := time.Now()
	f, err := os.CreateTemp(filepath.Dir(j.db.Path()), ".snapshot-*")
	if err != nil {
		return fmt.Errorf("replica: restore: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	r, err := j.obs.Get(ctx, j.opts.Shard)
	if err != nil {
		return fmt.Errorf("replica: restore: %w", err)
	}
	// The object store checks the object's digest at its end.
	size, err := io.Copy(f, r)
	r.Close()
	if err != nil {
		return fmt.Errorf("replica: restore: snapshot of shard %s: %w", j.opts.Shard, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("replica: restore: %w", err)
	}
	snap, err := bolt.Open(f.Name(), 0o400, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("%w: snapshot of shard %s: %w", errCorrupt, j.opts.Shard, err)
	}
	defer snap.Close()
	// The snapshot's file stays open until the copy commits: bbolt's
	// values point into its memory map.
	err = snap.View(func(stx *bolt.Tx) error {
		if got := appliedIn(stx); got != seq {
			return fmt.Errorf("%w: snapshot of shard %s holds journal sequence %d, its metadata says %d", errCorrupt, j.opts.Shard, got, seq)
		}
		return j.db.Update(func(tx *bolt.Tx) error {
			var names [][]byte
			err := tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
				if !bytes.Equal(name, bMeta) {
					names = append(names, clone(name))
				}
				return nil
			})
			if err != nil {
				return err
			}
			for _, name := range names {
				if err := tx.DeleteBucket(name); err != nil {
					return err
				}
			}
			err = stx.ForEach(func(name []byte, src *bolt.Bucket) error {
				if bytes.Equal(name, bMeta) {
					return nil
				}
				dst, err := tx.CreateBucket(name)
				if err != nil {
					return err
				}
				return copyBucket(dst, src)
			})
			if err != nil {
				return err
			}
			return putApplied(tx, seq)
		})
	})
	if err != nil {
		return fmt.Errorf("replica: restore: %w", err)
	}
	j.last.Store(seq)
	j.partial = nil
	j.restores.Add(1)
	j.log.Info("restored from the snapshot", "journal_seq", seq, "file_held", last, "snapshot_bytes", size, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// copyBucket copies src's keys, nested buckets and sequence into dst.
func copyBucket(dst, src *bolt.Bucket) error {
	err := src.ForEach(func(k, v []byte) error {
		if v != nil {
			return dst.Put(k, v)
		}
		nb, err := dst.CreateBucket(k)
		if err != nil {
			return err
		}
		return copyBucket(nb, src.Bucket(k))
	})
	if err != nil {
		return err
	}
	return dst.SetSequence(src.Sequence())
}

// appliedIn returns the journal sequence tx's file holds.
func appliedIn(tx *bolt.Tx) uint64 {
	if b := tx.Bucket(bMeta); b != nil {
		if v := b.Get(keyApplied); len(v) == 8 {
			return binary.BigEndian.Uint64(v)
		}
	}
	return 0
}
