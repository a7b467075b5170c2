package uplink_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	bolt "go.etcd.io/bbolt"

	"linli/mqtt/contract"
	"linli/mqtt/outbox"
	"linli/mqtt/uplink"
)

func Example() {
	// A broker for the example; a device points at the community's.
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := mochi.New(&mochi.Options{Logger: quiet})
	_ = srv.AddHook(new(auth.AllowHook), nil)
	l := listeners.NewTCP(listeners.Config{ID: "example", Address: "127.0.0.1:0"})
	if err := srv.AddListener(l); err != nil {
		log.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	dir, _ := os.MkdirTemp("", "uplink-example")
	defer os.RemoveAll(dir)
	db, err := bolt.Open(filepath.Join(dir, "sensord.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ob, err := outbox.Open(db, nil)
	if err != nil {
		log.Fatal(err)
	}

	// The device records an alarm and queues its message in one transaction.
	const dev = "mb-0001"
	e := &contract.Event{ID: "mb-0001-e1", Device: dev, Seq: 1, Channel: "busbar-l1", Kind: "temperature",
		From: contract.StateNormal, To: contract.StateAlarm, Cause: "threshold", Value: 92, Unit: "°C"}
	err = db.Update(func(tx *bolt.Tx) error {
		// … the device's own event record goes here …
		_, err := ob.PutTx(tx, outbox.Item{Class: outbox.Event, Topic: contract.DeviceTopic(dev, "event"),
			Payload: contract.MustEncode(e), QoS: 1})
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	ob.Notify()

	u, err := uplink.New(db, ob, &uplink.Options{
		Broker:   "tcp://" + l.Address(),
		ClientID: dev,
		Birth: func(session uint32) *contract.Birth {
			return &contract.Birth{Kind: "sensor", Firmware: "1.0.0"}
		},
		OnCommand: func(ctx context.Context, c *contract.Command) *contract.CommandAck {
			return nil // OK
		},
		Logger: quiet,
	})
	if err != nil {
		log.Fatal(err)
	}
	// A new file's session counter starts at the clock's seconds
	// (contract.FirstCounter); each connection counts one more.
	first := u.Stats().Session
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- u.Run(ctx) }()

	for u.Stats().QueueDepth > 0 {
		time.Sleep(10 * time.Millisecond)
	}
	cancel() // publishes a clean death and disconnects
	if err := <-done; err != nil {
		log.Fatal(err)
	}
	s := u.Stats()
	fmt.Printf("connections %d, published %d, waiting %d\n", s.Session-first, s.Published, s.QueueDepth)
	// Output:
	// connections 1, published 1, waiting 0
}
