package tmp117_test

import (
	"fmt"
	"log"

	"periph.io/x/conn/v3/i2c/i2ctest"

	"linli/devices/tmp117"
)

func Example() {
	// On a board: b, err := i2creg.Open(""); here a playback of the chip.
	b := &i2ctest.Playback{Ops: []i2ctest.IO{
		{Addr: 0x48, W: []byte{0x0F}, R: []byte{0x01, 0x17}}, // Device_ID
		{Addr: 0x48, W: []byte{0x01, 0x02, 0x20}},            // continuous, 1 s, AVG 8
		{Addr: 0x48, W: []byte{0x00}, R: []byte{0x23, 0x40}}, // 70.5 °C
		{Addr: 0x48, W: []byte{0x01, 0x04, 0x20}},            // Halt: shutdown
	}}
	d, err := tmp117.New(b, 0x48, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		if err := d.Halt(); err != nil {
			log.Print(err)
		}
	}()
	t, err := d.Temperature()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d, t)
	// Output: TMP117{playback(72)} 70.500°C
}
