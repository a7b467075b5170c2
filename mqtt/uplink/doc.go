// Package uplink is the durable MQTT uplink of every Linli device binary
// (sensord, kiosk): it connects to the broker with a persistent session,
// announces the device with a birth message and a last will, drains the
// bbolt outbox (package outbox) and answers commands.
//
// # Delivery
//
// The outbox is the only durable store; paho's own in-memory store is not
// relied on (a fresh paho client, with its own empty store and automatic
// reconnection off, is made for each connection). Items are published at
// their QoS (1 for everything the contract says) in outbox order — events
// first, each class in the order it was put — pipelined up to
// Options.Window unacknowledged publishes, and deleted from the outbox, in
// batches, only after the broker's PUBACK. Within a connection the outbox
// is read with a cursor (outbox.PeekAfter), so each item is read once. After
// any failure the uplink reconnects and sends again from the oldest item
// not yet deleted, so a
// receiver may see an item twice (it de-duplicates by message id) but never
// sees item n+1 of a class before item n. Events put while telemetry is
// draining go out next, ahead of the remaining telemetry.
//
// The drop policy is the outbox's: telemetry beyond outbox.Options.
// MaxTelemetry is dropped oldest first and counted (Stats.Dropped); events
// are never dropped. An outbox item that cannot be read is set aside by the
// outbox and counted (Stats.Corrupt) instead of blocking the queue.
//
// # Sessions, birth and death
//
// A session counter is kept in the bbolt bucket "uplink" and incremented on
// every successful connection. Each connection carries a last will, a
// retained contract.Death on DeviceTopic(id, "death") with the session
// number; right after the CONNACK the uplink publishes the retained
// contract.Birth (and contract.DeviceState, if Options.State is set) and
// waits for their acknowledgement before the outbox drains. On a clean stop
// (Run's context done) it publishes the Death itself before disconnecting,
// since a clean MQTT disconnect discards the will.
//
// # Reconnection
//
// Failed or lost connections are retried with capped exponential back-off
// with jitter: attempt n waits a random duration in [b/2, b], where
// b = min(MaxBackoff, MinBackoff·2^(n-1)). Each failure is logged with its
// attempt number and the next delay. The attempt count starts again after a
// connection that stayed up for at least MaxBackoff, so a broker that
// accepts and immediately drops the device (bad ACL, duplicate client id)
// cannot cause a tight loop.
//
// # Commands
//
// The uplink subscribes (QoS 1) to DeviceTopic(id, "cmd"). A payload over
// contract.MaxPayload, one that is not JSON or carries an unknown schema
// version, or an unknown command name, is counted in Stats.BadCommands and
// logged; it is answered with a CommandAck{OK: false} on "cmdack" when its id
// can be read, and dropped otherwise. "rebirth" is handled by the uplink
// (birth and state are published again); every other command goes to
// Options.OnCommand. The ids of the last commands are remembered, and a
// command seen again (a broker redelivery) is answered with the same ack
// without running it twice. Nothing a broker or a peer sends makes Run
// return.
package uplink
