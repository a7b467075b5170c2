// Package devices holds what every sensor driver of Linli shares: the
// errors that tell a broken sensor apart from a reading.
//
// Drivers live in sub-packages (devices/tmp117, devices/ads1115, …), written
// on periph.io/x/conn/v3 interfaces. A sensor that is absent, stops
// answering or reads outside its physical range returns one of the errors
// below (wrapped, with the chip and the detail), never a value: the hazard
// engine turns them into a fault, never an alarm and never a silent zero.
package devices
