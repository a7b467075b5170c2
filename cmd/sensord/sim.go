package main

import (
	"errors"
	"fmt"
	"time"

	"periph.io/x/conn/v3/gpio"

	"linli/devices"
	"linli/devices/agent"
	"linli/devices/sim"
)

// adcReadTime is about what one ADS1115 RMS reading blocks for (86
// conversions at 860 SPS, slept in real time by the driver).
const adcReadTime = 120 * time.Millisecond

// openSim builds the simulated board for cfg, playing the scenario
// nameOrPath, with each channel's chip where cfg puts it. speed is the
// clock's speed-up: when the ADS1115 driver's real-time conversion waits
// would not fit in one accelerated sampling period, current channels read
// the scenario directly (see doc.go).
func openSim(cfg *Config, nameOrPath string, speed float64) (*hardware, error) {
	sc, err := sim.Load(nameOrPath)
	if err != nil {
		return nil, err
	}
	b := sim.NewBoard(sc)
	adcs := map[uint16]*struct {
		in  [4]string
		apv [4]float64
	}{}
	nADC := 0
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
			nADC++
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
	period := time.Duration(float64(time.Duration(cfg.Interval)) / speed)
	if time.Duration(nADC)*adcReadTime > period {
		hw.direct = func(ch *ChannelConfig) agent.Sensor {
			return agent.SensorFunc(func() (float64, error) {
				v, st, ok := sc.At(ch.Name, b.Elapsed())
				switch {
				case !ok:
					return 0, fmt.Errorf("sim: %s: %w", ch.Name, devices.ErrAbsent)
				case st == sim.Disconnected:
					return 0, fmt.Errorf("sim: %s: %w", ch.Name, devices.ErrNoAnswer)
				case st == sim.OutOfRange:
					return 0, fmt.Errorf("sim: %s: %w", ch.Name, devices.ErrOutOfRange)
				}
				return max(v, 0), nil
			})
		}
	}
	return hw, nil
}
