// Package natsbroker is gridhub's broker for more than one machine: an
// embedded NATS server node (github.com/nats-io/nats-server/v2) with
// JetStream and NATS's MQTT 3.1.1 listener, clustered with its peers by
// configuration (a cluster listener and routes). Devices, kiosks and gridctl
// speak the same MQTT contract to it as to the embedded mochi broker
// (package mqtt/broker), which stays the single-machine default.
//
// # What NATS keeps, and where
//
// NATS's MQTT listener keeps sessions, QoS 1 messages for subscribers and
// retained messages in JetStream streams ($MQTT_sess, $MQTT_msgs,
// $MQTT_rmsgs). In a cluster they are replicated on Options.Replicas nodes
// (default 3, Raft): a session and its queued messages survive the loss of
// any one node of three, and a client whose node dies reconnects to another
// (its broker list, see mqtt/uplink) and resumes its session there. A QoS 1
// PUBLISH is acknowledged only once JetStream has stored it on a quorum, so
// a device deletes an event from its outbox only when two machines hold it.
// Wills and QoS 0 messages are not stored.
//
// # Accounts and ACLs
//
// Logins are checked against the same broker.Accounts as the embedded
// broker's (plain or "sha256:" passwords, from grid/config), and each
// client gets NATS permissions made from its role's MQTT filters
// (broker.Rules, see Permissions and Subject): topic levels become subject
// tokens ("/" → ".", "+" → "*", "#" → ">"). What differs from mochi:
//
//   - a QoS 1 publish on a forbidden topic is acknowledged and dropped (3.1.1
//     has no negative PUBACK); mochi disconnects the client;
//   - a will on a forbidden topic is not refused at CONNECT: it is dropped
//     when it fires;
//   - a device id holding ".", "*" or ">" cannot be expressed as subject
//     tokens: such an account cannot log in (Permissions returns an error).
//
// WriteConfig prints the same policy as a nats-server configuration file
// for nodes run outside gridhub (`gridhub config nats`).
//
// # Logging
//
// NATS is chatty: its notices (listeners, the JetStream banner, Raft
// elections) go to Debug, as do the warnings of a clean start and stop.
// Refused logins and forbidden publishes and subscriptions are Warn.
//
// Test clusters: package natstest.
package natsbroker
