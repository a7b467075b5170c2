package hub

import (
	"context"
	"fmt"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	bolt "go.etcd.io/bbolt"

	"linli/mqtt/contract"
	"linli/mqtt/outbox"
)

// Publish queues msg for topic in the hub's durable outbox; it is sent at
// QoS 1 as soon as the broker is reachable, in the order queued. It returns
// once the message is on disk, not when it was delivered.
func (h *Hub) Publish(_ context.Context, topic string, msg contract.Message, retain bool) error {
	err := h.db.Update(func(tx *bolt.Tx) error { return h.queue(tx, topic, msg, retain) })
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

// sendLoop drains the outbox to the broker: a batch is published, its
// PUBACKs awaited, then it is deleted.
func (h *Hub) sendLoop(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for {
		ready := h.out.Ready()
		items, err := h.out.Peek(128)
		if err != nil {
			h.log.Error("outbox read", "error", err)
		}
		if err != nil {
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
		toks := make([]paho.Token, len(items))
		for i, it := range items {
			toks[i] = h.client.Publish(it.Topic, it.QoS, it.Retain, it.Payload)
		}
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
		}
		if err := h.out.Delete(sent...); err != nil {
			h.log.Error("outbox delete", "error", err)
		} else {
			h.addDepth(-len(sent))
		}
		if len(sent) < len(items) {
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
