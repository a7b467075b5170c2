package sim_test

import (
	"periph.io/x/conn/v3/i2c"

	"linli/devices/tmp117"
)

func tmp117New(b i2c.Bus, addr uint16) (*tmp117.Dev, error) {
	return tmp117.New(b, addr, nil)
}
