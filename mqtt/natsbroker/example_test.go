package natsbroker_test

import (
	"fmt"
	"log"
	"os"

	"linli/mqtt/broker"
	"linli/mqtt/natsbroker"
)

// A node on its own: JetStream and MQTT on free ports, the hub's accounts.
// A cluster adds ClusterListen and Routes (see natstest).
func Example() {
	dir, err := os.MkdirTemp("", "natsbroker-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	accounts := broker.NewStatic(
		broker.Entry{Account: broker.Account{ID: "gridhub", Role: broker.RoleHub}, Password: broker.HashPassword("hub-secret")},
		broker.Entry{Account: broker.Account{ID: "mb-0001", Role: broker.RoleDevice}, Password: broker.HashPassword("mb-secret")},
	)
	s, err := natsbroker.New(&natsbroker.Options{
		Name: "hub-a", MQTTListen: "127.0.0.1:0", Listen: "127.0.0.1:0", DataDir: dir, Accounts: accounts,
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := s.Start(); err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	fmt.Println("ready:", s.Ready())

	// What a device may do, as NATS permissions.
	p, _ := natsbroker.Permissions(broker.Account{ID: "mb-0001", Role: broker.RoleDevice})
	fmt.Println(p.Subscribe.Allow)
	// Output:
	// ready: true
	// [linli.v1.dev.mb-0001.cmd linli.v1.dev.mb-0001.fw linli.v1.dev.mb-0001.fw.>]
}
