package store_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"linli/devices/store"
	"linli/mqtt/contract"
)

func Example() {
	dir, _ := os.MkdirTemp("", "store")
	defer os.RemoveAll(dir)
	db, err := store.Open(filepath.Join(dir, "sensord.db"), &store.Options{Device: "mb-0001", Timeout: time.Second})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	evs, err := db.Commit([]contract.Event{{Channel: "residual", Kind: "residual", From: contract.StateNormal,
		To: contract.StateAlarm, Cause: "threshold", Value: 410, Unit: "mA", SetPoint: 300}})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Durable now: announce it.
	fmt.Println(evs[0].Seq, evs[0].Channel, evs[0].To)
	st, _ := db.Outbox().Stats()
	fmt.Println("queued:", st.Events)
	// Output:
	// 1 residual alarm
	// queued: 1
}
