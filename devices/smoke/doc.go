// Package smoke reads a conventional smoke detector's relay contacts on GPIO
// inputs: the alarm contact and, when wired, the supervision (fault) contact.
//
// # Wiring
//
// Each contact switches a GPIO to ground against the input's pull-up
// (DefaultOpts):
//
//   - The alarm relay is normally open and closes on smoke: the line reads
//     Low in alarm (AlarmActiveLow).
//   - The fault relay is normally closed, held by the detector while it is
//     healthy, and opens on a detector fault or power loss: the line reads
//     High on a fault (FaultActiveLow false). A cut wire also reads High, so
//     a broken supervision line is a fault, never silence.
//
// New always picks the pull that makes an open wire read as "no alarm" on the
// alarm line and as "fault" on the fault line.
//
// # Debouncing
//
// A relay contact bounces for a few milliseconds, and a long cable picks up
// spikes. A change of level counts only when it is held: Read samples the
// line five times across Opts.Debounce (50 ms by default) and keeps the old
// state if any sample disagrees. Read therefore returns at once when nothing
// changed and blocks up to Debounce when something did.
//
// An alarm pin that implements Sleeper (devices/sim's do) decides how
// long the debounce waits last.
//
// Watch waits for edges on the alarm line (gpio.BothEdges), debounces them
// the same way and sends every change of Status. It also wakes every
// Opts.Poll to check the fault line and ctx, so it works on pins without
// edge detection too, at the cost of Poll's latency.
//
// # Datasheets
//
// Relay-output detectors such as System Sensor's 2351E/B401R relay base
// (alarm: form-C, rated 2 A at 30 V DC) or Hochiki's conventional bases;
// GB 4715 point smoke detectors. The contact ratings are far above a GPIO's
// needs; use an optocoupler or an RC filter and series resistor on long runs.
package smoke
