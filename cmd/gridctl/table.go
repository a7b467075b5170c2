package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// runeWidth is the number of terminal columns r takes: 2 for East Asian
// wide and fullwidth characters (CJK, Hangul, fullwidth forms, most
// emoji), 0 for combining marks and control characters, 1 otherwise.
func runeWidth(r rune) int {
	switch {
	case r < 0x20 || (r >= 0x7f && r < 0xa0):
		return 0
	case r < 0x300:
		return 1
	case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf):
		return 0
	case r < 0x1100:
		return 1
	}
	for _, w := range wide {
		if r >= w[0] && r <= w[1] {
			return 2
		}
	}
	return 1
}

// wide lists the East Asian Wide (W) and Fullwidth (F) ranges of Unicode's
// EastAsianWidth.txt, merged, that occur in practice.
var wide = [][2]rune{
	{0x1100, 0x115f}, {0x231a, 0x231b}, {0x2329, 0x232a}, {0x23e9, 0x23ec}, {0x23f0, 0x23f0},
	{0x23f3, 0x23f3}, {0x25fd, 0x25fe}, {0x2614, 0x2615}, {0x26a1, 0x26a1}, {0x26d4, 0x26d4},
	{0x2705, 0x2705}, {0x274c, 0x274c}, {0x2753, 0x2755}, {0x2757, 0x2757}, {0x2b1b, 0x2b1c},
	{0x2e80, 0x303e}, {0x3041, 0x33ff}, {0x3400, 0x4dbf}, {0x4e00, 0x9fff}, {0xa000, 0xa4cf},
	{0xa960, 0xa97f}, {0xac00, 0xd7a3}, {0xf900, 0xfaff}, {0xfe10, 0xfe19}, {0xfe30, 0xfe6f},
	{0xff00, 0xff60}, {0xffe0, 0xffe6}, {0x1f300, 0x1f64f}, {0x1f680, 0x1f6ff}, {0x1f900, 0x1f9ff},
	{0x20000, 0x2fffd}, {0x30000, 0x3fffd},
}

// width is the number of terminal columns s takes.
func width(s string) int {
	n := 0
	for _, r := range s {
		n += runeWidth(r)
	}
	return n
}

// clean makes text from the network safe to print: control characters
// (newlines, escape sequences) become spaces.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || (r >= 0x7f && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
}

// truncate cuts s to at most max columns, ending it with "…" when cut.
func truncate(s string, max int) string {
	if width(s) <= max {
		return s
	}
	n := 0
	for i, r := range s {
		if n+runeWidth(r) > max-1 {
			return s[:i] + "…"
		}
		n += runeWidth(r)
	}
	return s
}

// maxCell is the widest a table cell may be, in columns.
const maxCell = 40

// table writes rows under header as aligned columns separated by two
// spaces, padding by display width (text/tabwriter counts runes, which
// misaligns Chinese text). Empty cells print as "-".
type table struct {
	header []string
	rows   [][]string
}

func newTable(header ...string) *table { return &table{header: header} }

func (t *table) add(cells ...string) {
	row := make([]string, len(cells))
	for i, c := range cells {
		c = truncate(strings.TrimSpace(clean(c)), maxCell)
		if c == "" {
			c = "-"
		}
		row[i] = c
	}
	t.rows = append(t.rows, row)
}

func (t *table) write(w io.Writer) error {
	widths := make([]int, len(t.header))
	all := append([][]string{t.header}, t.rows...)
	for _, r := range all {
		for i, c := range r {
			if i < len(widths) {
				widths[i] = max(widths[i], width(c))
			}
		}
	}
	var b strings.Builder
	for _, r := range all {
		line := ""
		for i, c := range r {
			if i == len(r)-1 || i >= len(widths) {
				line += c
				break
			}
			line += c + strings.Repeat(" ", widths[i]-width(c)+2)
		}
		b.WriteString(strings.TrimRight(line, " "))
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// fields writes "name  value" lines with the values aligned.
func fields(w io.Writer, kv ...string) error {
	t := &table{}
	for i := 0; i+1 < len(kv); i += 2 {
		t.add(kv[i], kv[i+1])
	}
	t.header = t.rows[0]
	t.rows = t.rows[1:]
	return t.write(w)
}

// clock formats times for people: local time and its age.
type clock struct {
	now func() time.Time
	loc *time.Location
}

// at renders t as "15:04" today, "01-02 15:04" this year, "2006-01-02
// 15:04" otherwise, followed by its age, e.g. "08:30 (3m ago)". The zero
// time renders as "".
func (c clock) at(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	now := c.now().In(c.loc)
	lt := t.In(c.loc)
	layout := "2006-01-02 15:04"
	switch {
	case lt.Year() == now.Year() && lt.YearDay() == now.YearDay():
		layout = "15:04"
	case lt.Year() == now.Year():
		layout = "01-02 15:04"
	}
	return lt.Format(layout) + " (" + c.rel(t) + ")"
}

// rel renders t relative to now: "3m ago", "in 2h", "just now".
func (c clock) rel(t time.Time) string {
	d := c.now().Sub(t)
	switch {
	case d >= 0 && d < time.Second:
		return "just now"
	case d < 0:
		return "in " + short(-d)
	}
	return short(d) + " ago"
}

// short renders d coarsely: 12s, 3m, 2h5m, 3d.
func short(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d < 48*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return strconv.Itoa(h) + "h"
		}
		return fmt.Sprintf("%dh%dm", h, m)
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + "d"
}

// countdown renders the time left until t to the second: "4m12s".
func countdown(d time.Duration) string {
	return d.Truncate(time.Second).String()
}
