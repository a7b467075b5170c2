package ops

import (
	"bytes"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestEscaping writes label values and HELP texts that need every escape
// and reads them back with the strict parser.
func TestEscaping(t *testing.T) {
	values := []string{`plain`, `back\slash`, `"quoted"`, "line\nfeed", `\n literally`, "东苑社区 b1", `\"\\`, ""}
	var buf bytes.Buffer
	e := newExpWriter(&buf)
	e.family("linli_test", typeGauge, "Help with a \\ backslash\nand a line feed.")
	for i, v := range values {
		e.sample("linli_test", []Label{{"v", v}, {"i", string(rune('a' + i))}}, float64(i))
	}
	e.family("linli_values", typeGauge, "Special values.")
	for i, v := range []float64{math.Inf(1), math.Inf(-1), math.NaN(), 0.1, -2, 1e300, 1795770000} {
		e.sample("linli_values", []Label{{"i", string(rune('a' + i))}}, v)
	}
	if err := e.flush(); err != nil {
		t.Fatal(err)
	}
	x, err := parseExposition(buf.String())
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if got := x.families[0].help; got != "Help with a \\ backslash\nand a line feed." {
		t.Errorf("HELP read back as %q", got)
	}
	for i, v := range values {
		got, ok := x.value("linli_test", "v", v, "i", string(rune('a'+i)))
		if !ok || got != float64(i) {
			t.Errorf("label value %q: not read back (%v, %v)\n%s", v, got, ok, buf.String())
		}
	}
	if !bytes.Contains(buf.Bytes(), []byte("linli_values{i=\"g\"} 1795770000\n")) {
		t.Errorf("a whole number is not written in full:\n%s", buf.String())
	}
}

// TestParserRefuses checks that the strict parser catches what it is for.
func TestParserRefuses(t *testing.T) {
	for _, bad := range []string{
		"linli_x 1\n", // no HELP/TYPE
		"# HELP linli_x h\n# TYPE linli_x gauge\nlinli_x 1",                                                                                       // no final line feed
		"# HELP linli_x h\n# TYPE linli_x gauge\nlinli_x{a=\"b\\t\"} 1\n",                                                                         // bad escape
		"# HELP linli_x h\n# TYPE linli_x gauge\nlinli_x 1\nlinli_x 2\n",                                                                          // duplicate series
		"# HELP linli_x_total h\n# TYPE linli_x_total counter\nlinli_x_total -1\n",                                                                // negative counter
		"# HELP linli_x h\n# TYPE linli_x counter\nlinli_x 1\n",                                                                                   // counter without _total
		"# HELP linli_h h\n# TYPE linli_h histogram\nlinli_h_bucket{le=\"1\"} 2\nlinli_h_bucket{le=\"+Inf\"} 1\nlinli_h_sum 1\nlinli_h_count 1\n", // not cumulative
		"# HELP linli_h h\n# TYPE linli_h histogram\nlinli_h_bucket{le=\"+Inf\"} 2\nlinli_h_sum 1\nlinli_h_count 1\n",                             // +Inf != count
		"# HELP linli_x h\n# TYPE linli_x gauge\nlinli_x 1\n# HELP linli_y h\n# TYPE linli_y gauge\nlinli_y 1\nlinli_x 2\n",                       // family split
		"# HELP linli_x h\n# TYPE linli_x gauge\nlinli_x{1a=\"b\"} 1\n",                                                                           // bad label name
	} {
		if _, err := parseExposition(bad); err == nil {
			t.Errorf("parser accepted %q", bad)
		}
	}
}

// TestHistogramBuckets checks that a bound is inclusive (le) and that an
// observation above the last bound counts in +Inf only.
func TestHistogramBuckets(t *testing.T) {
	h := NewHistogram([]float64{0.01, 0.001, 0.01}) // unsorted, duplicated
	h.Observe(time.Millisecond)
	h.Observe(5 * time.Millisecond)
	h.Observe(time.Second)
	s := h.Snapshot()
	if len(s.Bounds) != 2 || s.Counts[0] != 1 || s.Counts[1] != 1 || s.Count != 3 {
		t.Errorf("snapshot = %+v, want bounds [0.001 0.01], counts [1 1], count 3", s)
	}
}

// TestInstrument checks that each request served through Instrument is
// observed once.
func TestInstrument(t *testing.T) {
	h := NewHistogram(nil)
	srv := Instrument(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }), h)
	for range 3 {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if rec.Code != 204 {
			t.Fatalf("status %d", rec.Code)
		}
	}
	if s := h.Snapshot(); s.Count != 3 {
		t.Errorf("%d observations, want 3", s.Count)
	}
}
