package indicator_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"periph.io/x/conn/v3/gpio/gpiotest"

	"linli/devices/indicator"
)

func Example() {
	// On a board: buzzer := gpioreg.ByName("GPIO22"). Here a fake pin.
	buzzer := &gpiotest.Pin{N: "GPIO22"}
	d := indicator.New(buzzer)

	// Sound the pre-alarm cadence for a while, in a goroutine we own.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	done := make(chan error)
	go func() { done <- d.Pattern(ctx, indicator.PreAlarm) }()
	if err := <-done; err != nil {
		log.Fatal(err)
	}
	fmt.Println(indicator.PreAlarm, "then", buzzer.Read())
	// Output: 1s on/1s off then Low
}
