package store

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"linli/devices/hazard"
	"linli/mqtt/contract"
)

// bareTx is one bare fsync'd bbolt transaction (one 8-byte put): the floor
// under any durable write.
func bareTx(b *testing.B, db *bolt.DB, i int) time.Duration {
	start := time.Now()
	err := db.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists([]byte("b"))
		if err != nil {
			return err
		}
		return bk.Put(u64(uint64(i)), u64(uint64(i)))
	})
	if err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// BenchmarkConfirmedToDurable measures the time from the sample that
// confirms an alarm to the event being durable (engine decision, event log,
// outbox item and channel state in one fsync'd transaction), against one
// bare fsync'd bbolt transaction measured in the same run on the same disk,
// interleaved with the measured commits so that disk noise hits both.
// Budget: ≤ 10×.
func BenchmarkConfirmedToDurable(b *testing.B) {
	const n = 40
	dir := b.TempDir()
	bdb, err := bolt.Open(filepath.Join(dir, "bare.db"), 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer bdb.Close()
	var bare time.Duration
	d := openDB(b, filepath.Join(dir, "s.db"), nil)
	// Fill the log a little so the measured commits are not into an empty file.
	for i := 0; i < 200; i++ {
		d.Commit([]contract.Event{ev("r", contract.StateNormal, contract.StateAlarm)})
	}
	now := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	e, err := hazard.New([]hazard.Config{{Name: "r", Kind: hazard.Residual}}, &hazard.Options{Device: "mb-1", Now: func() time.Time { return now }, Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	b.ResetTimer()
	for i := 0; i < n; i++ {
		e.Observe([]hazard.Sample{{Channel: "r", Value: 400}})
		now = now.Add(time.Second)
		start := time.Now()
		evs := e.Observe([]hazard.Sample{{Channel: "r", Value: 400}}) // confirms: 2 of 3
		if len(evs) != 1 {
			b.Fatalf("no alarm confirmed: %+v", evs)
		}
		if _, err := d.Commit(evs); err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		b.StopTimer()
		bare += bareTx(b, bdb, i)
		evs, _ = e.Reset("r", "")
		d.Commit(evs)
		now = now.Add(time.Second)
		b.StartTimer()
	}
	per, bare := total/n, bare/n
	b.ReportMetric(float64(per.Microseconds())/1000, "ms-to-durable")
	b.ReportMetric(float64(bare.Microseconds())/1000, "ms-bare-fsync")
	b.ReportMetric(float64(per)/float64(bare), "x-bare-fsync")
}

// BenchmarkReadingsIngest measures readings stored per second through
// AddReadings (db.Batch; 4 writers of 1000-reading batches, as an agent
// flushing its buffer would), against the same readings written one per
// fsync'd transaction (the baseline, on a smaller count).
func BenchmarkReadingsIngest(b *testing.B) {
	dir := b.TempDir()
	// Baseline: one reading per transaction.
	base := openDB(b, filepath.Join(dir, "base.db"), nil)
	const nBase = 100
	start := time.Now()
	for i := 0; i < nBase; i++ {
		err := base.db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(bReadings).Put(u64(uint64(i)), encodeReading(Reading{At: time.Now(), Channel: "busbar-l1", Value: 31.5}))
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	baseRate := nBase / time.Since(start).Seconds()

	d := openDB(b, filepath.Join(dir, "s.db"), &Options{MaxReadings: 150_000})
	const writers, batches, size = 4, 50, 1000 // 200,000 readings: the bound drops 50,000
	batch := make([]Reading, size)
	for i := range batch {
		batch[i] = Reading{Channel: fmt.Sprint("ch-", i%8), Value: float64(i)}
	}
	b.ResetTimer()
	start = time.Now()
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Go(func() {
			for i := 0; i < batches; i++ {
				if err := d.AddReadings(batch); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	rate := writers * batches * size / time.Since(start).Seconds()
	b.StopTimer()
	if kept, dropped, _ := d.ReadingStats(); kept != 150_000 || dropped != 50_000 {
		b.Errorf("kept %d dropped %d", kept, dropped)
	}
	b.ReportMetric(rate, "readings/s")
	b.ReportMetric(rate/baseRate, "x-unbatched")
}
