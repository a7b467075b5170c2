package chart

import (
	"io"
	"math"
	"slices"
	"time"
)

// Spread is one row of a distribution chart: a label and the durations.
type Spread struct {
	Label  string
	Values []time.Duration
	Color  string // "" = Blue
}

// Quartiles returns the minimum, lower quartile, median, upper quartile
// and maximum of vs (linear interpolation between order statistics), all
// zero when vs is empty.
func Quartiles(vs []time.Duration) (q [5]time.Duration) {
	if len(vs) == 0 {
		return q
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	at := func(p float64) time.Duration {
		x := p * float64(len(s)-1)
		i := int(math.Floor(x))
		if i+1 >= len(s) {
			return s[len(s)-1]
		}
		return s[i] + time.Duration((x-float64(i))*float64(s[i+1]-s[i]))
	}
	return [5]time.Duration{s[0], at(0.25), at(0.5), at(0.75), s[len(s)-1]}
}

// Distribution draws durations as box plots (whiskers min–max, box the
// middle half, a bar at the median) over a strip of the single values, on
// a shared logarithmic time axis: response times run from seconds to
// hours, and a linear axis would squash the fast ones into one pixel.
type Distribution struct {
	ID, Title, Desc string
	Rows            []Spread
	// TickLabel names an axis tick (e.g. "5 min" or "5分"); nil uses
	// Go's short form ("5m0s" trimmed to "5m").
	TickLabel func(time.Duration) string
	// RowLabel writes the text above a row from its label and quartiles;
	// nil writes the label only.
	RowLabel func(s Spread, q [5]time.Duration) string
	Width    float64
}

// ticks are the axis ticks the chart picks from.
var ticks = []time.Duration{
	time.Second, 10 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute, 15 * time.Minute,
	time.Hour, 4 * time.Hour, 12 * time.Hour, 24 * time.Hour, 72 * time.Hour, 7 * 24 * time.Hour,
}

// WriteSVG writes the chart as one <svg> element.
func (c *Distribution) WriteSVG(w io.Writer) error {
	s := &svgWriter{w: w}
	W := c.Width
	if W <= 0 {
		W = Width
	}
	const left, right, rowH, axisH = 8.0, 14.0, 50.0, 22.0
	H := 4 + rowH*float64(len(c.Rows)) + axisH
	s.open(c.ID, W, H, c.Title, c.Desc)

	lo, hi := time.Duration(math.MaxInt64), time.Duration(0)
	for _, r := range c.Rows {
		for _, v := range r.Values {
			lo, hi = min(lo, max(v, time.Second)), max(hi, v)
		}
	}
	if hi == 0 {
		lo, hi = time.Minute, time.Hour
	}
	// The axis runs from the tick at or below lo to the tick at or above hi.
	a, b := ticks[0], ticks[len(ticks)-1]
	for _, t := range ticks {
		if t <= lo {
			a = t
		}
	}
	for i := len(ticks) - 1; i >= 0; i-- {
		if ticks[i] >= hi {
			b = ticks[i]
		}
	}
	if b <= a {
		b = a * 10
	}
	la, lb := math.Log(a.Seconds()), math.Log(b.Seconds())
	x := func(d time.Duration) float64 {
		sec := math.Max(d.Seconds(), a.Seconds())
		return left + (math.Log(sec)-la)/(lb-la)*(W-left-right)
	}
	label := c.TickLabel
	if label == nil {
		label = shortDuration
	}
	axisY := 4 + rowH*float64(len(c.Rows))
	s.f(`<g class="axis" stroke="%s" stroke-width="1">`, Rule)
	var shown []time.Duration
	lastX := -100.0
	for _, t := range ticks {
		if t < a || t > b {
			continue
		}
		for i := range c.Rows { // under the plots, not through the row labels
			top := 4 + rowH*float64(i)
			s.f(`<line x1="%s" x2="%s" y1="%s" y2="%s"/>`, num(x(t)), num(x(t)), num(top+20), num(top+rowH))
		}
		if x(t)-lastX >= 34 { // room for a label
			shown = append(shown, t)
			lastX = x(t)
		}
	}
	s.f(`</g>`)
	for _, t := range shown {
		anchor := "middle"
		if x(t) < left+12 {
			anchor = "start"
		} else if x(t) > W-right-12 {
			anchor = "end"
		}
		s.text(x(t), axisY+15, anchor, Muted, label(t))
	}

	for i, r := range c.Rows {
		top := 4 + rowH*float64(i)
		q := Quartiles(r.Values)
		text := r.Label
		if c.RowLabel != nil {
			text = c.RowLabel(r, q)
		}
		s.f(`<g data-label="%s" data-count="%d" data-median="%s">`, esc(r.Label), len(r.Values), num(q[2].Seconds()))
		s.text(left, top+13, "start", "", fit(text, 12, W-left-right), ` font-size="12"`)
		col := r.Color
		if col == "" {
			col = Blue
		}
		mid := top + 33
		if len(r.Values) > 0 {
			// Whiskers, box, median.
			s.f(`<line x1="%s" x2="%s" y1="%s" y2="%s" stroke="%s" stroke-width="1.5"/>`, num(x(q[0])), num(x(q[4])), num(mid), num(mid), Muted)
			for _, e := range []time.Duration{q[0], q[4]} {
				s.f(`<line x1="%s" x2="%s" y1="%s" y2="%s" stroke="%s" stroke-width="1.5"/>`, num(x(e)), num(x(e)), num(mid-6), num(mid+6), Muted)
			}
			s.f(`<rect x="%s" y="%s" width="%s" height="16" rx="2" fill="%s" fill-opacity="0.18" stroke="%s" stroke-width="1.5"/>`,
				num(x(q[1])), num(mid-8), num(max(x(q[3])-x(q[1]), 1)), col, col)
			s.f(`<line class="median" x1="%s" x2="%s" y1="%s" y2="%s" stroke="%s" stroke-width="3"/>`, num(x(q[2])), num(x(q[2])), num(mid-8), num(mid+8), col)
			// The single values, spread vertically by their rank so
			// that equal values do not hide each other.
			for j, v := range r.Values {
				dy := float64(j%5-2) * 2.5
				s.f(`<circle cx="%s" cy="%s" r="2" fill="%s" fill-opacity="0.55" data-value="%s"/>`, num(x(v)), num(mid+dy), col, num(v.Seconds()))
			}
		}
		s.f(`</g>`)
	}
	s.close()
	return s.flush()
}

// shortDuration writes 30s, 5m, 1h, 3d.
func shortDuration(d time.Duration) string {
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return fmtNum(float64(d/(24*time.Hour))) + "d"
	case d >= time.Hour && d%time.Hour == 0:
		return fmtNum(float64(d/time.Hour)) + "h"
	case d >= time.Minute && d%time.Minute == 0:
		return fmtNum(float64(d/time.Minute)) + "m"
	}
	return fmtNum(d.Seconds()) + "s"
}
