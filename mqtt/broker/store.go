package broker

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/storage"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/mochi-mqtt/server/v2/system"
	bbolt "go.etcd.io/bbolt"
)

// storeHook keeps mochi's sessions, subscriptions, in-flight and retained
// messages in bbolt, in the bucket and under the keys of mochi's own bolt
// hook (so a broker.db written by it is read back unchanged), but commits
// them in groups.
//
// mochi's bolt hook commits every change in a transaction of its own, one
// fsync each, on the goroutine of the client that caused it. At a fleet's
// connect (a session, a subscription, a retained birth and state, their
// in-flight copies to the hub and the deletions when the hub acknowledges
// them: some six commits a device) the disk's few hundred fsyncs a second
// were the broker's limit, and the hub's connection, on which mochi reads
// the hub's acknowledgements one by one, each waiting for its deletion to
// commit, let the hub's alerts wait seconds behind them.
//
// Here every change goes into one queue, in order, and one writer commits
// all that is queued in one transaction. A change that must be on disk
// before mochi answers (a session, a subscription, a retained message, a
// message in flight to a persistent session: mochi acknowledges the publish
// or the subscription right after the hook returns) waits for its commit,
// shared with every change queued beside it. A deletion (an acknowledged
// in-flight message, an expired session or retained message, an
// unsubscription) does not wait: lost in a crash, it leaves a record that
// restores a message already delivered, which QoS 1 allows and receivers
// drop by its id, or a session that expires again.
//
// It also writes less than mochi's hook: nothing for the PUBACK mochi
// records of every incoming QoS 1 publish, nothing for messages in flight
// to clean sessions (a restart discards them), and a completion deletes
// only what was written. And it keeps a message's packet id, which mochi
// v2.7.9's hook loses (mochi then refuses to resend it after a restart).
type storeHook struct {
	mqtt.HookBase
	db  *bbolt.DB
	log *slog.Logger

	mu      sync.Mutex
	queue   []storeOp
	closed  bool
	wake    chan struct{} // a change was queued (capacity 1)
	stopped chan struct{} // closed by Stop
	wg      sync.WaitGroup

	storedMu sync.Mutex
	stored   map[string]bool // in-flight keys written and not deleted

	commits, errs atomic.Uint64 // transactions committed; failed
	// slowDisk, set by tests, sleeps this long (ns) before each commit, as
	// a slow disk's fsync would.
	slowDisk atomic.Int64
}

// storeOp is one change: val nil deletes key. done, when not nil, receives
// the commit's result.
type storeOp struct {
	key, val []byte
	done     chan error
}

// storeBucket is the bucket of mochi's bolt hook.
var storeBucket = []byte("mochi")

// openStore opens path and starts the writer; Stop commits what is queued
// and closes the file.
func openStore(path string, opts *bbolt.Options, log *slog.Logger) (*storeHook, error) {
	db, err := bbolt.Open(path, 0o600, opts)
	if err != nil {
		return nil, fmt.Errorf("broker: open store: %w", err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(storeBucket)
		return err
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("broker: open store: %w", err)
	}
	h := &storeHook{db: db, log: log, wake: make(chan struct{}, 1), stopped: make(chan struct{}), stored: map[string]bool{}}
	h.wg.Go(h.writeLoop)
	return h, nil
}

func (h *storeHook) ID() string { return "linli-store" }

func (h *storeHook) Provides(b byte) bool {
	return bytes.Contains([]byte{
		mqtt.OnSessionEstablished, mqtt.OnDisconnect, mqtt.OnSubscribed, mqtt.OnUnsubscribed,
		mqtt.OnRetainMessage, mqtt.OnWillSent, mqtt.OnQosPublish, mqtt.OnQosComplete, mqtt.OnQosDropped,
		mqtt.OnSysInfoTick, mqtt.OnClientExpired, mqtt.OnRetainedExpired,
		mqtt.StoredClients, mqtt.StoredInflightMessages, mqtt.StoredRetainedMessages,
		mqtt.StoredSubscriptions, mqtt.StoredSysInfo,
	}, []byte{b})
}

// Stop commits the queued changes, stops the writer and closes the file.
func (h *storeHook) Stop() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	h.mu.Unlock()
	close(h.stopped)
	h.wg.Wait()
	if err := h.db.Close(); err != nil {
		return fmt.Errorf("broker: close store: %w", err)
	}
	return nil
}

// put queues a change and, with wait, returns once it is committed.
func (h *storeHook) put(key string, v storage.Serializable, wait bool) {
	var val []byte
	if v != nil {
		b, err := v.MarshalBinary()
		if err != nil {
			h.log.Error("store: encode", "key", key, "error", err)
			return
		}
		val = b
	}
	op := storeOp{key: []byte(key), val: val}
	if wait {
		op.done = make(chan error, 1)
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		h.log.Debug("store: change after stop dropped", "key", key)
		return
	}
	h.queue = append(h.queue, op)
	h.mu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
	if wait {
		// mochi's hooks return nothing: the writer logged and counted a
		// failed commit, and mochi goes on as with its own bolt hook.
		if err := <-op.done; err != nil {
			h.log.Debug("store: change not committed", "key", key, "error", err)
		}
	}
}

func (h *storeHook) del(key string) { h.put(key, nil, false) }

// writeLoop commits everything queued, in order, one transaction at a
// time, until Stop; then it commits what is left.
func (h *storeHook) writeLoop() {
	for {
		select {
		case <-h.wake:
		case <-h.stopped:
			h.commit()
			return
		}
		h.commit()
	}
}

func (h *storeHook) commit() {
	h.mu.Lock()
	ops := h.queue
	h.queue = nil
	h.mu.Unlock()
	if len(ops) == 0 {
		return
	}
	if d := h.slowDisk.Load(); d > 0 {
		time.Sleep(time.Duration(d))
	}
	err := h.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(storeBucket)
		for _, op := range ops {
			var err error
			if op.val == nil {
				err = b.Delete(op.key)
			} else {
				err = b.Put(op.key, op.val)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", op.key, err)
			}
		}
		return nil
	})
	if err != nil {
		h.errs.Add(1)
		h.log.Error("store: commit failed", "changes", len(ops), "error", err)
	} else {
		h.commits.Add(1)
	}
	for _, op := range ops {
		if op.done != nil {
			op.done <- err
		}
	}
}

// The keys of mochi's bolt hook.
func clientKey(id string) string          { return storage.ClientKey + "_" + id }
func subscriptionKey(id, f string) string { return storage.SubscriptionKey + "_" + id + ":" + f }
func retainedKey(topic string) string     { return storage.RetainedKey + "_" + topic }
func inflightKey(cl *mqtt.Client, pk packets.Packet) string {
	return storage.InflightKey + "_" + cl.ID + ":" + pk.FormatID()
}

func (h *storeHook) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) { h.putClient(cl, true) }

// OnWillSent records the session without its will.
func (h *storeHook) OnWillSent(cl *mqtt.Client, _ packets.Packet) { h.putClient(cl, false) }

func (h *storeHook) putClient(cl *mqtt.Client, wait bool) {
	p := cl.Properties.Props.Copy(false)
	h.put(clientKey(cl.ID), &storage.Client{
		ID: cl.ID, T: storage.ClientKey, Remote: cl.Net.Remote, Listener: cl.Net.Listener,
		Username: cl.Properties.Username, Clean: cl.Properties.Clean, ProtocolVersion: cl.Properties.ProtocolVersion,
		Properties: storage.ClientProperties{
			SessionExpiryInterval: p.SessionExpiryInterval, AuthenticationMethod: p.AuthenticationMethod,
			AuthenticationData: p.AuthenticationData, RequestProblemInfo: p.RequestProblemInfo,
			RequestResponseInfo: p.RequestResponseInfo, ReceiveMaximum: p.ReceiveMaximum,
			TopicAliasMaximum: p.TopicAliasMaximum, User: p.User, MaximumPacketSize: p.MaximumPacketSize,
		},
		Will: storage.ClientWill(cl.Properties.Will),
	}, wait)
}

// OnDisconnect forgets an expiring session (not one taken over by a new
// connection of the same id).
func (h *storeHook) OnDisconnect(cl *mqtt.Client, _ error, expire bool) {
	if expire && !errors.Is(cl.StopCause(), packets.ErrSessionTakenOver) {
		h.del(clientKey(cl.ID))
	}
}

func (h *storeHook) OnClientExpired(cl *mqtt.Client) { h.del(clientKey(cl.ID)) }

func (h *storeHook) OnSubscribed(cl *mqtt.Client, pk packets.Packet, codes []byte) {
	for i, f := range pk.Filters {
		if i >= len(codes) {
			break
		}
		h.put(subscriptionKey(cl.ID, f.Filter), &storage.Subscription{
			ID: subscriptionKey(cl.ID, f.Filter), T: storage.SubscriptionKey, Client: cl.ID, Qos: codes[i],
			Filter: f.Filter, Identifier: f.Identifier, NoLocal: f.NoLocal,
			RetainHandling: f.RetainHandling, RetainAsPublished: f.RetainAsPublished,
		}, i == len(pk.Filters)-1) // the last one's commit covers the others
	}
}

func (h *storeHook) OnUnsubscribed(cl *mqtt.Client, pk packets.Packet) {
	for _, f := range pk.Filters {
		h.del(subscriptionKey(cl.ID, f.Filter))
	}
}

// message is pk as mochi's bolt hook stores it under key.
func message(key, kind string, cl *mqtt.Client, pk packets.Packet, sent int64) *storage.Message {
	p := pk.Properties.Copy(false)
	return &storage.Message{
		ID: key, T: kind, Client: cl.ID, Origin: pk.Origin, FixedHeader: pk.FixedHeader,
		TopicName: pk.TopicName, Payload: pk.Payload, Sent: sent, Created: pk.Created, PacketID: pk.PacketID,
		Properties: storage.MessageProperties{
			PayloadFormat: p.PayloadFormat, MessageExpiryInterval: p.MessageExpiryInterval,
			ContentType: p.ContentType, ResponseTopic: p.ResponseTopic, CorrelationData: p.CorrelationData,
			SubscriptionIdentifier: p.SubscriptionIdentifier, TopicAlias: p.TopicAlias, User: p.User,
		},
	}
}

// OnRetainMessage stores (r 1) or deletes (r -1) the retained message of
// a topic; the publisher's PUBACK waits for a store.
func (h *storeHook) OnRetainMessage(cl *mqtt.Client, pk packets.Packet, r int64) {
	if r == -1 {
		h.del(retainedKey(pk.TopicName))
		return
	}
	h.put(retainedKey(pk.TopicName), message(retainedKey(pk.TopicName), storage.RetainedKey, cl, pk, 0), true)
}

func (h *storeHook) OnRetainedExpired(topic string) { h.del(retainedKey(topic)) }

// OnQosPublish stores a message in flight to a persistent session before
// mochi sends it (and, through durableHook, before the publisher's PUBACK).
func (h *storeHook) OnQosPublish(cl *mqtt.Client, pk packets.Packet, sent int64, _ int) {
	if pk.FixedHeader.Type == packets.Puback || (cl.Properties.Clean && cl.Properties.ProtocolVersion < 5) {
		return
	}
	k := inflightKey(cl, pk)
	h.storedMu.Lock()
	h.stored[k] = true
	h.storedMu.Unlock()
	h.put(k, message(k, storage.InflightKey, cl, pk, sent), true)
}

// OnQosComplete deletes a delivered message, without waiting.
func (h *storeHook) OnQosComplete(cl *mqtt.Client, pk packets.Packet) {
	k := inflightKey(cl, pk)
	h.storedMu.Lock()
	ok := h.stored[k]
	delete(h.stored, k)
	h.storedMu.Unlock()
	if ok {
		h.del(k)
	}
}

func (h *storeHook) OnQosDropped(cl *mqtt.Client, pk packets.Packet) { h.OnQosComplete(cl, pk) }

func (h *storeHook) OnSysInfoTick(sys *system.Info) {
	h.put(storage.SysInfoKey, &storage.SystemInfo{ID: storage.SysInfoKey, T: storage.SysInfoKey, Info: *sys}, false)
}

// each calls fn with the value of every key starting with prefix.
func (h *storeHook) each(prefix string, fn func([]byte) error) error {
	err := h.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(storeBucket).Cursor()
		p := []byte(prefix + "_")
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			if err := fn(v); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("broker: read store: %w", err)
	}
	return nil
}

func (h *storeHook) StoredClients() ([]storage.Client, error) {
	var v []storage.Client
	err := h.each(storage.ClientKey, func(b []byte) error {
		var c storage.Client
		if err := c.UnmarshalBinary(b); err != nil {
			return err
		}
		v = append(v, c)
		return nil
	})
	return v, err
}

func (h *storeHook) StoredSubscriptions() ([]storage.Subscription, error) {
	var v []storage.Subscription
	err := h.each(storage.SubscriptionKey, func(b []byte) error {
		var s storage.Subscription
		if err := s.UnmarshalBinary(b); err != nil {
			return err
		}
		v = append(v, s)
		return nil
	})
	return v, err
}

func (h *storeHook) StoredRetainedMessages() ([]storage.Message, error) {
	return h.messages(storage.RetainedKey)
}

// StoredInflightMessages returns the messages in flight; a record written
// by mochi v2.7.9's hook without its packet id gets it back from its key.
func (h *storeHook) StoredInflightMessages() ([]storage.Message, error) {
	v, err := h.messages(storage.InflightKey)
	h.storedMu.Lock()
	defer h.storedMu.Unlock()
	for i := range v {
		if j := strings.LastIndexByte(v[i].ID, ':'); j >= 0 && v[i].PacketID == 0 {
			if n, perr := strconv.ParseUint(v[i].ID[j+1:], 10, 16); perr == nil {
				v[i].PacketID = uint16(n)
			}
		}
		h.stored[v[i].ID] = true
	}
	return v, err
}

func (h *storeHook) messages(prefix string) ([]storage.Message, error) {
	var v []storage.Message
	err := h.each(prefix, func(b []byte) error {
		var m storage.Message
		if err := m.UnmarshalBinary(b); err != nil {
			return err
		}
		v = append(v, m)
		return nil
	})
	return v, err
}

func (h *storeHook) StoredSysInfo() (storage.SystemInfo, error) {
	var v storage.SystemInfo
	err := h.db.View(func(tx *bbolt.Tx) error {
		if b := tx.Bucket(storeBucket).Get([]byte(storage.SysInfoKey)); b != nil {
			return v.UnmarshalBinary(b)
		}
		return nil
	})
	if err != nil {
		return v, fmt.Errorf("broker: read store: %w", err)
	}
	return v, nil
}
