// Package sim simulates Linli's sensor board beneath the driver interfaces:
// a fake I²C bus with register-level TMP117 and ADS1115 chips, a fake w1
// sysfs tree with DS18B20 files, and GPIO pins for the smoke detector and the
// outputs. sensord runs the same drivers (devices/tmp117, ads1115, ds18b20,
// smoke, indicator) on it as on a board; only the values come from a
// Scenario, at the scenario time set with Board.SetElapsed.
//
// # Scenario files
//
// A scenario is a JSON object. Durations are Go duration strings ("90s",
// "1m30s"). Unknown fields are errors, and every error names the field
// (e.g. "channels.terminal-n.ramps[0].to: 4m0s is not after from 5m0s").
//
//	{
//	  "name": "meterbox-fire",        // optional for a file: defaults to its base name
//	  "description": "…",             // optional
//	  "duration": "10m",              // required, > 0: how long the scenario is meant to run
//	  "channels": {                   // required, at least one; keyed by channel name
//	    "terminal-n": {
//	      "kind": "temperature",      // required: temperature | load | residual | smoke
//	      "base": 35,                 // required: the value at t=0
//	      "steps":  [{"at": "1m", "value": 40}],                     // jump, then hold
//	      "ramps":  [{"from": "2m", "to": "5m", "value": 72}],       // linear, then hold
//	      "sines":  [{"amplitude": 4, "period": "2m", "phase": "0s"}], // added on top
//	      "noise":  {"sd": 1.5, "every": "1s", "seed": 7},             // added on top
//	      "glitches": [{"at": "7m", "for": "1s", "value": 120}],     // replaces the value
//	      "disconnects":  [{"from": "8m", "to": "8m1s"}],            // sensor does not answer
//	      "out_of_range": [{"from": "9m", "to": "9m1s"}]             // sensor answers nonsense
//	    }
//	  }
//	}
//
// The value of a channel at time t is computed as follows:
//
//  1. Inside a disconnects interval [from, to) the sensor does not answer;
//     inside an out_of_range interval it answers with an impossible value.
//  2. Inside a glitch [at, at+for) the value is the glitch's value. "for"
//     defaults to 1s: one sample at sensord's 1 Hz.
//  3. Otherwise start from base and apply steps and ramps in time order: a
//     step sets the value from "at" on; a ramp goes linearly from the value
//     it starts at to "value" between "from" and "to", and holds it after.
//     Ramps must not overlap another ramp or a step.
//  4. Add every sine: amplitude·sin(2π(t+phase)/period).
//  5. Add the noise: Gaussian, standard deviation sd (so about ±2·sd in
//     19 samples of 20), a new value every "every" (default 1s, one per
//     sample at sensord's 1 Hz). It comes from a PCG generator seeded with
//     seed (default 0), the channel's name and the time step, so it is a
//     pure function of the time: every read of the same step, and every
//     run, sees the same value, and two channels never share their noise.
//
// Noise is what a real front end adds: about ±20 mA on a residual-current
// CT at 1 Hz ("sd": 10), a few kelvin on a terminal under a switching load.
// cmd/sensord/testdata/noisy-creep.json creeps every kind through its
// set-points with such noise.
//
// # Kinds and units
//
// The kind says the unit of every value in the channel, the same units the
// hazard engine and the MQTT contract use:
//
//	kind         unit   simulated by              driver returns
//	temperature  °C     TMP117 result register,   physic.Temperature
//	                    DS18B20 w1_slave file
//	load         A      ADS1115 input, 50 Hz      physic.ElectricCurrent (RMS)
//	residual     mA     ADS1115 input, 50 Hz      physic.ElectricCurrent (RMS):
//	                                              callers divide by physic.MilliAmpere
//	smoke        —      alarm relay: value ≥ 1 closes it
//
// How each fake answers in the three states:
//
//	             ok                         disconnected          out_of_range
//	TMP117       value, 7.8125 m°C steps    NACK (ErrNoAnswer)    0x8000 (ErrOutOfRange)
//	ADS1115      sine around 1.65 V whose   NACK on that input's  0x7FFF, saturated
//	             RMS is the value           conversions           (ErrOutOfRange)
//	DS18B20      scratchpad, 1/16 °C steps  "crc=.. NO"           85000, power-on
//	smoke        alarm contact closed ≥ 1   fault contact opens   fault contact opens
//
// A chip whose channel is missing from the scenario is not fitted: the I²C
// address does not answer, no w1 directory is made, the smoke fault line is
// open. Board.Err reports such setup problems.
//
// # Simulated front end
//
// Each ADS1115 input sees CTBias (1.65 V) plus √2·(I/AmpsPerVolt)·sin(2π·50·k/rate),
// where k counts conversions and rate is the data rate the driver
// configured. With the driver's default window (86 samples at 860 SPS, five
// whole periods) the RMS it reads equals the scenario value up to
// quantization. The smoke contacts switch their line against the pull the
// driver asks for, so any polarity the driver is configured for works.
//
// The fake bus and smoke pins implement the drivers' Sleeper interface with
// a no-op: conversion and debounce waits take no time, so a simulated read
// is instant and a scenario can run faster than real time.
//
// # Built-in scenarios
//
// Both use the channels of sensord's default configuration: busbar-l1
// (TMP117 0x48), terminal-n (TMP117 0x49), probe-1 (DS18B20
// 28-000000000001), load-l1 (ADS1115 0x4A AIN0, A), residual (ADS1115 0x4A
// AIN1, mA), smoke (GPIO).
//
// meterbox-fire, 10 minutes: load 20–28 A throughout; terminal-n heats from
// 35 °C, past 70 °C at 5m14s and 90 °C at 7m51s, to 105 °C, never faster than
// 8 K/min (so the fixed thresholds decide, not the rate of rise); residual
// rises from 80 mA, past 200 mA at 3m24s and 300 mA at 5m05s, to 450 mA;
// busbar-l1 and probe-1 warm but stay below 55 °C; smoke at 8m30s.
//
// normal-day, 24 minutes (a day, 1 min = 1 h, midnight at 0): load 5–30 A,
// residual 60–150 mA, busbar-l1 30–55 °C, terminal-n 30–46 °C, probe-1
// 27–35 °C, no smoke; transients a confirmation window must absorb: one
// 120 °C sample on busbar-l1 at 12m, one 600 mA sample on residual at 7m,
// one unanswered read of terminal-n at 15m. It must raise no alarm, no
// pre-alarm and no fault. (Load stays at 30 A, not 40 A, so a 40 A rated
// circuit stays under its 80 % pre-alarm.)
package sim
