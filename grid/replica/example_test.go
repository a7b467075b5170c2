package replica_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"

	"linli/grid/replica"
)

// Without a journal attached (a single gridhub), Update is bbolt's Update
// and the recorded helpers are the bucket's methods.
func Example() {
	dir, err := os.MkdirTemp("", "replica-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := bolt.Open(filepath.Join(dir, "hub.db"), 0o600, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	alerts := []byte("alerts")
	err = replica.Update(db, func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(alerts); err != nil {
			return err
		}
		n, err := replica.NextSequence(tx, alerts)
		if err != nil {
			return err
		}
		return replica.Put(tx, alerts, fmt.Appendf(nil, "A%08d", n), []byte(`{"state":"alarm"}`))
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("journaled:", replica.Journaled(db))
	// Output: journaled: false
}
