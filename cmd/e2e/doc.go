// Package e2e holds the end-to-end tests and benchmarks that run the real
// binaries together: gridhub with its embedded broker or with mosquitto,
// sensord over the simulated board, and the grid worker's client. It has
// no code of its own; everything is in its _test.go files.
//
// BenchmarkAlarmToWatch measures issue 3's figure, an alarm decided on a
// device to its grid alert at a watching worker, against a bare MQTT QoS 1
// round trip plus one fsync. TestFaults kills sensord and gridhub with
// SIGKILL and cuts the device's network in the middle of a stream of alarms,
// then checks that the hub applied every event exactly once, in order.
// TestLongSilentCut does the same across issue 3's 10-minute cut: a link
// that silently drops every packet, long next to every keep-alive, ack,
// connect and back-off timer in play, with the hub showing the device
// offline during it and online again after.
//
// TestClusterFaults (issue 10) runs gridhub and sensord on a 3-node NATS
// cluster (package mqtt/natsbroker/natstest, started once per package) and
// kills the device's node, the hub's node and the hub mid-stream;
// BenchmarkAlarmToWatch's nats-cluster case measures the alarm path
// through the cluster against the cluster's own QoS 1 hop.
package e2e
