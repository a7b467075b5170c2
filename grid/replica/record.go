package replica

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
)

// Errors of the write path.
var (
	// ErrUnjournaled means a recorded write (Put, Delete, NextSequence,
	// Touch) ran on a database with a Journal attached, but outside
	// Update: it would reach this hub's file and no standby's.
	ErrUnjournaled = errors.New("replica: write outside replica.Update")
	// ErrNotActive means a write was tried while this process does not hold
	// the lease (a standby, or a hub that was deposed).
	ErrNotActive = errors.New("replica: not the active hub")
	// ErrFenced means the journal refused an append: another hub took over.
	ErrFenced = errors.New("replica: fenced by a newer hub")
)

// attached maps a *bolt.DB to the Journal that replicates it. The write
// sites of the hub and the ticket store reach their journal through the
// transaction's database, so they need no plumbing, and without a journal
// (a single machine) they cost one map lookup.
var attached sync.Map // *bolt.DB → *Journal

func journalOf(db *bolt.DB) *Journal {
	if j, ok := attached.Load(db); ok {
		return j.(*Journal)
	}
	return nil
}

// Journaled reports whether db has a Journal attached (gridhub --ha).
func Journaled(db *bolt.DB) bool { return journalOf(db) != nil }

// op kinds of a change set.
const (
	opPut byte = 1 + iota
	opDelete
	opSequence
)

// op is one write of a transaction, replayed on the standbys.
type op struct {
	kind   byte
	bucket []byte
	key    []byte
	value  []byte // opPut
	seq    uint64 // opSequence
}

// changeSet collects the writes of the transaction tx.
type changeSet struct {
	tx  *bolt.Tx
	ops []op
}

// current is the change set of the journal's running Update, or nil.
type current = atomic.Pointer[changeSet]

// record adds o to tx's change set. It returns ErrUnjournaled if tx's
// database is journaled but tx is not one of its Updates.
func record(tx *bolt.Tx, o op) error {
	j := journalOf(tx.DB())
	if j == nil {
		return nil
	}
	cs := j.cur.Load()
	if cs == nil || cs.tx != tx {
		return fmt.Errorf("%w: bucket %s", ErrUnjournaled, o.bucket)
	}
	cs.ops = append(cs.ops, o)
	return nil
}

func bucket(tx *bolt.Tx, name []byte) (*bolt.Bucket, error) {
	b := tx.Bucket(name)
	if b == nil {
		return nil, fmt.Errorf("replica: no bucket %s", name)
	}
	return b, nil
}

// Put sets key to value in the top-level bucket name, inside the writable
// transaction tx, and records the write for the standbys.
func Put(tx *bolt.Tx, name, key, value []byte) error {
	b, err := bucket(tx, name)
	if err != nil {
		return err
	}
	if err := b.Put(key, value); err != nil {
		return err
	}
	return record(tx, op{kind: opPut, bucket: name, key: clone(key), value: clone(value)})
}

// Delete removes key from the top-level bucket name and records it.
func Delete(tx *bolt.Tx, name, key []byte) error {
	b, err := bucket(tx, name)
	if err != nil {
		return err
	}
	if err := b.Delete(key); err != nil {
		return err
	}
	return record(tx, op{kind: opDelete, bucket: name, key: clone(key)})
}

// DeleteCursor deletes key, the key c (a cursor of the top-level bucket
// name) is on, and records it.
func DeleteCursor(tx *bolt.Tx, name []byte, c *bolt.Cursor, key []byte) error {
	k := clone(key)
	if err := c.Delete(); err != nil {
		return err
	}
	return record(tx, op{kind: opDelete, bucket: name, key: k})
}

// NextSequence returns the next sequence number of the top-level bucket
// name, as bolt.Bucket.NextSequence, and records it, so that numbers drawn
// from it (alert ids) continue on a standby where they stopped here.
func NextSequence(tx *bolt.Tx, name []byte) (uint64, error) {
	b, err := bucket(tx, name)
	if err != nil {
		return 0, err
	}
	n, err := b.NextSequence()
	if err != nil {
		return 0, err
	}
	return n, record(tx, op{kind: opSequence, bucket: name, seq: n})
}

// Touch records the current state of keys in the top-level bucket name
// (their value, or their absence) and the bucket's sequence: it replicates
// writes made by code that does not record its own (mqtt/outbox).
func Touch(tx *bolt.Tx, name []byte, keys ...[]byte) error {
	if journalOf(tx.DB()) == nil {
		return nil
	}
	b, err := bucket(tx, name)
	if err != nil {
		return err
	}
	for _, k := range keys {
		o := op{kind: opDelete, bucket: name, key: clone(k)}
		if v := b.Get(k); v != nil {
			o = op{kind: opPut, bucket: name, key: clone(k), value: clone(v)}
		}
		if err := record(tx, o); err != nil {
			return err
		}
	}
	return record(tx, op{kind: opSequence, bucket: name, seq: b.Sequence()})
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// encode appends the change set's ops to buf: per op its kind, then
// uvarint-length-prefixed bucket, key and value, or the uvarint sequence.
func encode(buf []byte, ops []op) []byte {
	for _, o := range ops {
		buf = append(buf, o.kind)
		buf = appendBytes(buf, o.bucket)
		switch o.kind {
		case opSequence:
			buf = binary.AppendUvarint(buf, o.seq)
		default:
			buf = appendBytes(buf, o.key)
			if o.kind == opPut {
				buf = appendBytes(buf, o.value)
			}
		}
	}
	return buf
}

func appendBytes(buf, b []byte) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(b)))
	return append(buf, b...)
}

var errCorrupt = errors.New("replica: corrupt journal entry")

func decode(data []byte) ([]op, error) {
	var ops []op
	bytesOf := func() ([]byte, bool) {
		n, w := binary.Uvarint(data)
		if w <= 0 || uint64(len(data)-w) < n {
			return nil, false
		}
		b := data[w : w+int(n)]
		data = data[w+int(n):]
		return b, true
	}
	for len(data) > 0 {
		o := op{kind: data[0]}
		data = data[1:]
		var ok bool
		if o.bucket, ok = bytesOf(); !ok {
			return nil, errCorrupt
		}
		switch o.kind {
		case opSequence:
			n, w := binary.Uvarint(data)
			if w <= 0 {
				return nil, errCorrupt
			}
			o.seq, data = n, data[w:]
		case opPut, opDelete:
			if o.key, ok = bytesOf(); !ok {
				return nil, errCorrupt
			}
			if o.kind == opPut {
				if o.value, ok = bytesOf(); !ok {
					return nil, errCorrupt
				}
			}
		default:
			return nil, fmt.Errorf("%w: op %d", errCorrupt, o.kind)
		}
		ops = append(ops, o)
	}
	return ops, nil
}

// apply replays ops in tx.
func apply(tx *bolt.Tx, ops []op) error {
	for _, o := range ops {
		b, err := tx.CreateBucketIfNotExists(o.bucket)
		if err != nil {
			return fmt.Errorf("replica: apply: bucket %s: %w", o.bucket, err)
		}
		switch o.kind {
		case opPut:
			err = b.Put(o.key, o.value)
		case opDelete:
			err = b.Delete(o.key)
		case opSequence:
			if o.seq > b.Sequence() {
				err = b.SetSequence(o.seq)
			}
		}
		if err != nil {
			return fmt.Errorf("replica: apply %s: %w", o.bucket, err)
		}
	}
	return nil
}
