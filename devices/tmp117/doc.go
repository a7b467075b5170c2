// Package tmp117 controls a Texas Instruments TMP117 digital temperature
// sensor over I²C.
//
// The TMP117 is a ±0.1 °C (−20…50 °C), ±0.15 °C (−55…150 °C) sensor with a
// 16-bit result of 7.8125 m°C per LSB. Linli glues it to a busbar or a
// terminal in a meter box, where it measures the hot spot of a connection.
//
// # Modes
//
// By default the chip runs in continuous-conversion mode with a 1 s cycle and
// 8 conversions averaged (its power-on configuration, 0x0220): each
// Temperature call is then a single I²C transaction reading register 0x00.
// With Opts.OneShot the driver starts one conversion per call and waits for
// it (15.5 ms to 1 s depending on averaging), which keeps the chip in
// shutdown (≈250 nA) between readings.
//
// A bus that implements Sleeper (devices/sim's does) decides how long the
// one-shot waits last, so simulated reads are instant.
//
// # Failures
//
// New checks the Device_ID register (0x0F, low 12 bits 0x117) and returns
// an error wrapping devices.ErrAbsent when the address does not answer or
// holds another chip. A bus error later wraps devices.ErrNoAnswer. The
// power-on value 0x8000 (−256 °C, "no conversion yet") and anything outside
// the chip's −55…150 °C operating range wrap devices.ErrOutOfRange.
//
// # Datasheets
//
// https://www.ti.com/lit/ds/symlink/tmp117.pdf (SNOSD82E): register map in
// §7.6, configuration register in §7.6.1.2, conversion cycle table 7-7.
package tmp117
