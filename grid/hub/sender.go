package hub

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	bolt "go.etcd.io/bbolt"

	"linli/grid/replica"
	"linli/mqtt/contract"
	"linli/mqtt/outbox"
)

// Publish queues msg for topic in the hub's durable outbox; it is sent at
// QoS 1 as soon as the broker is reachable, in the order queued. It returns
// once the message is on disk, not when it was delivered.
func (h *Hub) Publish(_ context.Context, topic string, msg contract.Message, retain bool) error {
	err := replica.Update(h.db, func(tx *bolt.Tx) error { return h.queue(tx, topic, msg, retain) })
	if err != nil {
		return fmt.Errorf("hub: publish: %w", err)
	}
	return nil
}

// PublishTx is Publish inside the caller's writable transaction on the
// hub's own database, so that a change and its announcement are committed
// together. The message is sent after the transaction commits.
func (h *Hub) PublishTx(tx *bolt.Tx, topic string, msg contract.Message, retain bool) error {
	if err := h.queue(tx, topic, msg, retain); err != nil {
		return fmt.Errorf("hub: publish: %w", err)
	}
	return nil
}

// deletion is a batch of sent items for the deleter, or, with done set, a
// barrier: done is closed once every batch before it was deleted.
type deletion struct {
	items []outbox.Item
	done  chan struct{}
}

// sendLoop drains the outbox to the broker: a batch is published and its
// PUBACKs awaited; then it goes to the deleter and the next batch is read
// after it (a Cursor), so that a new alert never waits for the fsync that
// deletes the previous batch. After a failure the loop waits for the
// deleter and starts again from the oldest item not deleted, so messages
// are sent again in the order queued, never an older state after a newer.
func (h *Hub) sendLoop(ctx context.Context) {
	del := make(chan deletion, 64)
	var failed atomic.Bool // a Delete failed: start again from the oldest item
	var dwg sync.WaitGroup
	dwg.Go(func() { h.deleteLoop(del, &failed) })
	defer func() { close(del); dwg.Wait() }()
	barrier := func() {
		d := deletion{done: make(chan struct{})}
		del <- d
		<-d.done
	}

	backoff := 100 * time.Millisecond
	var cur outbox.Cursor
	for {
		if failed.Swap(false) {
			barrier()
			cur = outbox.Cursor{}
		}
		ready := h.out.Ready()
		items, err := h.out.PeekAfter(cur, 128)
		if err != nil {
			h.log.Error("outbox read", "error", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
				continue
			}
		}
		if len(items) == 0 {
			select {
			case <-ready:
				continue
			case <-ctx.Done():
				return
			}
		}
		// paho's Publish waits, up to its write timeout, for a connection
		// that is being re-made, each call: publish only while connected
		// (a stopping or deposed hub, see Options.MayConnect, is not
		// reconnected at all). What is left is sent next round.
		for !h.online.Load() {
			select {
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
		toks := make([]paho.Token, 0, len(items))
		for _, it := range items {
			if !h.online.Load() {
				break
			}
			toks = append(toks, h.client.Publish(it.Topic, it.QoS, it.Retain, it.Payload))
		}
		items = items[:len(toks)]
		var sent []outbox.Item
		for i, tok := range toks {
			tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err := wait(tctx, tok)
			cancel()
			if err != nil {
				if ctx.Err() == nil {
					h.log.Warn("publish failed; will retry", "topic", items[i].Topic, "error", err)
				}
				break
			}
			sent = append(sent, items[i])
			cur.Advance(items[i])
		}
		if len(sent) > 0 {
			del <- deletion{items: sent}
		}
		if len(sent) < len(items) {
			barrier()
			cur = outbox.Cursor{}
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
		} else {
			backoff = 100 * time.Millisecond
		}
	}
}

// deleteLoop deletes the sent items, as many batches as are waiting in one
// transaction, until del is closed.
func (h *Hub) deleteLoop(del <-chan deletion, failed *atomic.Bool) {
	for d := range del {
		batch := d.items
		var done []chan struct{}
		if d.done != nil {
			done = append(done, d.done)
		}
	more:
		for {
			select {
			case d, ok := <-del:
				if !ok {
					break more
				}
				batch = append(batch, d.items...)
				if d.done != nil {
					done = append(done, d.done)
				}
			default:
				break more
			}
		}
		if err := h.out.Delete(batch...); err != nil {
			h.log.Error("outbox delete", "error", err)
			failed.Store(true)
		} else {
			h.addDepth(-len(batch))
			h.journalSent(batch)
		}
		for _, c := range done {
			close(c)
		}
	}
}

// journalSent tells the standbys (gridhub --ha) that the items were sent,
// so that a takeover does not send them again. Sent items a standby missed
// this way (the active hub died in between) are sent twice, at QoS 1 as
// any resend.
func (h *Hub) journalSent(items []outbox.Item) {
	if !replica.Journaled(h.db) {
		return
	}
	seqs := make([]uint64, 0, len(items))
	for _, it := range items {
		if it.Class == outbox.Event {
			seqs = append(seqs, it.Seq)
		}
	}
	err := replica.Update(h.db, func(tx *bolt.Tx) error { return touchOutbox(tx, seqs...) })
	if err != nil {
		h.log.Debug("journal sent items", "error", err)
	}
}
