package kiosk

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"linli/mqtt/contract"
	"linli/mqtt/outbox"
)

// BenchmarkFileReport measures filing one report (number, record and
// outbox item in one fsynced bbolt transaction) against the baseline of a
// bare outbox.Put of the same payload, and reports the ratio as
// x-baseline: the cost of the domain on top of the unavoidable write.
func BenchmarkFileReport(b *testing.B) {
	open := func(b *testing.B) (*bolt.DB, *outbox.Outbox) {
		db, err := bolt.Open(filepath.Join(b.TempDir(), "k.db"), 0o600, &bolt.Options{Timeout: time.Second})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			if err := db.Close(); err != nil {
				b.Error(err)
			}
		})
		ob, err := outbox.Open(db, nil)
		if err != nil {
			b.Fatal(err)
		}
		return db, ob
	}
	d := Draft{Category: "leak", Location: contract.Location{Building: "3", Unit: "1", Door: "1204"}, Phrases: []string{"水管漏水"}, Phone: "13812345678", Consent: true}
	const n = 200
	db, ob := open(b)
	s, err := Open(db, ob, &Options{Device: "kiosk-7", Code: "K7", Community: "hl"})
	if err != nil {
		b.Fatal(err)
	}
	_, bob := open(b)
	num, err := s.FileReport(context.Background(), d)
	if err != nil {
		b.Fatal(err)
	}
	payload := contract.MustEncode(&contract.Report{Number: num, Device: "kiosk-7", Category: "leak", Urgency: "urgent", Phone: d.Phone, Consent: true})
	var base, dom time.Duration
	b.ResetTimer()
	for b.Loop() {
		// Interleaved one by one, so that disk drift hits both alike.
		for range n {
			t := time.Now()
			if _, err := bob.Put(outbox.Item{Class: outbox.Event, Topic: "linli/v1/dev/kiosk-7/report", Payload: payload, QoS: 1}); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			if _, err := s.FileReport(context.Background(), d); err != nil {
				b.Fatal(err)
			}
			base += t1.Sub(t)
			dom += time.Since(t1)
		}
	}
	b.ReportMetric(float64(dom)/float64(base), "x-baseline")
	b.ReportMetric(float64(dom.Nanoseconds())/float64(b.N*n), "ns/report")
}
