// Package natstest starts an in-process NATS cluster for tests: three
// mqtt/natsbroker nodes (JetStream, MQTT listener, R3 MQTT streams) routed
// to each other on free 127.0.0.1 ports, with their data in a temporary
// directory. A test can stop a node (Kill) and start it again on the same
// ports with the same data (Restart), as a machine of a subdistrict dies and
// comes back.
//
// A cluster takes a few seconds to elect its JetStream leaders, so a test
// package starts one in TestMain and shares it:
//
//	var cluster *natstest.Cluster
//
//	func TestMain(m *testing.M) {
//		c, err := natstest.Start(&natstest.Options{Accounts: accounts})
//		if err != nil {
//			log.Fatal(err)
//		}
//		cluster = c
//		code := m.Run()
//		c.Close()
//		os.Exit(code)
//	}
//
// MQTT clients connect to MQTTURLs (or BrokerList, for gridhub's and
// sensord's --broker); nats.go clients (JetStream streams and KV) to
// NATSURLs, logging in as an account of Options.Accounts — the hub and
// admin roles may use every subject.
//
// Tests that kill nodes must restart them (defer c.Restart(i)) so that the
// next test finds three nodes.
package natstest
