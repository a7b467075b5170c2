package outbox_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"linli/mqtt/outbox"
)

// Example queues an alarm and two telemetry batches, reads them back the
// way an uplink does (events first, a cursor past what was sent) and
// deletes them once "acknowledged".
func Example() {
	dir, err := os.MkdirTemp("", "outbox-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := bolt.Open(filepath.Join(dir, "dev.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ob, err := outbox.Open(db, &outbox.Options{MaxTelemetry: 1})
	if err != nil {
		log.Fatal(err)
	}

	for _, it := range []outbox.Item{
		{Class: outbox.Telemetry, Topic: "linli/v1/dev/mb-1/telemetry", Payload: []byte(`{"seq":1}`), QoS: 1},
		{Class: outbox.Event, Topic: "linli/v1/dev/mb-1/event", Payload: []byte(`{"to":"alarm"}`), QoS: 1},
		{Class: outbox.Telemetry, Topic: "linli/v1/dev/mb-1/telemetry", Payload: []byte(`{"seq":2}`), QoS: 1},
	} {
		if _, err := ob.Put(it); err != nil {
			log.Fatal(err)
		}
	}

	var cur outbox.Cursor
	for {
		items, err := ob.PeekAfter(cur, 1)
		if err != nil {
			log.Fatal(err)
		}
		if len(items) == 0 {
			break
		}
		for _, it := range items {
			fmt.Printf("%s %d %s\n", it.Class, it.Seq, it.Payload)
			cur.Advance(it)
		}
		if err := ob.Delete(items...); err != nil { // after the PUBACK
			log.Fatal(err)
		}
	}
	st, err := ob.Stats()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("depth %d, dropped %d\n", st.Depth(), st.Dropped)
	// Output:
	// event 1 {"to":"alarm"}
	// telemetry 2 {"seq":2}
	// depth 0, dropped 1
}
