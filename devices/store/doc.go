// Package store keeps a sensor device's data in one bbolt file: the event
// log, the outbox (package outbox) that carries the events and telemetry to
// the broker, the channels' last states, a bounded store of readings, and
// configuration set by command.
//
// # Durability
//
// Commit writes events to the append-only log (keyed by the device's event
// sequence number, gapless), puts each in the outbox (QoS 1, topic
// contract.DeviceTopic(device, "event")) and records each channel's new
// state, all in ONE bbolt transaction that is fsync'd before Commit
// returns. Nothing may announce an event (print it, publish it) before
// Commit returned: after a kill -9 every announced event is in the file.
// The channels' states are derived from the events in that same
// transaction, so a latched alarm (state alarm) is still latched after a
// restart, with no second alarm event.
//
// Readings are not events: AddReadings goes through db.Batch, so many
// writers share one fsync, and the last batch may be lost in a crash. The
// readings kept are bounded by count and by age (Options.MaxReadings,
// MaxReadingAge); the oldest are dropped first and counted, and the count
// survives restarts.
//
// # A corrupt file
//
// Open checks the file (bbolt's consistency check, and a panic inside
// bbolt counts as corruption). A file that fails is renamed to
// <path>.corrupt-<UTC time> and kept for inspection, and a fresh database
// is started; DB.Recovered says so, and the agent logs a fault on the
// "storage" channel (cause "corrupt-db") and keeps sensing. The event
// sequence then starts again at 1; event ids stay unique (they carry a
// random part), so receivers that de-duplicate by id lose nothing. A file
// locked by another process is ErrLocked after Options.Timeout and is left
// alone.
package store
