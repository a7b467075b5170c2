// Package contract is Linli's MQTT contract: the topic tree, the QoS and
// retain policy, and the versioned JSON messages that devices (sensord,
// kiosk), the hub (gridhub) and the command line (gridctl) exchange.
//
// The contract is the only thing a device and the community end share, so
// that a city platform can replace gridhub without touching a device. It has
// no dependencies beyond the standard library.
//
// # Topic tree
//
// Every topic starts with Root ("linli/v1"); the "v1" is the topic-tree
// version and changes only with an incompatible change of the tree.
//
//	linli/v1/dev/{device}/birth      device → all   QoS 1, retained   Birth
//	linli/v1/dev/{device}/death      broker → all   QoS 1, retained   Death (the MQTT last will)
//	linli/v1/dev/{device}/state      device → all   QoS 1, retained   State
//	linli/v1/dev/{device}/telemetry  device → hub   QoS 1             Telemetry
//	linli/v1/dev/{device}/event      device → hub   QoS 1             Event (alarms, faults, resets)
//	linli/v1/dev/{device}/report     kiosk  → hub   QoS 1             Report, Rating, Wish
//	linli/v1/dev/{device}/cmd        hub    → dev   QoS 1             Command
//	linli/v1/dev/{device}/cmdack     device → hub   QoS 1             CommandAck
//	linli/v1/dev/{device}/fw         sender → dev   QoS 1             firmware blocks (binary)
//	linli/v1/dev/{device}/fwreq      device → sender QoS 1            FirmwareRequest
//	linli/v1/dev/{device}/fwstatus   device → all   QoS 1, retained   FirmwareStatus
//	linli/v1/grid/{grid}/alert       hub    → workers QoS 1           Alert (every change)
//	linli/v1/area/{community}/{building}/alerts  hub → kiosks QoS 1, retained  AreaAlerts
//	linli/v1/area/{community}/notices           hub → kiosks QoS 1, retained  Notices
//	linli/v1/area/{community}/directory         hub → kiosks QoS 1, retained  Directory
//	linli/v1/area/{community}/wishes            hub → kiosks QoS 1, retained  Wishes
//	linli/v1/ticket/{number}         hub    → kiosks QoS 1, retained  TicketStatus (no personal data)
//	linli/v1/hub/req/{client}        gridctl → hub  QoS 1             Request
//	linli/v1/hub/resp/{client}       hub → gridctl  QoS 1             Response
//
// Devices publish only under their own dev/{device}/ subtree and read only
// their own cmd topic; the broker's ACL enforces this (see mqtt/broker).
//
// # Messages
//
// Every message is one JSON object carrying "v" (the schema version, now
// Version) and "type". Decode refuses payloads over MaxPayload bytes, an
// unknown version, an unknown type, a type that does not belong on the
// topic, and missing required fields, each with its own sentinel error.
//
// Message ids: every Event, Report, Rating, Wish and Command carries an id
// that stays the same when the message is sent again; receivers
// de-duplicate by it. Device messages also carry a per-device sequence
// number (events and telemetry count separately, so a gap in event seq is a
// lost alarm and a gap in telemetry seq is a dropped reading) and the
// session counter of the MQTT connection they were sent on.
//
// Time: devices without a real-time clock set Synced false until their clock
// is set; receivers must not present such a time as real. Uptime is always
// there, so the order of events in one boot is known either way.
package contract
