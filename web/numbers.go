package web

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"linli/grid/replica"
	"linli/kiosk/ticketno"
)

// numbersBucket holds the counter of web ticket numbers in the hub's file.
const numbersBucket = "web.ticketno"

// numberer issues the ticket numbers of web reports: the kiosk's format
// (kiosk/ticketno) under a prefix no kiosk uses, counted in the hub's
// bbolt file, so that they never collide with a kiosk's numbers.
type numberer struct {
	*ticketno.Issuer
	db *bolt.DB
}

func newNumberer(db *bolt.DB, prefix string) (numberer, error) {
	i, err := ticketno.NewIssuer(db, prefix, &ticketno.Options{Bucket: numbersBucket})
	if err != nil {
		return numberer{}, fmt.Errorf("web: ticket numbers: %w", err)
	}
	return numberer{Issuer: i, db: db}, nil
}

// Next issues the next number. The counter goes through the hub's journal
// (grid/replica) like every other write of the hub, so a standby hub that
// takes over (gridhub --ha) goes on counting where the active one stopped
// and never issues a number twice.
func (n numberer) Next(now time.Time) (string, error) {
	var num string
	err := replica.Update(n.db, func(tx *bolt.Tx) error {
		var err error
		if num, err = n.NextTx(tx, now); err != nil {
			return err
		}
		var keys [][]byte
		if err := tx.Bucket([]byte(numbersBucket)).ForEach(func(k, _ []byte) error {
			keys = append(keys, append([]byte(nil), k...))
			return nil
		}); err != nil {
			return err
		}
		return replica.Touch(tx, []byte(numbersBucket), keys...)
	})
	if err != nil {
		return "", fmt.Errorf("web: ticket number: %w", err)
	}
	return num, nil
}
