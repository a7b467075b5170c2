package ads1115_test

import (
	"fmt"
	"log"

	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"

	"linli/devices/ads1115"
)

func Example() {
	// On a board: b, err := i2creg.Open(""); here a playback of the chip
	// seeing a square wave of ±1000 counts (±125 mV) around a 1.65 V bias
	// on AIN1.
	ops := []i2ctest.IO{
		{Addr: 0x4A, W: []byte{0x01}, R: []byte{0x85, 0x83}}, // probe: config reset value
		{Addr: 0x4A, W: []byte{0x01, 0x52, 0xE3}},            // AIN1, ±4.096 V, continuous, 860 SPS
	}
	for i := range 86 {
		v := 13200 + 1000 - 2000*(i%2)
		ops = append(ops, i2ctest.IO{Addr: 0x4A, W: []byte{0x00}, R: []byte{byte(v >> 8), byte(v)}})
	}
	b := &i2ctest.Playback{Ops: ops}

	d, err := ads1115.New(b, 0x4A, nil)
	if err != nil {
		log.Fatal(err)
	}
	// A residual-current CT: 2 A per volt at the input.
	residual := ads1115.Channel{Input: 1, AmpsPerVolt: 2}
	i, err := d.RMS(residual)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s = %.0f mA\n", i, float64(i)/float64(physic.MilliAmpere))
	// Output: 250mA = 250 mA
}
