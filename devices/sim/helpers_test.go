package sim_test

import (
	"linli/devices/tmp117"
	"periph.io/x/conn/v3/i2c"
)

func tmp117New(b i2c.Bus, addr uint16) (*tmp117.Dev, error) {
	return tmp117.New(b, addr, nil)
}
