// Package outbox is the durable store-and-forward queue between a device's
// decisions and the MQTT broker, kept in bbolt.
//
// A message is written to the outbox, in the same bbolt transaction as the
// record it announces (an event, a report), before anyone is told about it;
// the uplink (package uplink) deletes it only once the broker has
// acknowledged it at QoS 1. A crash between the broker's acknowledgement and
// the delete sends the message again after restart: receivers de-duplicate
// by message id (see package contract), so delivery is exactly once for them.
//
// # Classes and drop policy
//
// There are two classes. Events (alarms, faults, reports, ratings) are never
// dropped: they are bounded only by the disk. Telemetry is bounded by
// Options.MaxTelemetry: when full, the oldest telemetry is dropped first and
// counted in Stats.Dropped, which survives restarts. Peek returns all events,
// in the order they were put, ahead of any telemetry.
//
// # Reading
//
// Peek reads from the oldest item; PeekAfter reads after a Cursor, so a
// sender that keeps many items in flight reads each once. After a
// reconnect the sender starts again from the zero Cursor: whatever was not
// deleted is sent again, in order.
//
// # Corrupt items
//
// An item that cannot be decoded (a damaged file, a bug) must not block
// the queue behind it: Peek moves it to the bucket "<prefix>.corrupt"
// (keyed by its class byte and sequence number, for a post-mortem), counts
// it in Stats.Corrupt and logs it at Error, and goes on.
package outbox
