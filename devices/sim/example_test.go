package sim_test

import (
	"fmt"
	"log"
	"time"

	"periph.io/x/conn/v3/physic"

	"linli/devices/ads1115"
	"linli/devices/sim"
	"linli/devices/tmp117"
)

func Example() {
	sc, err := sim.Load("meterbox-fire")
	if err != nil {
		log.Fatal(err)
	}
	b := sim.NewBoard(sc)
	defer b.Close()
	b.AddTMP117(0x49, "terminal-n")
	b.AddADS1115(0x4A, [4]string{"load-l1", "residual"}, [4]float64{30, 1})
	if err := b.Err(); err != nil {
		log.Fatal(err)
	}

	// The same drivers as on a board, on the simulated bus.
	terminal, err := tmp117.New(b.Bus(), 0x49, nil)
	if err != nil {
		log.Fatal(err)
	}
	adc, err := ads1115.New(b.Bus(), 0x4A, nil)
	if err != nil {
		log.Fatal(err)
	}
	residual := ads1115.Channel{Input: 1, AmpsPerVolt: 1}

	for _, at := range []time.Duration{0, 6 * time.Minute, 8 * time.Minute} {
		b.SetElapsed(at)
		t, err := terminal.Temperature()
		if err != nil {
			log.Fatal(err)
		}
		i, err := adc.RMS(residual)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%v: terminal-n %.1f°C, residual %.0f mA\n", at, t.Celsius(), float64(i)/float64(physic.MilliAmpere))
	}
	// Output:
	// 0s: terminal-n 35.0°C, residual 80 mA
	// 6m0s: terminal-n 75.8°C, residual 360 mA
	// 8m0s: terminal-n 91.2°C, residual 450 mA
}
