package ops

import (
	"net/http"
	"slices"
	"sync"
	"time"
)

// DefaultLatencyBounds are the bucket upper bounds, in seconds, of a
// request latency histogram: 1 ms to 10 s.
var DefaultLatencyBounds = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10}

// Histogram counts observed durations into buckets. Its methods are safe
// for concurrent use. The zero value is not usable: call NewHistogram.
type Histogram struct {
	mu     sync.Mutex
	bounds []float64 // seconds, ascending
	counts []uint64  // per bucket (not cumulative); len(bounds)+1, the last is +Inf
	sum    float64
	count  uint64
}

// NewHistogram returns a histogram with the given bucket upper bounds in
// seconds; nil means DefaultLatencyBounds. Bounds are sorted and
// de-duplicated; +Inf is implied.
func NewHistogram(bounds []float64) *Histogram {
	if bounds == nil {
		bounds = DefaultLatencyBounds
	}
	b := slices.Clone(bounds)
	slices.Sort(b)
	b = slices.Compact(b)
	return &Histogram{bounds: b, counts: make([]uint64, len(b)+1)}
}

// Observe adds one duration.
func (h *Histogram) Observe(d time.Duration) {
	s := d.Seconds()
	i, _ := slices.BinarySearch(h.bounds, s) // first bound ≥ s: le is inclusive
	h.mu.Lock()
	h.counts[i]++
	h.sum += s
	h.count++
	h.mu.Unlock()
}

// Snapshot returns the histogram's current state.
func (h *Histogram) Snapshot() HistogramSnapshot {
	h.mu.Lock()
	defer h.mu.Unlock()
	return HistogramSnapshot{Bounds: h.bounds, Counts: slices.Clone(h.counts[:len(h.bounds)]), Sum: h.sum, Count: h.count}
}

// HistogramSnapshot is a histogram's state, as another package may keep it
// too: Counts[i] counts the observations in (Bounds[i-1], Bounds[i]], not
// cumulated; observations above the last bound are in Count only.
type HistogramSnapshot struct {
	Bounds []float64 // upper bounds in seconds, ascending
	Counts []uint64  // per bucket; len(Counts) ≤ len(Bounds)
	Sum    float64   // seconds
	Count  uint64
}

// Instrument returns a handler that serves with next and observes each
// request's duration (until next returns) in h. For a server-sent-event
// stream that is the stream's lifetime: leave such routes out.
func Instrument(next http.Handler, h *Histogram) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		defer func() { h.Observe(time.Since(start)) }()
		next.ServeHTTP(w, r)
	})
}
