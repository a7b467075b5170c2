package store

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Reading is one stored sample.
type Reading struct {
	At      time.Time // the device clock when stored (see Options.Now)
	Channel string
	Value   float64
	Err     string // set instead of Value when the sensor failed
}

// encoding: at(8, unix ns) value(8, float64 bits) chLen(1) ch err
func encodeReading(r Reading) []byte {
	ch := r.Channel
	if len(ch) > 255 {
		ch = ch[:255]
	}
	b := make([]byte, 17+len(ch)+len(r.Err))
	binary.BigEndian.PutUint64(b, uint64(r.At.UnixNano()))
	binary.BigEndian.PutUint64(b[8:], math.Float64bits(r.Value))
	b[16] = byte(len(ch))
	copy(b[17:], ch)
	copy(b[17+len(ch):], r.Err)
	return b
}

func decodeReading(b []byte) (Reading, bool) {
	if len(b) < 17 || len(b) < 17+int(b[16]) {
		return Reading{}, false
	}
	n := int(b[16])
	return Reading{
		At:      time.Unix(0, int64(binary.BigEndian.Uint64(b))),
		Value:   math.Float64frombits(binary.BigEndian.Uint64(b[8:])),
		Channel: string(b[17 : 17+n]),
		Err:     string(b[17+n:]),
	}, true
}

func readingTime(b []byte) (time.Time, bool) {
	if len(b) < 8 {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(b))), true
}

// AddReadings stores rs through db.Batch, so that concurrent callers share
// one fsync'd transaction. Readings are not events: a crash may lose the
// last batch. The store keeps at most Options.MaxReadings readings, none
// older than Options.MaxReadingAge; the oldest are dropped first and
// counted (ReadingStats), the count surviving restarts. A zero At is set
// to Options.Now().
func (d *DB) AddReadings(rs []Reading) error {
	if len(rs) == 0 {
		return nil
	}
	now := d.opts.Now()
	enc := make([][]byte, len(rs))
	for i, r := range rs {
		if r.At.IsZero() {
			r.At = now
		}
		enc[i] = encodeReading(r)
	}
	err := d.db.Batch(func(tx *bolt.Tx) error {
		b, meta := tx.Bucket(bReadings), tx.Bucket(bMeta)
		b.FillPercent = 0.95 // keys only ever grow: pack the pages
		seq := getU64(meta, kReadSeq)
		for _, v := range enc {
			seq++
			if err := b.Put(u64(seq), v); err != nil {
				return err
			}
		}
		n := getU64(meta, kReadCount) + uint64(len(enc))
		dropped := getU64(meta, kReadDropped)
		cutoff := now.Add(-d.opts.MaxReadingAge)
		// Seek to First again after each Delete: a bbolt cursor may skip
		// the next key after a Delete.
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.First() {
			t, ok := readingTime(v)
			if n <= uint64(d.opts.MaxReadings) && ok && !t.Before(cutoff) {
				break
			}
			if err := c.Delete(); err != nil {
				return err
			}
			n--
			dropped++
		}
		if err := putU64(meta, kReadSeq, seq); err != nil {
			return err
		}
		if err := putU64(meta, kReadDropped, dropped); err != nil {
			return err
		}
		return putU64(meta, kReadCount, n)
	})
	if err != nil {
		return fmt.Errorf("store: readings: %w", err)
	}
	return nil
}

// ReadingStats returns how many readings are kept and how many were ever
// dropped by the bounds.
func (d *DB) ReadingStats() (kept int, dropped uint64, err error) {
	err = d.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bMeta)
		kept, dropped = int(getU64(meta, kReadCount)), getU64(meta, kReadDropped)
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("store: reading stats: %w", err)
	}
	return kept, dropped, nil
}

// Readings returns up to max of the newest readings (all for max <= 0),
// oldest first.
func (d *DB) Readings(max int) ([]Reading, error) {
	var out []Reading
	err := d.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bReadings).Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			if max > 0 && len(out) >= max {
				break
			}
			r, ok := decodeReading(v)
			if !ok {
				return fmt.Errorf("reading %d: %w", binary.BigEndian.Uint64(k), ErrCorrupt)
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: readings: %w", err)
	}
	slices.Reverse(out)
	return out, nil
}
