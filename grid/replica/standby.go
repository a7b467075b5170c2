package replica

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	bolt "go.etcd.io/bbolt"
)

// standby follows the journal until this process holds the lease and its
// takeover entry is in the journal; it returns the lease's epoch.
func (j *Journal) standby(ctx context.Context) (uint64, error) {
	var rev uint64
	for ctx.Err() == nil {
		fctx, fcancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		var ferr error
		wg.Add(1)
		go func() {
			defer wg.Done()
			ferr = j.follow(fctx)
			if ferr != nil {
				fcancel()
			}
		}()
		var err error
		if rev == 0 {
			rev, err = j.acquire(fctx)
		}
		if err == nil {
			err = j.catchUp(fctx)
		}
		fcancel()
		wg.Wait()
		if errors.Is(ferr, ErrBehind) {
			return 0, ferr
		}
		if ctx.Err() != nil {
			return 0, nil
		}
		if err := errors.Join(ferr, err); err != nil {
			// NATS unreachable, a stream leader moving: keep standing by.
			j.log.Warn("following the journal; retrying", "error", err)
			rev = 0 // acquire again: the lease may have lapsed meanwhile
			select {
			case <-ctx.Done():
			case <-time.After(j.opts.LeaseTTL / 3):
			}
			continue
		}
		if err := j.takeover(rev); err != nil {
			j.log.Info("takeover raced with a write; catching up again", "error", err)
			rev = 0
			if !errors.Is(err, ErrFenced) {
				select {
				case <-ctx.Done():
				case <-time.After(j.opts.LeaseTTL / 6):
				}
			}
			continue
		}
		return rev, nil
	}
	return 0, nil
}

// acquire waits for the shard's lease and returns its revision.
func (j *Journal) acquire(ctx context.Context) (uint64, error) {
	t := time.NewTicker(max(j.opts.LeaseTTL/12, 50*time.Millisecond))
	defer t.Stop()
	logged := false
	for {
		// Each try is bounded: a lease granted after a long wait (a
		// reconnecting client) may be near its end already.
		sent := time.Now()
		actx, cancel := context.WithTimeout(ctx, j.opts.LeaseTTL/3)
		rev, err := j.kv.Create(actx, j.opts.Shard, []byte(j.opts.Name))
		if errors.Is(err, jetstream.ErrKeyExists) {
			// This very name holding it is an earlier run of this process.
			e, gerr := j.kv.Get(actx, j.opts.Shard)
			if gerr == nil {
				holder := string(e.Value())
				j.holder.Store(&holder)
			}
			if gerr == nil && string(e.Value()) == j.opts.Name {
				sent = time.Now()
				rev, err = j.kv.Update(actx, j.opts.Shard, []byte(j.opts.Name), e.Revision())
			} else if gerr == nil && !logged {
				j.log.Info("standby", "active", string(e.Value()), "name", j.opts.Name)
				logged = true
			}
		}
		cancel()
		if err == nil {
			j.holder.Store(&j.opts.Name)
			j.rev.Store(rev)
			j.mu.Lock()
			j.leaseOK = sent
			j.mu.Unlock()
			return rev, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && ctx.Err() == nil {
			j.log.Debug("lease", "error", err)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-t.C:
		}
	}
}

// renew keeps the lease until ctx is done, deposing this process when a
// renewal is refused or the lease went stale (a paused process).
func (j *Journal) renew(ctx context.Context, epoch uint64) {
	t := time.NewTicker(j.opts.LeaseTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !j.leaseFresh() {
			j.depose(fmt.Errorf("lease of epoch %d expired", epoch))
			return
		}
		sent := time.Now()
		rctx, cancel := context.WithTimeout(ctx, j.opts.LeaseTTL/3)
		rev, err := j.kv.Update(rctx, j.opts.Shard, []byte(j.opts.Name), j.rev.Load())
		cancel()
		switch {
		case err == nil:
			j.rev.Store(rev)
			j.mu.Lock()
			j.leaseOK = sent
			j.mu.Unlock()
		case errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyNotFound):
			j.depose(fmt.Errorf("lease of epoch %d taken: %w", epoch, err))
			return
		case ctx.Err() == nil:
			j.log.Warn("lease renewal failed; retrying", "error", err)
		}
	}
}

// catchUp returns once the file holds the journal up to its last entry.
func (j *Journal) catchUp(ctx context.Context) error {
	s, err := j.js.Stream(ctx, j.stream)
	if err != nil {
		return fmt.Errorf("replica: journal: %w", err)
	}
	for {
		info, err := s.Info(ctx)
		if err != nil {
			return fmt.Errorf("replica: journal: %w", err)
		}
		if j.last.Load() >= info.State.LastSeq {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// takeover appends the entry that fences every earlier lease holder and
// makes this process the active one.
func (j *Journal) takeover(rev uint64) error {
	if !j.leaseFresh() {
		return fmt.Errorf("%w: lease of epoch %d expired during the catch-up", ErrNotActive, rev)
	}
	j.epoch.Store(rev)
	j.partial = nil // a change set its writer never finished
	j.mu.Lock()
	j.deposed = make(chan struct{})
	j.mu.Unlock()
	j.active.Store(true)
	err := j.db.Update(func(tx *bolt.Tx) error {
		if err := j.append(kindTakeover, nil); err != nil {
			return err
		}
		return putApplied(tx, j.last.Load())
	})
	if err != nil {
		j.active.Store(false)
		return err
	}
	return nil
}

// errGap means the journal no longer holds the entry after the file's
// last one: it was compacted meanwhile.
type errGap struct{ first uint64 }

func (e errGap) Error() string { return fmt.Sprintf("replica: the journal goes on at %d", e.first) }

// follow applies the journal's entries after the last one the file holds,
// as they come, until ctx is done. When the journal was compacted past the
// file's last entry, it restores the file from the snapshot first.
func (j *Journal) follow(ctx context.Context) error {
	for {
		err := j.followFrom(ctx)
		var gap errGap
		if !errors.As(err, &gap) {
			return err
		}
		if err := j.restore(ctx, gap.first); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// followFrom applies the journal's entries from the one after the file's
// last, returning an errGap if that one is gone.
func (j *Journal) followFrom(ctx context.Context) error {
	// The parts of an incomplete change set are read again: the
	// consumer starts before them.
	if n := uint64(len(j.partial)); n > 0 {
		j.last.Store(j.last.Load() - n)
		j.partial = nil
	}
	s, err := j.js.Stream(ctx, j.stream)
	if err == nil {
		var info *jetstream.StreamInfo
		if info, err = s.Info(ctx); err == nil && info.State.FirstSeq > j.last.Load()+1 {
			return errGap{info.State.FirstSeq}
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("replica: follow: %w", err)
	}
	cons, err := j.js.OrderedConsumer(ctx, j.stream, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   j.last.Load() + 1,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("replica: follow: %w", err)
	}
	it, err := cons.Messages()
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("replica: follow: %w", err)
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
		case <-done:
		}
		it.Stop()
	}()
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("replica: follow: %w", err)
		}
		md, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("replica: follow: %w", err)
		}
		seq := md.Sequence.Stream
		switch last := j.last.Load(); {
		case seq <= last:
			continue
		case seq > last+1:
			return errGap{seq}
		}
		if err := j.applyEntry(seq, m.Headers(), m.Data()); err != nil {
			return err
		}
	}
}

// applyEntry applies journal entry seq to the file.
func (j *Journal) applyEntry(seq uint64, h nats.Header, data []byte) error {
	var payload []byte
	complete := true
	switch part := h.Get(hdrPart); {
	case h.Get(hdrKind) == kindTakeover:
		j.partial = nil
	case part != "":
		i, n, ok := parsePart(part)
		if !ok {
			return fmt.Errorf("%w: %d: part %q", errCorrupt, seq, part)
		}
		if i == 1 {
			j.partial = nil
		}
		if i != len(j.partial)+1 {
			j.partial = nil // the rest of an abandoned change set
			complete = false
			break
		}
		j.partial = append(j.partial, data)
		if i < n {
			complete = false
			break
		}
		payload = bytes.Join(j.partial, nil)
		j.partial = nil
	default:
		payload = data
	}
	if !complete {
		// Not persisted: after a restart the follower reads the set again
		// from its first part.
		j.last.Store(seq)
		return nil
	}
	ops, err := decode(payload)
	if err != nil {
		return fmt.Errorf("replica: entry %d: %w", seq, err)
	}
	err = j.db.Update(func(tx *bolt.Tx) error {
		if err := apply(tx, ops); err != nil {
			return err
		}
		return putApplied(tx, seq)
	})
	if err != nil {
		return fmt.Errorf("replica: entry %d: %w", seq, err)
	}
	j.last.Store(seq)
	return nil
}

func parsePart(s string) (i, n int, ok bool) {
	a, b, found := strings.Cut(s, "/")
	if !found {
		return 0, 0, false
	}
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	return i, n, err1 == nil && err2 == nil && i >= 1 && i <= n
}
