package chart_test

import (
	"fmt"
	"strings"
	"time"

	"linli/web/chart"
)

func Example() {
	var b strings.Builder
	c := &chart.Bars{
		ID: "grids", Title: "Alerts per grid", Desc: "Grid 1 had the most alerts (5).", Horizontal: true,
		Series: []chart.Series{{Name: "Alarms", Color: chart.Red}},
		Bars:   []chart.Bar{{Label: "Grid 1", Values: []float64{5}}, {Label: "Grid 2", Values: []float64{2}}},
	}
	if err := c.WriteSVG(&b); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.HasPrefix(b.String(), "<svg"), strings.Count(b.String(), "data-label="))

	q := chart.Quartiles([]time.Duration{30 * time.Second, 2 * time.Minute, 4 * time.Minute, 40 * time.Minute})
	fmt.Println("median", q[2])
	// Output:
	// true 2
	// median 3m0s
}
