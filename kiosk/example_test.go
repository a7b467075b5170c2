package kiosk_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"linli/kiosk"
	"linli/mqtt/contract"
	"linli/mqtt/outbox"
)

func Example() {
	dir, err := os.MkdirTemp("", "kiosk")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := bolt.Open(filepath.Join(dir, "kiosk.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ob, err := outbox.Open(db, nil)
	if err != nil {
		log.Fatal(err)
	}
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	svc, err := kiosk.Open(db, ob, &kiosk.Options{
		Device: "kiosk-7", Code: "K7", Community: "hl", TimeZone: time.UTC,
		Clock: func() time.Time { return now },
	})
	if err != nil {
		log.Fatal(err)
	}
	svc.OnChange(func(kind string) { fmt.Println("changed:", kind) })

	// Offline: the number is issued at once and the report waits in the outbox.
	n, err := svc.FileReport(context.Background(), kiosk.Draft{
		Category: "street-light",
		Location: contract.Location{Building: "3"},
		Phrases:  []string{"路灯不亮"},
	})
	if err != nil {
		log.Fatal(err)
	}
	st, _ := svc.Track(n)
	fmt.Println(n, st.Status, st.Timeline[0].Note)

	// The hub's retained status arrives through the uplink.
	svc.HandleMessage(contract.TicketTopic(n), contract.MustEncode(&contract.TicketStatus{
		Number: n, Category: "street-light", Status: kiosk.StatusAccepted, Assigned: "worker-li"}))
	st, _ = svc.Track(n)
	fmt.Println(st.Status, st.Assigned)
	fmt.Println(svc.Topics())
	// Output:
	// changed: report
	// K7-261127-00011 submitted awaiting-hub
	// changed: ticket
	// accepted worker-li
	// [linli/v1/ticket/# linli/v1/area/hl/#]
}
