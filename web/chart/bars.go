package chart

import (
	"io"
	"strconv"
)

// Series names one stacked part of each bar and its colour.
type Series struct {
	Name  string
	Color string
}

// Bar is one bar: a label and a value per series (stacked in order).
type Bar struct {
	Label  string
	Values []float64
	// Note, if set, replaces the total written beside a horizontal bar.
	Note string
}

// Total is the sum of the bar's values.
func (b Bar) Total() float64 {
	t := 0.0
	for _, v := range b.Values {
		t += v
	}
	return t
}

// Bars is a bar chart. With one series no legend is drawn.
type Bars struct {
	ID    string // unique on the page; prefixes the ids of <title> and <desc>
	Title string // accessible name
	Desc  string // accessible description: what the chart shows, in words
	// Horizontal draws one row per bar with its label on the left (long
	// labels, few bars); otherwise columns with labels below (days).
	Horizontal bool
	Series     []Series
	Bars       []Bar
	// LabelEvery labels every n-th column of a vertical chart (and the
	// last); 0 or 1 labels all.
	LabelEvery int
	// Width is the viewBox width; 0 means Width.
	Width float64
}

// WriteSVG writes the chart as one <svg> element.
func (c *Bars) WriteSVG(w io.Writer) error {
	s := &svgWriter{w: w}
	if c.Horizontal {
		c.horizontal(s)
	} else {
		c.vertical(s)
	}
	return s.flush()
}

func (c *Bars) width() float64 {
	if c.Width > 0 {
		return c.Width
	}
	return Width
}

func (c *Bars) max() float64 {
	m := 0.0
	for _, b := range c.Bars {
		m = max(m, b.Total())
	}
	return m
}

// legend draws the series' swatches in a row at y; it returns the height
// used.
func (c *Bars) legend(s *svgWriter, x, y float64) float64 {
	if len(c.Series) < 2 {
		return 0
	}
	for _, se := range c.Series {
		s.f(`<rect x="%s" y="%s" width="10" height="10" rx="2" fill="%s"/>`, num(x), num(y-9), se.Color)
		s.text(x+14, y, "start", Muted, se.Name)
		x += 14 + textWidth(se.Name, 11) + 14
	}
	return 18
}

func (c *Bars) color(i int) string {
	if i < len(c.Series) && c.Series[i].Color != "" {
		return c.Series[i].Color
	}
	return Blue
}

func (c *Bars) vertical(s *svgWriter) {
	W := c.width()
	const left, right, bottom, plotH = 30.0, 8.0, 22.0, 140.0
	top := 10.0
	if len(c.Series) > 1 {
		top += 18
	}
	H := top + plotH + bottom
	s.open(c.ID, W, H, c.Title, c.Desc)
	c.legend(s, left, 12)
	yMax, step := niceMax(c.max())
	y := func(v float64) float64 { return top + plotH - v/yMax*plotH }
	s.f(`<g class="axis" stroke="%s" stroke-width="1">`, Rule)
	for v := 0.0; v <= yMax+step/2; v += step {
		s.f(`<line x1="%s" x2="%s" y1="%s" y2="%s"/>`, num(left), num(W-right), num(y(v)), num(y(v)))
	}
	s.f(`</g>`)
	for v := 0.0; v <= yMax+step/2; v += step {
		s.text(left-4, y(v)+4, "end", Muted, fmtNum(v))
	}
	n := len(c.Bars)
	if n == 0 {
		s.close()
		return
	}
	slot := (W - left - right) / float64(n)
	bw := slot * 0.72
	every := max(c.LabelEvery, 1)
	for i, b := range c.Bars {
		x := left + float64(i)*slot + (slot-bw)/2
		s.f(`<g data-label="%s" data-value="%s"><title>%s: %s</title>`, esc(b.Label), fmtNum(b.Total()), esc(b.Label), fmtNum(b.Total()))
		base := 0.0
		for j, v := range b.Values {
			if v <= 0 {
				continue
			}
			s.f(`<rect x="%s" y="%s" width="%s" height="%s" fill="%s" data-value="%s"/>`,
				num(x), num(y(base+v)), num(bw), num(y(base)-y(base+v)), c.color(j), fmtNum(v))
			base += v
		}
		s.f(`</g>`)
		if i%every == 0 || i == n-1 && (n-1)%every > every/2 {
			s.text(x+bw/2, top+plotH+14, "middle", Muted, b.Label)
		}
	}
	s.close()
}

func (c *Bars) horizontal(s *svgWriter) {
	W := c.width()
	const rowH, barH, valueW = 24.0, 14.0, 40.0
	// The label column fits the longest label, within a quarter and half
	// of the width; longer labels are shortened with an ellipsis.
	labelW := W / 4
	for _, b := range c.Bars {
		labelW = max(labelW, textWidth(b.Label, 12)+16)
	}
	labelW = min(labelW, W/2)
	top := 6.0
	if len(c.Series) > 1 {
		top += 20
	}
	H := top + rowH*float64(len(c.Bars)) + 4
	s.open(c.ID, W, H, c.Title, c.Desc)
	c.legend(s, 4, 14)
	m := c.max()
	if m <= 0 {
		m = 1
	}
	plotW := W - labelW - valueW
	for i, b := range c.Bars {
		yc := top + rowH*float64(i) + rowH/2
		s.f(`<g data-label="%s" data-value="%s"><title>%s: %s</title>`, esc(b.Label), fmtNum(b.Total()), esc(b.Label), fmtNum(b.Total()))
		s.text(labelW-6, yc+4, "end", "", fit(b.Label, 12, labelW-10), ` font-size="12"`)
		s.f(`<rect x="%s" y="%s" width="%s" height="%s" fill="#f1f3f4"/>`, num(labelW), num(yc-barH/2), num(plotW), num(barH))
		x := labelW
		for j, v := range b.Values {
			if v <= 0 {
				continue
			}
			bw := v / m * plotW
			s.f(`<rect x="%s" y="%s" width="%s" height="%s" fill="%s" data-value="%s"/>`, num(x), num(yc-barH/2), num(bw), num(barH), c.color(j), fmtNum(v))
			x += bw
		}
		note := b.Note
		if note == "" {
			note = fmtNum(b.Total())
		}
		s.text(x+4, yc+4, "start", Muted, note)
		s.f(`</g>`)
	}
	s.close()
}

// fmtNum writes a count without decimals and a fraction with one.
func fmtNum(v float64) string {
	if v == float64(int64(v)) {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}
