package chart

import (
	"fmt"
	"html"
	"io"
	"math"
	"strconv"
	"strings"
)

// FontFamily is the charts' font stack: the system UI font, then the
// common CJK fonts of phones and desktops, then any sans-serif.
const FontFamily = `system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "WenQuanYi Micro Hei", sans-serif`

// Colours of the charts; chosen to stay apart for the common colour
// blindnesses when paired as used (red/amber with blue/green differ in
// lightness too).
const (
	Red    = "#d93025"
	Amber  = "#e37400"
	Yellow = "#f9ab00"
	Green  = "#188038"
	Blue   = "#1a73e8"
	Grey   = "#9aa0a6"
	Ink    = "#202124"
	Muted  = "#5f6368"
	Rule   = "#dadce0"
)

// Width is the default viewBox width of a chart.
const Width = 360

// svgWriter collects the SVG text and writes it in one piece.
type svgWriter struct {
	w io.Writer
	b strings.Builder
}

func (s *svgWriter) f(format string, a ...any) { fmt.Fprintf(&s.b, format, a...) }

func (s *svgWriter) flush() error {
	_, err := io.WriteString(s.w, s.b.String())
	return err
}

// open starts the <svg> element with its accessible name and description.
func (s *svgWriter) open(id string, w, h float64, title, desc string) {
	s.f(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %s %s" width="100%%" role="img" aria-labelledby="%s-t %s-d" font-family="%s" font-size="11" fill="%s">`,
		num(w), num(h), esc(id), esc(id), esc(FontFamily), Ink)
	s.f(`<title id="%s-t">%s</title><desc id="%s-d">%s</desc>`, esc(id), esc(title), esc(id), esc(desc))
}

func (s *svgWriter) close() { s.f("</svg>\n") }

// text writes a text element; anchor is start, middle or end.
func (s *svgWriter) text(x, y float64, anchor, fill, t string, extra ...string) {
	a := ""
	if anchor != "start" {
		a = ` text-anchor="` + anchor + `"`
	}
	f := ""
	if fill != "" && fill != Ink {
		f = ` fill="` + fill + `"`
	}
	s.f(`<text x="%s" y="%s"%s%s%s>%s</text>`, num(x), num(y), a, f, strings.Join(extra, ""), esc(t))
}

func esc(s string) string { return html.EscapeString(s) }

// num writes a coordinate with at most two decimals.
func num(v float64) string {
	v = math.Round(v*100) / 100
	if v == 0 {
		v = 0 // no "-0"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// textWidth estimates the width of t at font size px: CJK and other wide
// runes take a full em, narrow ones about 0.6.
func textWidth(t string, px float64) float64 {
	w := 0.0
	for _, r := range t {
		if wide(r) {
			w += px
		} else {
			w += 0.6 * px
		}
	}
	return w
}

func wide(r rune) bool {
	return r >= 0x1100 && (r <= 0x115f || (r >= 0x2e80 && r <= 0xa4cf) || (r >= 0xac00 && r <= 0xd7a3) ||
		(r >= 0xf900 && r <= 0xfaff) || (r >= 0xfe30 && r <= 0xfe4f) || (r >= 0xff00 && r <= 0xff60) || (r >= 0xffe0 && r <= 0xffe6))
}

// fit shortens t with an ellipsis until it fits max units at px.
func fit(t string, px, max float64) string {
	if textWidth(t, px) <= max {
		return t
	}
	rs := []rune(t)
	for len(rs) > 0 && textWidth(string(rs)+"…", px) > max {
		rs = rs[:len(rs)-1]
	}
	return string(rs) + "…"
}

// niceMax returns a round axis maximum ≥ v (1, 2, 2.5, 5 × 10^k) and a
// tick step dividing it in 2–5 parts.
func niceMax(v float64) (top, step float64) {
	if v <= 0 {
		return 1, 1
	}
	if v <= 4 && v == math.Trunc(v) {
		return math.Max(v, 1), 1 // small counts: one tick per unit
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= v {
			top = m * p
			break
		}
	}
	for _, parts := range []float64{4, 5, 2, 3} {
		st := top / parts
		if st == math.Trunc(st) || st < 1 && st*100 == math.Trunc(st*100) {
			return top, st
		}
	}
	return top, top / 2
}
