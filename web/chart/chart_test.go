package chart

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

func TestNiceMax(t *testing.T) {
	for _, tt := range []struct{ in, top, step float64 }{
		{0, 1, 1}, {1, 1, 1}, {3, 3, 1}, {4, 4, 1}, {7, 10, 2.5}, {17, 20, 5}, {38, 50, 12.5}, {120, 200, 50}, {0.3, 0.5, 0.125},
	} {
		top, step := niceMax(tt.in)
		if top < tt.in || top != tt.top {
			t.Errorf("niceMax(%v) top = %v, want %v", tt.in, top, tt.top)
		}
		if parts := top / step; parts < 1 || parts > 5 {
			t.Errorf("niceMax(%v) step %v divides %v in %v parts", tt.in, step, top, parts)
		}
	}
}

func TestQuartiles(t *testing.T) {
	s := time.Second
	q := Quartiles([]time.Duration{9 * s, 1 * s, 5 * s, 3 * s, 7 * s})
	if q != [5]time.Duration{1 * s, 3 * s, 5 * s, 7 * s, 9 * s} {
		t.Errorf("Quartiles = %v", q)
	}
	if q := Quartiles(nil); q != [5]time.Duration{} {
		t.Errorf("Quartiles(nil) = %v", q)
	}
	if q := Quartiles([]time.Duration{2 * s}); q[0] != 2*s || q[2] != 2*s || q[4] != 2*s {
		t.Errorf("one value: %v", q)
	}
}

func TestFit(t *testing.T) {
	if got := fit("东苑社区·第一网格", 12, 200); got != "东苑社区·第一网格" {
		t.Errorf("fit shortened a label that fits: %q", got)
	}
	got := fit("东苑社区·第一网格·很长的名字", 12, 60)
	if !strings.HasSuffix(got, "…") || textWidth(got, 12) > 60 {
		t.Errorf("fit = %q (%.0f units), want ≤ 60 with an ellipsis", got, textWidth(got, 12))
	}
}

// TestEscapesAndParses checks that labels with markup characters come out
// escaped and the SVG stays well-formed XML.
func TestEscapesAndParses(t *testing.T) {
	var b bytes.Buffer
	c := &Bars{ID: "x", Title: `<script>"&'`, Desc: "a & b", Horizontal: true,
		Bars: []Bar{{Label: `<b>&"`, Values: []float64{2}}, {Label: "", Values: nil}}}
	if err := c.WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	d := &Distribution{ID: "y", Title: "t", Desc: "d", Rows: []Spread{{Label: "<&>", Values: []time.Duration{time.Second, time.Hour}}, {Label: "none"}}}
	if err := d.WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "<script>") || strings.Contains(b.String(), "<b>") {
		t.Errorf("markup not escaped:\n%s", b.String())
	}
	dec := xml.NewDecoder(&b)
	for {
		_, err := dec.Token()
		if err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("not well-formed: %v", err)
			}
			break
		}
	}
}

// TestVerticalProportional checks bar heights against values, stacked.
func TestVerticalProportional(t *testing.T) {
	var b bytes.Buffer
	c := &Bars{ID: "v", Series: []Series{{Name: "a", Color: Red}, {Name: "b", Color: Amber}},
		Bars: []Bar{{Label: "1", Values: []float64{1, 1}}, {Label: "2", Values: []float64{4, 0}}, {Label: "3"}}}
	if err := c.WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	// top 4 → plot 140 units: 35 per unit.
	for _, want := range []string{`height="35" fill="#d93025" data-value="1"`, `height="35" fill="#e37400" data-value="1"`, `height="140" fill="#d93025" data-value="4"`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %s in\n%s", want, b.String())
		}
	}
}
