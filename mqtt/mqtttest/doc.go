// Package mqtttest provides real MQTT brokers and a small client for tests
// across the repository, as net/http/httptest does for HTTP.
//
// Embedded starts an in-process mochi-mqtt broker that allows every client;
// Mosquitto starts the system's mosquitto (Debian package "mosquitto") on a
// free loopback port, optionally with persistence so that a Stop and Start
// keeps sessions and retained messages. Brokers lists both, so a test can run
// against each:
//
//	for _, b := range mqtttest.Brokers(t) {
//		t.Run(b.Name, func(t *testing.T) {
//			url := b.Start(t)
//			c := mqtttest.Client(t, url, "test-client")
//			msgs := c.Subscribe(t, "linli/v1/#", 1)
//			...
//		})
//	}
//
// Every broker and client is stopped by t.Cleanup. When mosquitto is not
// installed, Mosquitto skips the test, unless the environment variable CI is
// set or LINLI_REQUIRE_MOSQUITTO=1, in which case it fails it: CI must test
// against a real external broker.
//
// This package starts processes (os/exec) and is meant for tests only.
package mqtttest
