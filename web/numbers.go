package web

import (
	"fmt"

	bolt "go.etcd.io/bbolt"

	"linli/kiosk/ticketno"
)

// numberer issues the ticket numbers of web reports: the kiosk's format
// (kiosk/ticketno) under a prefix no kiosk uses, counted in the hub's
// bbolt file, so that they never collide with a kiosk's numbers.
type numberer struct{ *ticketno.Issuer }

func newNumberer(db *bolt.DB, prefix string) (numberer, error) {
	i, err := ticketno.NewIssuer(db, prefix, &ticketno.Options{Bucket: "web.ticketno"})
	if err != nil {
		return numberer{}, fmt.Errorf("web: ticket numbers: %w", err)
	}
	return numberer{i}, nil
}
