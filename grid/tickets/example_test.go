package tickets_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"linli/grid/tickets"
	"linli/mqtt/contract"
)

func Example() {
	dir, err := os.MkdirTemp("", "tickets")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := bolt.Open(filepath.Join(dir, "hub.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	s, err := tickets.Open(db, &tickets.Options{Clock: func() time.Time { return now }})
	if err != nil {
		log.Fatal(err)
	}
	r := &contract.Report{Number: "K7-261127-00423", Device: "kiosk-7", Category: "street-light",
		Location: contract.Location{Community: "hl", Building: "3"}, Urgency: contract.UrgencyNormal}
	t, _, err := s.File(r, "g1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(t.Status, "due", tickets.Status(t).Due.Format(time.DateTime))
	if _, err := s.Accept(t.Number, "worker-li"); err != nil {
		log.Fatal(err)
	}
	if _, err := s.Resolve(t.Number, "worker-li", "换了灯泡"); err != nil {
		log.Fatal(err)
	}
	_, err = s.Accept(t.Number, "worker-li")
	fmt.Println(err)
	t, _, err = s.Rate(&contract.Rating{ID: "r1", Number: t.Number, Device: "kiosk-7", Rating: contract.RatingSatisfied})
	if err != nil {
		log.Fatal(err)
	}
	for _, step := range t.Timeline {
		fmt.Println(strings.TrimSpace(step.Status + " " + step.By + " " + step.Note))
	}
	// Output:
	// submitted due 2026-11-28 09:00:00
	// tickets: K7-261127-00423 is resolved; cannot accept
	// submitted kiosk-7
	// accepted worker-li
	// resolved worker-li 换了灯泡
	// rated kiosk-7 satisfied
	// closed system
}

func ExamplePermit() {
	t := &tickets.Ticket{Number: "K7-261127-00423", Grid: "east-2",
		Report: contract.Report{Location: contract.Location{Community: "east", Building: "b4"}}}
	wang := tickets.Worker{ID: "w-wang", Role: tickets.RoleGridWorker, Grid: "east-2", Community: "east"}
	li := tickets.Worker{ID: "w-li", Role: tickets.RoleGridWorker, Grid: "east-1", Community: "east"}
	fmt.Println(tickets.Permit(wang, tickets.Access{Op: contract.OpTicketAccept, Ticket: t}))
	fmt.Println(tickets.Permit(li, tickets.Access{Op: contract.OpTicketAccept, Ticket: t}))
	// Output:
	// <nil>
	// tickets: forbidden: K7-261127-00423 belongs to grid east-2; w-li (grid east-1) may not accept it (grid east-2's workers, community east's workers, the subdistrict may)
}
