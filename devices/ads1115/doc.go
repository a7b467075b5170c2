// Package ads1115 reads AC currents through a Texas Instruments ADS1115
// 16-bit ADC on I²C: one current transformer (CT) per input.
//
// # Wiring
//
// Each CT has a burden resistor whose voltage is biased to a DC level inside
// the ADC range, and goes to one input AIN0…AIN3, measured single-ended
// against GND. The default range, ±4.096 V (125 µV per count), suits the
// usual bias of VDD/2 = 1.65 V on a 3.3 V board: the wave may swing ±1.65 V
// (1.16 V RMS) before it hits a rail. Choose the burden so the largest
// current stays inside that: AmpsPerVolt ≥ I_max·√2 / 1.65 V (for a 40 A
// circuit, ≥ 35 A/V). The inputs never go above VDD+0.3 V, so a wave
// clipped by the supply rail does not reach the ADC's full scale: size the
// burden with margin. Differential inputs are not used: a biased
// single-ended input needs one ADC pin per CT, so one chip serves four CTs
// (for example the load current of a phase and the residual current of the
// installation). The bias is removed in software, so its exact value does
// not matter as long as the waveform stays inside the range.
//
// # Measuring
//
// RMS switches the multiplexer to the channel's input, runs the chip in
// continuous mode at Opts.Rate and reads Opts.Window conversions, waiting one
// conversion period between reads (and 1.25 periods before the first, so a
// result of the previous input is never read). It subtracts the mean (the
// bias) and returns the root mean square scaled by Channel.AmpsPerVolt,
// minus Channel.Offset, never below zero.
//
// The default, 86 samples at 860 SPS, spans 100 ms: 5 mains periods at
// 50 Hz and 6 at 60 Hz, so the estimate does not depend on where in the
// period sampling starts. One RMS call costs 87 small I²C transactions and
// ≈100 ms of waiting (not CPU); it does not allocate.
//
// # Failures
//
// New reads the config register: nothing answering wraps devices.ErrAbsent
// (the ADS1115 has no id register). A bus error during RMS wraps
// devices.ErrNoAnswer. A conversion at positive or negative full scale
// (0x7FFF, 0x8000) means the input is saturated: an overload, a lost bias or
// an open CT. The RMS of a clipped wave would read low, so RMS wraps
// devices.ErrOutOfRange instead of returning it.
//
// A bus that implements Sleeper (devices/sim's does) decides how long the
// conversion waits last, so simulated reads are instant.
//
// Residual current is small (tens to hundreds of mA): callers that report it
// in mA convert physic.ElectricCurrent themselves.
//
// # Datasheets
//
// https://www.ti.com/lit/ds/symlink/ads1115.pdf (SBAS444D): register map
// §9.6, config register table 8, full-scale ranges table 3, data-rate
// accuracy ±10 % (§7.5).
package ads1115
