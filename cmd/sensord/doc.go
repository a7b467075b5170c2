// Command sensord is the meter-box agent.
//
//	sensord run --config FILE [--sim NAME|FILE] [--speed N] [--data DIR] [--broker URL --user U --pass P]
//	            [--update-root DIR [--root-keys FILE] [--update-listen ADDR [--update-token T]] [--usb-dirs GLOBS] [--trial-deadline D]]
//	sensord install --update-root DIR [--root-keys FILE] BUNDLE
//	sensord events --data DIR [--json]
//	sensord status --data DIR [--json]
//	sensord version
//
// # run
//
// Samples every channel each interval (1 s), decides normal / pre-alarm /
// alarm / fault (package hazard), commits each event to DIR/sensord.db
// (package store: fsync'd, with its outbox item) and only then prints it,
// one line per event:
//
//	2026-11-27 08:03:12  mb-0001  #3  busbar-l1   normal → alarm  95.2 °C  (set-point 90 °C)  threshold  [mb-0001-3-5b795d3bc5a0]
//
// (time, device, event seq, channel, from → to, value and unit, set-point,
// cause, and the event's id; a clock that was never set prints "+3m12s (unsynced)" instead of
// a date). The buzzer sounds while an alarm is latched, even with no
// network. With --broker the events, telemetry, birth and state go to the
// MQTT broker (package uplink) and commands come back (ack, reset, test,
// set-thresholds, rebirth, and resend: the hub asks for its events again when
// the broker lost one); without it everything waits in the outbox.
//
// Without --config the built-in meter box (testdata/meterbox.json) is used.
//
// --sim NAME|FILE replaces the board by the simulator (package sim) playing
// a scenario (built in: meterbox-fire, normal-day). The agent's clock is
// then the simulated one: it starts at sensord's start time and advances
// one interval per sample; --speed N takes a sample every interval/N of
// real time, so the ≈10-minute meterbox-fire runs in seconds with
// --speed 100. When the scenario ends sensord writes its buffered
// readings, waits up to --drain (5 s) for the outbox to empty if a broker
// is set, and exits 0; --exit-at-end=false keeps it sampling the last
// state until interrupted. A restart on the same --data starts the scenario
// again from its beginning, with the stored states (latched alarms stay
// latched and are not raised again).
//
// Without --sim sensord opens the board's I2C bus and GPIO pins through
// periph.io (Linux only).
//
// SIGINT or SIGTERM stops sensord cleanly (readings written, a death
// message published). A kill -9 loses no printed event: an event is printed
// only once it is on disk.
//
// # Firmware updates
//
// With --update-root DIR (/opt/linli under systemd) sensord updates itself
// (package firmware/device): the "update" command starts a transfer of a
// signed bundle over MQTT, which is verified against the root keys
// (--root-keys, default DIR/roots.pub), installed into the inactive slot,
// and started by exec'ing DIR/current/sensord (same PID, so systemd keeps
// tracking it). The new version runs on trial and is committed once it is
// started, connected to the broker (when --broker is set) and its hardware
// self-test passed: every channel gave a reading or a known fault (absent,
// no answer, out of range, wiring) in its first 3 rounds, and the buzzer
// pin could be set. A failed self-test rolls back at once; a version not
// healthy within --trial-deadline (3m), or that dies 3 times before, is
// rolled back too. Progress and outcome are published on fwstatus. A
// problem with the update root never stops the agent: it logs it and runs
// without updates.
//
// Without the hub: a stick with linli-update/*.bundle at its top, mounted
// under --usb-dirs, is installed once; --update-listen :8470 accepts
// `gridctl flash --local` (POST /update, the bundle as the body); `sensord
// install` installs a bundle file by hand (with sensord stopped), and the
// next start runs it on trial.
//
// # events and status
//
// events prints the event log for maintenance staff, in aligned columns
// (SEQ TIME CHANNEL FROM TO VALUE SET-POINT CAUSE ID DETAIL), or with
// --json one contract event (see package contract) per line. status prints
// each channel's last state; a channel in alarm is latched until a reset
// command. Both open the database read-only and need sensord to be stopped
// (bbolt allows one writer or many readers); they say so otherwise.
//
// # Configuration
//
// A JSON file; unknown fields are refused. Errors name the field and the
// allowed range, e.g. "config: channels[2].alarm: 200 °C outside 55–140 °C".
//
//	{
//	  "device": "mb-0001",                         // MQTT client id, required
//	  "location": {"community": "hexi", "grid": "g-03", "building": "7", "unit": "2"},
//	  "interval": "1s",                            // sampling, 100ms–1m
//	  "heartbeat": "10s",                          // longest gap between telemetry messages
//	  "i2c_bus": "",                               // periph bus name, "" = first
//	  "w1_root": "",                               // "" = /sys/bus/w1/devices
//	  "buzzer_pin": "GPIO17", "led_pin": "GPIO27", // "" = none
//	  "readings": {"max": 200000, "max_age": "168h"},
//	  "channels": [
//	    {"name": "busbar-l1", "kind": "temperature", "sensor": "tmp117", "addr": "0x48",
//	     "pre_alarm": 70, "alarm": 90, "rise_rate": 10},
//	    {"name": "probe-1", "kind": "temperature", "sensor": "ds18b20", "id": "28-000000000001"},
//	    {"name": "load-l1", "kind": "load", "sensor": "ads1115", "addr": "0x4A", "input": 0,
//	     "amps_per_volt": 30, "rated": 40},
//	    {"name": "residual", "kind": "residual", "sensor": "ads1115", "addr": "0x4A", "input": 1,
//	     "amps_per_volt": 1, "pre_alarm": 200, "alarm": 300},
//	    {"name": "smoke", "kind": "smoke", "sensor": "smoke", "alarm_pin": "GPIO5", "fault_pin": "GPIO6"}
//	  ]
//	}
//
// Channel fields: kind is temperature (°C), residual (mA), load (A) or
// smoke; sensor is tmp117 or ds18b20 (temperature), ads1115 (residual,
// load) or smoke. Set-points are in the kind's unit; 0 or absent means the
// default (temperature 70/90 °C, residual 200/300 mA, load 80 %/100 % of
// rated). Allowed alarm set-points: temperature 55–140 °C, residual
// 20–1000 mA, load 50–150 % of rated; a pre-alarm must be below its alarm.
// Also: hysteresis, rise_rate (K/min, negative = off), confirm and window
// (N of M samples, default 2 of 3), fault_after (consecutive failed
// samples, default 3), disabled, active_low (smoke lines).
//
// clear_after ("30s", at most "10m"; negative = confirm samples only) is
// how long a value must stay below the pre-alarm set-point less the
// hysteresis, or a faulty sensor give plausible readings, before the
// pre-alarm or fault clears; entering a state is never delayed by it.
// plausible_min and plausible_max bound the values believed for the
// installation, in the kind's unit; a reading outside is a fault with
// cause "implausible" (e.g. a TMP117 stuck at -55 °C), never an alarm or a
// value. The defaults are for an indoor meter box: temperature -25–200 °C
// (IEC 61439-1's outdoor ambient limit, and far above the alarm
// set-points), residual 0–5000 mA, load 0–10 × rated; one bound may be
// given alone. A box outdoors in a cold climate sets e.g.
//
//	{"name": "busbar-l1", "kind": "temperature", "sensor": "tmp117", "addr": "0x48", "plausible_min": -40}
//
// plausible_max must be above the alarm set-point and plausible_min below
// the pre-alarm set-point; smoke has no plausible range. See
// package hazard for the reasoning.
package main
