// Package agent is the meter-box agent's core: it samples the hazard
// channels, lets the hazard engine decide, commits every event to the store
// (with its outbox item) before announcing it, drives the local buzzer and
// LED, and queues telemetry.
//
// The agent needs only the store: the uplink (package uplink), when the
// device has a network, drains the store's outbox and calls HandleCommand,
// Birth and State. With the network down the agent still senses, decides,
// stores and sounds the buzzer.
//
// # One round (Step)
//
// Every sensor is read once (a bus transaction each), the engine turns the
// samples into events, the events are committed in one fsync'd transaction
// and only then passed to Options.OnEvent (printing, for sensord). If the
// store fails, the events stay pending and are retried next round; the
// buzzer does not wait. Readings are buffered and written every
// Options.FlushEvery (10 s) in one db.Batch, so at 1 Hz the agent does one
// fsync per ten seconds when nothing happens, plus one per telemetry
// message (on change, at most one per round, and every heartbeat).
//
// # Buzzer and LED
//
// The buzzer sounds while any alarm is latched and not silenced by an ack
// command, and during a test; a new alarm sounds again after an ack, and
// so does a restart with an alarm still latched. The LED is steady for an
// alarm or a test and blinks for a fault or a pre-alarm. The agent never
// cuts power (GB 50116 9.1.6).
//
// # Restart
//
// New restores each channel's last committed state: an alarm still latched
// before a crash is latched again, without a second alarm event; set-points
// changed by command are restored too. A database started afresh from a
// corrupt file gives a fault on the "storage" channel (cause "corrupt-db"),
// cleared by a reset.
package agent
