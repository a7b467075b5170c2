package ops_test

import (
	"bytes"
	"io"
	"testing"
	"time"

	"linli/web/ops"
)

// BenchmarkMetrics measures one /metrics rendering over a real hub (the
// example community, every device known) with broker and web figures,
// against the baseline, timed in the same loop, of copying the same bytes
// into a buffer: x-copy is what collecting and formatting cost on top of
// writing the response at all.
func BenchmarkMetrics(b *testing.B) {
	c := startCommunity(b)
	h := ops.NewHistogram(nil)
	for i := range 1000 {
		h.Observe(time.Duration(i) * 37 * time.Microsecond)
	}
	o := ops.New(&ops.Options{
		Hub: c.h, Broker: c.srv.Stats,
		HTTP:     func() ops.HTTPStats { return ops.HTTPStats{RefusedLogins: 3, SSEClients: 40, Latency: h.Snapshot()} },
		Counters: func() map[string]uint64 { return map[string]uint64{"a": 1, "b": 2, "c": 3} },
		Logger:   nil,
	})
	var out, dst bytes.Buffer
	if err := o.WriteMetrics(&out); err != nil {
		b.Fatal(err)
	}
	// Each op is reps scrapes, so that `make bench` (-benchtime 1x) gets
	// a warm, steady figure.
	const reps = 200
	var base, render time.Duration
	b.ResetTimer()
	for range b.N {
		for range reps {
			t0 := time.Now()
			dst.Reset()
			if _, err := io.Copy(&dst, bytes.NewReader(out.Bytes())); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			dst.Reset()
			if err := o.WriteMetrics(&dst); err != nil {
				b.Fatal(err)
			}
			render += time.Since(t1)
			base += t1.Sub(t0)
		}
	}
	b.ReportMetric(float64(render.Nanoseconds())/1000/float64(b.N*reps), "µs/scrape")
	b.ReportMetric(float64(render)/float64(max(base, 1)), "x-copy")
	b.ReportMetric(float64(out.Len())/1024, "KB/scrape")
}
