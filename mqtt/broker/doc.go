// Package broker is gridhub's embedded MQTT broker: mochi-mqtt/server with
// Linli's accounts and topic ACLs, an optional TLS listener, and sessions,
// subscriptions, in-flight QoS 1 messages and retained messages kept in a
// bbolt file so that they survive a restart.
//
// # Accounts and ACLs
//
// Every client logs in with a user name and password, checked by an
// Accounts implementation (see Static, and package grid/config for the
// hub's). The user name is the account id; its Role decides the topics:
//
//	device X  publish dev/X/{birth,death,state,telemetry,event,report,cmdack}
//	          subscribe dev/X/cmd, dev/X/fw/#
//	kiosk K   as a device, plus subscribe area/{K's community}/#, ticket/#
//	worker W  publish hub/req/W; subscribe hub/resp/W, grid/+/alert,
//	          dev/+/{birth,state,death}, ticket/#
//	hub, admin everything
//
// (all under contract.Root). A subscription filter is allowed only when
// every topic it can match is allowed, so a worker may subscribe to
// "linli/v1/grid/+/alert" but not to "linli/v1/#". A device's last will must
// be on a topic it may publish, or the connection is refused ("not
// authorized"). Refused connections and denied publishes and subscriptions
// are logged and counted (Stats). A QoS 1 publish on a forbidden topic disconnects an MQTT 3.1.1
// client (mochi's behaviour; 3.1.1 has no negative PUBACK).
//
// # Client ids
//
// A client id names a session, and MQTT hands a session to whoever connects
// with its id, disconnecting the client using it. So client ids are bound
// to accounts (see ClientIDAllowed): a device or kiosk connects only with
// its own id, a worker with its id or gridctl's "gridctl-<id>-…" and
// "gridctl-flash-<id>-…", the hub with its id and "<id>-telemetry", an admin
// with any id no other account owns. Any other CONNECT is answered
// "client identifier not valid" before mochi looks at the id, so the
// client and session using it are untouched; so is a CONNECT with an id
// whose stored session belongs to another account.
//
// # Logs
//
// Refusals are logged through a rate limiter (package internal/lograte):
// the first lines per account and reason, then one summary a minute; Stats
// counts every one. mochi's own lines are mapped to the project's levels
// (mochiHandler): a clean start, stop or disconnect writes no WARN or ERROR.
//
// # Durability
//
// With Options.DataDir set, the broker keeps clients, subscriptions,
// in-flight messages and retained messages in DataDir/broker.db, in the
// layout of mochi's bbolt storage hook but committed in groups (storeHook):
// one writer commits every change queued meanwhile in one transaction, and
// what mochi is about to acknowledge (a retained message, a message in
// flight to a persistent session, a session, a subscription) waits for its
// commit; deletions of delivered messages do not wait. A fleet's connect
// costs a few fsyncs a second instead of several per device. mochi acknowledges a QoS 1 publish before it hands the
// message to its subscribers, so a crash between the two would lose a
// message the device already deleted from its outbox. The broker closes that
// window: it takes every QoS > 0 publish from a client, queues it for all
// subscribers (written to bbolt for persistent sessions) and only then lets
// mochi send the PUBACK.
//
// mochi re-sends a session's in-flight messages after a reconnect in an
// order that is only stable to the second; receivers that need order restore
// it from the per-device sequence numbers of the contract (gridhub does).
//
// # Connections
//
// The broker's listeners are its own (listener.go). A connection that
// takes nothing the broker sends for Options.WriteTimeout is closed, so
// that a stalled subscriber cannot hold up the publishers of its topics.
// Each connection's send queue is sized by its account (queues.go):
// mochi has one size for every client, allocated when it accepts the
// connection, and 8,192 places (64 KiB) for each of thousands of meter
// boxes was most of the broker's memory; so the listener reads CONNECT
// first and a device gets Options.DeviceQueue places (256), everybody
// else Options.MaxQueued. A message that finds a queue full is dropped
// for that client by mochi; Stats and an ERROR line say so.
package broker
