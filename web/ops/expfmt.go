package ops

import (
	"bufio"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Metric types of the exposition format.
const (
	typeCounter   = "counter"
	typeGauge     = "gauge"
	typeHistogram = "histogram"
)

// Label is one label pair of a series.
type Label struct{ Name, Value string }

// expWriter writes the text exposition format 0.0.4. The first write error
// sticks; later writes do nothing.
type expWriter struct {
	w   *bufio.Writer
	err error
}

func newExpWriter(w io.Writer) *expWriter { return &expWriter{w: bufio.NewWriterSize(w, 8<<10)} }

func (e *expWriter) str(s string) {
	if e.err == nil {
		_, e.err = e.w.WriteString(s)
	}
}

// family starts a metric family: its HELP and TYPE lines.
func (e *expWriter) family(name, typ, help string) {
	e.str("# HELP " + name + " " + escapeHelp(help) + "\n")
	e.str("# TYPE " + name + " " + typ + "\n")
}

// sample writes one series line.
func (e *expWriter) sample(name string, labels []Label, v float64) {
	e.str(name)
	if len(labels) > 0 {
		e.str("{")
		for i, l := range labels {
			if i > 0 {
				e.str(",")
			}
			e.str(l.Name + `="` + escapeLabel(l.Value) + `"`)
		}
		e.str("}")
	}
	e.str(" " + formatValue(v) + "\n")
}

// histogram writes the series of one histogram: cumulative buckets, the
// +Inf bucket, _sum and _count.
func (e *expWriter) histogram(name string, labels []Label, h HistogramSnapshot) {
	var cum uint64
	for i, b := range h.Bounds {
		if i < len(h.Counts) {
			cum += h.Counts[i]
		}
		e.sample(name+"_bucket", withLabel(labels, "le", formatValue(b)), float64(cum))
	}
	e.sample(name+"_bucket", withLabel(labels, "le", "+Inf"), float64(h.Count))
	e.sample(name+"_sum", labels, h.Sum)
	e.sample(name+"_count", labels, float64(h.Count))
}

func (e *expWriter) flush() error {
	if e.err == nil {
		e.err = e.w.Flush()
	}
	return e.err
}

func withLabel(ls []Label, name, value string) []Label {
	return append(slices.Clip(ls), Label{name, value})
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

// escapeHelp escapes a HELP text: backslash and line feed.
func escapeHelp(s string) string { return helpEscaper.Replace(s) }

// escapeLabel escapes a label value: backslash, double quote and line feed.
func escapeLabel(s string) string { return labelEscaper.Replace(s) }

// formatValue writes a sample value as Go's ParseFloat reads it back, with
// the format's spellings of the infinities and NaN.
func formatValue(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatInt(int64(v), 10) // counts and times in full, not 1.79577e+09
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// metricName turns s into a valid metric name part: [a-zA-Z0-9_:], not
// starting with a digit.
func metricName(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '_', r == ':':
			b.WriteRune(r)
		case r >= '0' && r <= '9':
			if i == 0 {
				b.WriteByte('_')
			}
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}
