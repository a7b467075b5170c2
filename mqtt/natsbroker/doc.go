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
// QoS 1 messages are kept for the subscriptions of persistent sessions
// that exist when they are published (an interest stream), so on the very
// first start of a cluster, devices must not publish before gridhub has
// subscribed once (mqtt/broker's Options.Admit closes that window for
// mochi; here, start the hub first). Wills and QoS 0 messages are not stored: the wills of a dead node's
// clients do not fire. JetStream flushes its files every 2 minutes by
// default (nats-server's sync_interval); acknowledged data is on a quorum
// of nodes, so only a power loss of a quorum at once can lose it.
//
// # Topologies and what fails how
//
// One community: one machine, gridhub with the embedded mochi broker (no
// NATS). A subdistrict: three machines, each with a node (embedded in
// gridhub with --nats-node, or nats-server with `gridhub config nats`) and
// a gridhub, one of them active. One node down: its clients fail over to
// the others and resume their sessions. Two down (quorum lost): JetStream
// stops, MQTT logins and QoS 1 publishes fail, devices keep their events in
// their outboxes until a second node is back. A partition: the side with
// the majority goes on; the other side's QoS 1 publishes are not
// acknowledged. A city: one cluster for all, or a cluster per subdistrict
// joined by leaf nodes (a JetStream domain each). README.md has the table.
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
