package devices

import "errors"

// Sensor failures. Drivers wrap them: fmt.Errorf("tmp117: read: %w: %w", devices.ErrNoAnswer, err).
var (
	// ErrAbsent means the sensor was not found at start (wrong id, nothing
	// at the address, no such 1-Wire device).
	ErrAbsent = errors.New("sensor absent")
	// ErrNoAnswer means the sensor was there but stopped answering (bus
	// error, NACK, CRC failure, timeout).
	ErrNoAnswer = errors.New("sensor not answering")
	// ErrOutOfRange means the sensor answered with a value outside its
	// physical range (e.g. a DS18B20's 85 °C power-on value, -127 °C, an ADC
	// at full scale on a current transformer).
	ErrOutOfRange = errors.New("reading out of physical range")
	// ErrWiring means a supervised line reports a broken or shorted wire.
	ErrWiring = errors.New("sensor wiring fault")
)
