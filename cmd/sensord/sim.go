package main

import (
	"errors"
	"fmt"

	"periph.io/x/conn/v3/gpio"

	"linli/devices/sim"
)

// openSim builds the simulated board for cfg, playing the scenario
// nameOrPath, with each channel's chip where cfg puts it. The real drivers
// run on it; its chips convert instantly (the ADS1115 driver's conversion
// waits are skipped through the bus's Sleep), so any --speed works.
func openSim(cfg *Config, nameOrPath string) (*hardware, error) {
	sc, err := sim.Load(nameOrPath)
	if err != nil {
		return nil, err
	}
	b := sim.NewBoard(sc)
	adcs := map[uint16]*struct {
		in  [4]string
		apv [4]float64
	}{}
	for i := range cfg.Channels {
		ch := &cfg.Channels[i]
		switch ch.Sensor {
		case "tmp117":
			addr, _ := ch.addr()
			b.AddTMP117(addr, ch.Name)
		case "ds18b20":
			b.AddDS18B20(ch.ID, ch.Name)
		case "ads1115":
			addr, _ := ch.addr()
			a := adcs[addr]
			if a == nil {
				a = &struct {
					in  [4]string
					apv [4]float64
				}{}
				adcs[addr] = a
			}
			a.in[ch.Input], a.apv[ch.Input] = ch.Name, ch.AmpsPerVolt
		}
	}
	for addr, a := range adcs {
		for i := range a.apv {
			if a.apv[i] == 0 {
				a.apv[i] = 1 // nothing connected
			}
		}
		b.AddADS1115(addr, a.in, a.apv)
	}
	if err := b.Err(); err != nil {
		b.Close()
		return nil, fmt.Errorf("sim: scenario %s does not fit the configuration: %w", sc.Name, err)
	}
	hw := &hardware{
		bus:        b.Bus(),
		w1Root:     b.W1Root(),
		setElapsed: b.SetElapsed,
		duration:   sc.Duration,
		close:      b.Close,
		smokePins: func(ch *ChannelConfig) (gpio.PinIn, gpio.PinIn, error) {
			a, f := b.SmokePins(ch.Name)
			if a == nil {
				return nil, nil, errors.New("sim: no smoke detector on this channel")
			}
			return a, f, nil
		},
		output: func(role string) (gpio.PinOut, error) { return b.OutputPin(role), nil },
	}
	return hw, nil
}
