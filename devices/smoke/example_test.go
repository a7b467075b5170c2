package smoke_test

import (
	"fmt"
	"log"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"linli/devices/smoke"
)

func Example() {
	// On a board: alarm := gpioreg.ByName("GPIO17"). Here fake pins.
	alarm := &gpiotest.Pin{N: "GPIO17", EdgesChan: make(chan gpio.Level, 1)}
	fault := &gpiotest.Pin{N: "GPIO27"}
	d, err := smoke.New(alarm, fault, nil)
	if err != nil {
		log.Fatal(err)
	}
	// The fault relay is closed while the detector is healthy.
	_ = fault.Out(gpio.Low)
	st, err := d.Read()
	fmt.Printf("%+v %v\n", st, err)

	// The alarm relay closes to ground and stays closed.
	_ = alarm.Out(gpio.Low)
	st, err = d.Read()
	fmt.Printf("%+v %v\n", st, err)
	// Output:
	// {Alarm:false Fault:false} <nil>
	// {Alarm:true Fault:false} <nil>
}
