// Package replica lets several gridhub processes serve one hub
// configuration, one active and the others standing by, with nothing lost
// or done twice when the active one dies (gridhub run --ha).
//
// # Design: a replicated journal of the hub's bbolt writes
//
// The hub keeps all its durable state in one bbolt file (hub.db: alerts
// with their escalation deadlines, devices, the event ids it has seen, its
// outbox, tickets, wishes, notices). Every write transaction of the hub and
// of the ticket store goes through Update, and its writes through the
// recorded helpers Put, Delete, DeleteCursor and NextSequence (Touch
// records keys written by code that records nothing itself: mqtt/outbox).
// So the change set of a transaction is known before it commits. With a
// Journal attached to the file (Open), Update appends the change set to a
// JetStream stream, the journal, before the local commit, with the
// journal sequence the writer last saw as the expected last sequence
// (optimistic concurrency) and the writer's lease epoch as a header. An
// append the stream refuses (ErrFenced: another hub wrote since) or cannot
// confirm rolls the transaction back and deposes the writer. Without a
// Journal (a single machine, make run) Update is bolt.DB.Update and the
// helpers are the bucket's methods: same code path, no NATS.
//
// The standbys tail the journal (an ordered consumer) and apply each entry
// to their own file, recording the entry's sequence in the same
// transaction, so a standby restarted later resumes where it stopped and a
// takeover only catches up the tail. A change set larger than an entry
// (the connection's max payload) is split into parts applied together.
//
// # Lease and fencing
//
// One lease per shard, a key of the JetStream key-value bucket LeaseBucket
// whose TTL is Options.LeaseTTL: created by compare-and-set, renewed by
// compare-and-set every TTL/3, deleted on a clean stop. Its revision at
// creation is the holder's epoch. The winner catches up with the journal,
// then appends a takeover entry expecting the journal's last sequence:
// from then on every append of an earlier holder fails on the expected
// sequence, whatever it believes about its lease. Only then does Serve
// start the hub, which connects with the hub's persistent-session client
// id: the broker delivers again what the dead hub never acknowledged, and
// the replicated seen ids drop what it did commit. A holder that cannot
// renew for a TTL (a pause, a partition), or whose renewal or append is
// refused, stops its hub at once: its MQTT client must not take the
// session back from the new active hub. Alert ids come from bucket
// sequences, which are replicated, so they continue across a takeover;
// escalation deadlines are fields of the replicated alerts, so the new hub
// escalates on time (within its tick).
//
// The broker should keep the hub's session queue through a takeover: with
// mosquitto, max_queued_messages must exceed what the devices send in a
// lease TTL (its default, 1,000, drops events). The embedded mochi broker
// (v2.7.9), when it stays up while the hub dies, now and then loses a
// message that was in flight to the dead session, with or without --ha.
// Either loss shows as a gap in a device's sequence, and the hub asks the
// device to send its events again (contract.CmdResend): they arrive late,
// not never.
//
// What a takeover may repeat: an outbox item that was sent but whose
// deletion had not reached the journal is sent again (QoS 1, as any
// resend). What it cannot lose: an event is acknowledged to the broker only
// after its change set is in the journal (on R replicas) and in the file.
//
// # Sharding
//
// The shard is the hub configuration's id (its set of communities): one
// lease, one journal stream ("HUBJ_<shard>") per configuration, so hubs
// of different configurations partition the communities and each pair or
// trio of processes of one configuration fails over on its own. On one
// broker, configurations marked shared_broker (config.Config.SharedBroker)
// keep out of each other's way: each hub handles only its devices and
// answers only its workers, and its alert ids carry its hub id; a worker
// of several shards asks them all (hubclient.Options.Hubs). Each hub
// subscribes to its own devices' telemetry only; their events, births and
// states it receives with the others' and drops those before decoding.
//
// # Compaction
//
// The journal does not grow without end. When its entries take more room
// than both Options.CompactBytes and the file, the active hub writes a
// snapshot of its file (one bbolt read transaction, so it is the state as
// of one journal sequence, recorded in the file itself) to the shard's
// object of the JetStream object store SnapshotBucket, replicated like the
// journal, and then purges the journal's entries up to that sequence. It
// asks its lease before each of the two steps. A standby that finds the
// journal starting after its file's last entry (a new machine, one that
// was down during a compaction, or one lagging behind a purge) fetches
// the snapshot, checks it (the object store's digest, the sequence in the
// file against the object's), replaces the content of its file with it in
// one transaction, and follows the journal from there. Serve returns
// ErrBehind only when neither the journal nor the snapshot holds what the
// file misses (an operator purged the stream): its message says to copy
// hub.db from a current hub.
//
// # Limits
//
// The write path waits for one JetStream round trip per transaction
// (group commit in the hub amortises it). A compaction copies the whole
// file once (to a temporary file beside it, then to the object store); a
// restore holds the snapshot once on disk and writes the file in one
// transaction.
package replica
