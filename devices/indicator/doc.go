// Package indicator drives a buzzer or a status LED on a GPIO output, with
// the cadences a fire-alarm panel uses to tell states apart.
//
// The output is active High: High turns the buzzer or LED on (through a
// transistor or a driver; a GPIO cannot power a buzzer itself). The buzzer
// is an active one (it has its own oscillator), so on/off is all it needs.
//
// Patterns follow the usual panel conventions (GB 4717, EN 54-2 leave the
// exact cadence to the maker):
//
//   - Alarm: on continuously, until reset or silenced.
//   - PreAlarm: 1 s on, 1 s off.
//   - Fault: a 100 ms chirp every 30 s, like a smoke alarm with a low
//     battery: noticeable, not alarming.
//
// Pattern blocks and times its steps with a timer seam, so tests run
// instantly; Halt stops a running Pattern and turns the output off.
//
// # Datasheets
//
// A typical active buzzer (for example a 12 V, 85 dB(A) at 10 cm piezo)
// draws 10–30 mA: drive it with an NPN or logic-level MOSFET, with a
// flyback diode for magnetic types.
package indicator
