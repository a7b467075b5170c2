package outbox_test

import (
	"bytes"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"linli/mqtt/outbox"
)

// BenchmarkPut measures one durable Put (its own fsync'd bbolt
// transaction) against a bare bbolt Update putting the same bytes under a
// sequence key, interleaved so that disk noise hits both. x-baseline is
// Put's time over the bare Update's: the cost of the outbox's bookkeeping
// (counts, bound, notify) on top of the commit.
func BenchmarkPut(b *testing.B) {
	s := newStore(b, nil)
	err := s.db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists([]byte("bare"))
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	it := outbox.Item{Class: outbox.Event, Topic: "linli/v1/dev/mb-1/event", Payload: bytes.Repeat([]byte("x"), 300), QoS: 1}
	var put, bare time.Duration
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		if _, err := s.ob.Put(it); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		err := s.db.Update(func(tx *bolt.Tx) error {
			bk := tx.Bucket([]byte("bare"))
			seq, err := bk.NextSequence()
			if err != nil {
				return err
			}
			return bk.Put(u64(seq), it.Payload)
		})
		if err != nil {
			b.Fatal(err)
		}
		put += t1.Sub(t0)
		bare += time.Since(t1)
	}
	n := float64(b.N)
	b.ReportMetric(float64(put.Microseconds())/n, "µs-put")
	b.ReportMetric(float64(bare.Microseconds())/n, "µs-bare")
	b.ReportMetric(float64(put)/float64(bare), "x-baseline")
}

// BenchmarkPeek reads 1,024 items (an uplink's batch) at the tail of a
// backlog of 100,000 telemetry items through a cursor (PeekAfter) and from
// the head (Peek). Reported per item; x-baseline is PeekAfter's time over a
// bare bbolt cursor walk copying the same values.
func BenchmarkPeek(b *testing.B) {
	const backlog, batch = 100_000, 1024
	s := newStore(b, &outbox.Options{MaxTelemetry: backlog})
	payload := bytes.Repeat([]byte("r"), 400)
	for i := 0; i < backlog; i += 10_000 {
		err := s.db.Update(func(tx *bolt.Tx) error {
			for range 10_000 {
				if _, err := s.ob.PutTx(tx, outbox.Item{Class: outbox.Telemetry, Topic: "linli/v1/dev/mb-1/telemetry", Payload: payload, QoS: 1}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	cur := outbox.Cursor{Telemetry: backlog - 2*batch}
	b.Run("head", func(b *testing.B) {
		for b.Loop() {
			its, err := s.ob.Peek(batch)
			if err != nil || len(its) != batch {
				b.Fatal(len(its), err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/item")
	})
	b.Run("after", func(b *testing.B) {
		var peek, bare time.Duration
		for b.Loop() {
			t0 := time.Now()
			its, err := s.ob.PeekAfter(cur, batch)
			if err != nil || len(its) != batch {
				b.Fatal(len(its), err)
			}
			t1 := time.Now()
			var vals [][]byte
			err = s.db.View(func(tx *bolt.Tx) error {
				c := tx.Bucket([]byte("outbox.telemetry")).Cursor()
				for k, v := c.Seek(u64(cur.Telemetry + 1)); k != nil && len(vals) < batch; k, v = c.Next() {
					vals = append(vals, append([]byte(nil), v...))
				}
				return nil
			})
			if err != nil || len(vals) != batch {
				b.Fatal(len(vals), err)
			}
			peek += t1.Sub(t0)
			bare += time.Since(t1)
		}
		b.ReportMetric(float64(peek.Nanoseconds())/float64(b.N*batch), "ns/item")
		b.ReportMetric(float64(peek)/float64(bare), "x-baseline")
	})
}

// BenchmarkDelete deletes an acknowledged batch of 1,024 items in one
// transaction, as the uplink does, against a bare bbolt Update deleting as
// many keys by Bucket.Delete (x-baseline). Reported per item.
func BenchmarkDelete(b *testing.B) {
	const batch = 1024
	s := newStore(b, nil)
	payload := bytes.Repeat([]byte("r"), 400)
	fill := func(bucket []byte) {
		err := s.db.Update(func(tx *bolt.Tx) error {
			if bucket != nil {
				bk, err := tx.CreateBucketIfNotExists(bucket)
				if err != nil {
					return err
				}
				for range batch {
					seq, _ := bk.NextSequence()
					if err := bk.Put(u64(seq), payload); err != nil {
						return err
					}
				}
				return nil
			}
			for range batch {
				if _, err := s.ob.PutTx(tx, outbox.Item{Class: outbox.Telemetry, Topic: "t", Payload: payload}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	bare := []byte("bare")
	var del, base time.Duration
	round := 0
	for b.Loop() {
		b.StopTimer()
		fill(nil)
		fill(bare)
		its, err := s.ob.Peek(0)
		if err != nil || len(its) != batch {
			b.Fatal(len(its), err)
		}
		b.StartTimer()
		ours := func() {
			t0 := time.Now()
			if err := s.ob.Delete(its...); err != nil {
				b.Fatal(err)
			}
			del += time.Since(t0)
		}
		theirs := func() {
			t0 := time.Now()
			err := s.db.Update(func(tx *bolt.Tx) error {
				bk := tx.Bucket(bare)
				for seq := bk.Sequence() - batch + 1; seq <= bk.Sequence(); seq++ {
					if err := bk.Delete(u64(seq)); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			base += time.Since(t0)
		}
		// Alternate the order: the second commit of a pair runs on a
		// different file state and cache.
		if round++; round%2 == 0 {
			ours()
			theirs()
		} else {
			theirs()
			ours()
		}
	}
	b.ReportMetric(float64(del.Nanoseconds())/float64(b.N*batch), "ns/item")
	b.ReportMetric(float64(del)/float64(base), "x-baseline")
}

// BenchmarkDropLarge lowers the bound of a 20,000-item backlog to 100 and
// puts one item: 19,901 drops in one transaction. x-baseline is that Put
// over a bare bbolt Update deleting as many keys by Bucket.Delete.
func BenchmarkDropLarge(b *testing.B) {
	const backlog, bound = 20_000, 100
	payload := bytes.Repeat([]byte("r"), 100)
	var put, bare time.Duration
	round := 0
	for b.Loop() {
		b.StopTimer()
		s := newStore(b, &outbox.Options{MaxTelemetry: backlog})
		err := s.db.Update(func(tx *bolt.Tx) error {
			bk, err := tx.CreateBucket([]byte("bare"))
			if err != nil {
				return err
			}
			for i := 1; i <= backlog; i++ {
				if _, err := s.ob.PutTx(tx, outbox.Item{Class: outbox.Telemetry, Topic: "t", Payload: payload}); err != nil {
					return err
				}
				if err := bk.Put(u64(uint64(i)), payload); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		s.reopen(&outbox.Options{MaxTelemetry: bound})
		b.StartTimer()
		ours := func() {
			t0 := time.Now()
			if _, err := s.ob.Put(outbox.Item{Class: outbox.Telemetry, Topic: "t", Payload: payload}); err != nil {
				b.Fatal(err)
			}
			put += time.Since(t0)
		}
		theirs := func() {
			t0 := time.Now()
			err := s.db.Update(func(tx *bolt.Tx) error {
				bk := tx.Bucket([]byte("bare"))
				for i := 1; i <= backlog-bound+1; i++ {
					if err := bk.Delete(u64(uint64(i))); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			bare += time.Since(t0)
		}
		if round++; round%2 == 0 {
			ours()
			theirs()
		} else {
			theirs()
			ours()
		}
	}
	b.ReportMetric(float64(put.Microseconds())/float64(b.N), "µs-put")
	b.ReportMetric(float64(put)/float64(bare), "x-baseline")
}
