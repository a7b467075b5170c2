package outbox

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// FuzzDecode checks the stored-item decoder: it never panics, refuses
// with ErrCorrupt, and what it accepts is exactly what encode writes
// (a valid QoS, a topic, the payload), so that a flipped bit is never
// sent as a different message.
func FuzzDecode(f *testing.F) {
	f.Add(u64(1), encode(Item{Topic: "linli/v1/dev/mb-0001/event", Payload: []byte(`{"v":1}`), QoS: 1}))
	f.Add(u64(7), encode(Item{Topic: "t", QoS: 0, Retain: true}))
	f.Add(u64(7), []byte{3, 0, 1, 't'})
	f.Add(u64(7), []byte{8, 0, 1, 't'})
	f.Add(u64(7), []byte{1, 0xff, 0xff, 't'})
	f.Add([]byte{1}, []byte{1, 0, 1, 't'})
	f.Fuzz(func(t *testing.T, k, v []byte) {
		for _, class := range []Class{Event, Telemetry} {
			var d decoder
			it, err := d.decode(class, k, v)
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("decode(%x, %x) error %v does not wrap ErrCorrupt", k, v, err)
				}
				continue
			}
			switch {
			case len(k) != 8 || it.Seq != binaryU64(k) || it.Class != class:
				t.Fatalf("decode(%x, %x) accepted key %x as %s %d", k, v, k, it.Class, it.Seq)
			case it.QoS > 2:
				t.Fatalf("decode(%x, %x) accepted QoS %d", k, v, it.QoS)
			case it.Topic == "":
				t.Fatalf("decode(%x, %x) accepted an empty topic", k, v)
			case !bytes.Equal(encode(it), v):
				t.Fatalf("decode(%x, %x) = %+v, which encodes as %x", k, v, it, encode(it))
			}
		}
	})
}

func binaryU64(k []byte) uint64 {
	var n uint64
	for _, b := range k {
		n = n<<8 | uint64(b)
	}
	return n
}

// FuzzPeek stores an arbitrary key and value in each class's bucket, as
// a torn write or a flipped bit on the device's flash would, beside a good
// event. Peek must never panic or fail; it returns the good event, returns
// a garbage item only if it decodes to exactly its bytes, and sets every
// other one aside in the corrupt bucket (counted once), after which the
// queue is clean.
func FuzzPeek(f *testing.F) {
	good := encode(Item{Topic: "linli/v1/dev/mb-0001/event", Payload: []byte(`{"v":1}`), QoS: 1})
	f.Add(u64(1000), good, u64(5), encode(Item{Topic: "tele", Payload: []byte("x")}))
	f.Add(u64(1000), []byte{}, []byte("short"), []byte{1, 0, 9, 't'})
	f.Add(u64(1000), []byte{3, 0, 1, 't'}, u64(5), []byte{0xff, 0, 1, 't'})
	f.Add(u64(1000), []byte{0, 0, 0}, []byte{}, []byte{0})
	db, err := bolt.Open(filepath.Join(f.TempDir(), "ob.db"), 0o600, &bolt.Options{Timeout: time.Second, NoSync: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	n := 0
	f.Fuzz(func(t *testing.T, ek, ev, tk, tv []byte) {
		n++
		prefix := fmt.Sprintf("f%d", n)
		o, err := Open(db, &Options{Prefix: prefix, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Update(func(tx *bolt.Tx) error {
			for _, b := range [][]byte{o.bucket[0], o.bucket[1], o.meta, o.corrupt} {
				tx.DeleteBucket(b)
			}
			return nil
		})
		if _, err := o.Put(Item{Class: Event, Topic: "linli/v1/dev/mb-0001/event", Payload: []byte(`{"v":1}`), QoS: 1}); err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(ek, u64(1)) || len(ek) == 0 || len(tk) == 0 || len(ek) > bolt.MaxKeySize || len(tk) > bolt.MaxKeySize {
			return // would replace the good event, or bbolt refuses the key
		}
		err = db.Update(func(tx *bolt.Tx) error {
			if err := tx.Bucket(o.bucket[Event]).Put(ek, ev); err != nil {
				return err
			}
			return tx.Bucket(o.bucket[Telemetry]).Put(tk, tv)
		})
		if err != nil {
			t.Fatal(err)
		}
		var d decoder
		_, eErr := d.decode(Event, ek, ev)
		_, tErr := d.decode(Telemetry, tk, tv)
		wantBad := 0
		for _, e := range []error{eErr, tErr} {
			if e != nil {
				wantBad++
			}
		}

		items, err := o.Peek(0)
		if err != nil {
			t.Fatalf("Peek: %v", err)
		}
		if len(items) != 3-wantBad {
			t.Fatalf("Peek returned %d items, want %d (event %v, telemetry %v)", len(items), 3-wantBad, eErr, tErr)
		}
		var found bool
		for _, it := range items {
			if it.Class == Event && it.Seq == 1 {
				found = true
			}
			if it.QoS > 2 || it.Topic == "" {
				t.Fatalf("Peek returned %+v", it)
			}
		}
		if !found {
			t.Fatalf("Peek lost the good event: %+v", items)
		}
		st, err := o.Stats()
		if err != nil {
			t.Fatal(err)
		}
		// Items written behind Put's back are not in the counts until
		// setAside counts the buckets again.
		if st.Corrupt != uint64(wantBad) || (wantBad > 0 && st.Depth() != len(items)) {
			t.Fatalf("Stats = %+v after %d corrupt items set aside, %d left", st, wantBad, len(items))
		}
		var aside int
		db.View(func(tx *bolt.Tx) error {
			return tx.Bucket(o.corrupt).ForEach(func(k, v []byte) error {
				aside++
				if (k[0] == byte(Event) && !bytes.Equal(v, ev)) || (k[0] == byte(Telemetry) && !bytes.Equal(v, tv)) {
					t.Errorf("corrupt bucket holds %x under %x", v, k)
				}
				return nil
			})
		})
		if aside != wantBad {
			t.Fatalf("%d items set aside, want %d", aside, wantBad)
		}
		again, err := o.Peek(0)
		if err != nil || len(again) != len(items) {
			t.Fatalf("second Peek = %d items, %v; want %d", len(again), err, len(items))
		}
		if st2, _ := o.Stats(); st2.Corrupt != st.Corrupt {
			t.Fatalf("second Peek set aside more: %+v", st2)
		}
	})
}
