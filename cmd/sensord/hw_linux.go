package main

import (
	"errors"
	"fmt"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/host/v3"
)

// openHardware opens the board's I2C bus and GPIO pins through periph.
func openHardware(cfg *Config) (*hardware, error) {
	if _, err := host.Init(); err != nil {
		return nil, fmt.Errorf("periph: %w", err)
	}
	hw := &hardware{w1Root: cfg.W1Root, close: func() error { return nil }}
	needI2C := false
	for _, ch := range cfg.Channels {
		needI2C = needI2C || ch.Sensor == "tmp117" || ch.Sensor == "ads1115"
	}
	if needI2C {
		if len(i2creg.All()) == 0 {
			return nil, errors.New("no I2C bus on this machine (enable i2c on the board, or simulate with --sim meterbox-fire)")
		}
		bus, err := i2creg.Open(cfg.I2CBus)
		if err != nil {
			return nil, fmt.Errorf("i2c bus %q: %w", cfg.I2CBus, err)
		}
		hw.bus = bus
		hw.close = bus.Close
	}
	pin := func(field, name string) (gpio.PinIO, error) {
		p := gpioreg.ByName(name)
		if p == nil {
			return nil, fmt.Errorf("%s: no GPIO named %q", field, name)
		}
		return p, nil
	}
	hw.smokePins = func(ch *ChannelConfig) (gpio.PinIn, gpio.PinIn, error) {
		if ch.AlarmPin == "" {
			return nil, nil, errors.New("alarm_pin: empty")
		}
		a, err := pin("alarm_pin", ch.AlarmPin)
		if err != nil {
			return nil, nil, err
		}
		if ch.FaultPin == "" {
			return a, nil, nil
		}
		f, err := pin("fault_pin", ch.FaultPin)
		return a, f, err
	}
	hw.output = func(role string) (gpio.PinOut, error) {
		name := cfg.BuzzerPin
		if role == "led" {
			name = cfg.LEDPin
		}
		if name == "" {
			return nil, nil
		}
		return pin(role+"_pin", name)
	}
	return hw, nil
}
