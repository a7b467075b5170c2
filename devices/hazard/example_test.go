package hazard_test

import (
	"fmt"
	"time"

	"linli/devices/hazard"
)

func Example() {
	now := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	e, err := hazard.New([]hazard.Config{{Name: "residual", Kind: hazard.Residual}},
		&hazard.Options{Device: "mb-0001", Now: func() time.Time { return now }})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, mA := range []float64{120, 130, 420, 410, 400} {
		for _, ev := range e.Observe([]hazard.Sample{{Channel: "residual", Value: mA}}) {
			fmt.Printf("%s %s→%s %g %s (set-point %g, %s)\n", ev.Channel, ev.From, ev.To, ev.Value, ev.Unit, ev.SetPoint, ev.Cause)
		}
		now = now.Add(time.Second)
	}
	fmt.Println(e.SetThresholds("residual", 200, 1500))
	// Output:
	// residual normal→alarm 410 mA (set-point 300, threshold)
	// hazard: residual: alarm: 1500 mA outside 20–1000 mA
}
