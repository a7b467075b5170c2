// Package replicatest starts a single in-process NATS server with
// JetStream for the tests of package replica and of gridhub --ha. (The
// 3-node cluster of mqtt/natsbroker/natstest supersedes it where a test
// needs node failures.)
package replicatest
