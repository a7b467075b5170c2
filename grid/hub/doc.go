// Package hub is gridhub's service: the device registry, grid alerts with
// acknowledgement and escalation, and the request protocol of gridctl. It
// talks to the broker as an ordinary MQTT client (paho), so the embedded
// broker (package mqtt/broker), mosquitto and an EMQX cluster take the same
// code path.
//
// # Exactly once, in order
//
// The hub keeps one persistent session (client id "gridhub", clean session
// false) and acknowledges a device's event only after it is committed to
// bbolt, together with what it caused (the alert, and the messages to
// publish about it, which go through a durable outbox). A hub killed at any
// point therefore either never acknowledged an event, which the broker
// delivers again, or committed it, and then drops the second delivery by
// the event id it has seen. The events waiting when the hub gets to them
// are committed in one transaction (group commit), so a burst costs one
// fsync, not one each. Events of one device are applied in the order
// of their sequence numbers: an event that arrives ahead of a missing one
// is held, unacknowledged, for Options.ReorderWindow (brokers re-send a
// session's messages after a restart in no guaranteed order), and the
// device is asked at once, and every 2 s while the gap lasts, to send its
// events after the last one applied again (contract.CmdResend: a broker
// can lose one, and the device keeps them in its log); when the window
// passes, the gap is counted in DeviceInfo.MissingEvents.
//
// Telemetry is subscribed at QoS 0, on a second connection (client id
// Options.ClientID + "-telemetry", clean session): it only refreshes "last
// seen", a reading lost in a restart is not worth a disk write per message,
// and on a connection of its own the telemetry of thousands of devices
// never queues in front of an alarm. Its handler decodes only the message's
// header and never waits for the disk; the tick folds what it noted into
// the registry, written at most once a minute per device. With its
// embedded broker gridhub skips that connection (Options.TelemetryFeed):
// the broker hands each telemetry message to Hub.Telemetry in-process, and
// the hub's one connection carries only what must not be lost.
//
// # Alerts
//
// An event to alarm or fault raises an Alert for the grid that owns the
// device's building, assigned to that grid's on-duty workers and published
// on contract.GridAlertTopic. Nobody acknowledging it within the configured
// time escalates it to the community's workers, then to the subdistrict.
// A worker's alert.ack stops the escalation; the device's reset (an event to
// normal with cause "reset", or any return to normal of a fault) clears it.
// An event from alarm to alarm (sensord's "sensor-fault:<why>" or
// "sensor-recovered" under a latched alarm) is a note: it raises nothing,
// moves no escalation, and the alert's description ends with the latest.
// Every change republishes the retained AreaAlerts of the building for its
// kiosks. Each of these is logged as one line.
//
// # Shards
//
// Configurations marked "shared_broker" are shards of one broker or
// cluster: a hub handles only its own devices and answers only its own
// workers. A worker of several shards is a worker of each configuration;
// gridctl --hubs merges what its hubs answer, and the hub's web console
// does the same through AskPeers (Options.Hubs > 1): the hub sends the
// worker's request on the worker's request topic itself (a hub account
// may use any topic), marked with Request.Relay, and collects the other
// hubs' answers on the worker's response topic. A hub that does not know
// the worker refuses a relayed request at once instead of keeping quiet,
// so the asking hub waits only for a hub that is down. The other hubs'
// grid alerts, published for workers anyway, reach Subscribe's channels
// as Changes with Peer set. The hubs trust each other: a relayed request
// is served as the worker's own.
//
// # Extending
//
// HandleRequest adds request operations (the ticket flow registers its
// ticket.* and wish.* operations this way) and HandleDeviceMessage adds
// handlers for device messages (reports, ratings and wishes on the "report"
// leaf). Publish and PublishTx send through the durable outbox.
package hub
