package campaign_test

import (
	"fmt"
	"strings"

	"linli/firmware/campaign"
	"linli/mqtt/contract"
)

func Example() {
	targets := []campaign.Target{{ID: "mb-0001", Running: "1.4.2"}, {ID: "mb-0002", Running: "1.4.2"},
		{ID: "mb-0003", Running: "1.5.0"}, {ID: "mb-0004", Running: "1.4.2"}}
	c, err := campaign.New("1.5.0", targets, &campaign.Options{Transfer: "fw-1", FirstGroup: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	// The caller sends each started device the update command; the devices
	// answer with FirmwareStatus messages.
	for !c.Done() {
		for _, id := range c.Next() {
			fmt.Println("start", id)
			st := &contract.FirmwareStatus{Device: id, Transfer: "fw-1", State: contract.FwCommitted, Running: "1.5.0"}
			if id == "mb-0004" {
				st = &contract.FirmwareStatus{Device: id, Transfer: "fw-1", State: contract.FwRolledBack, Error: "no connection in trial"}
			}
			c.Update(st)
		}
	}
	for _, d := range c.Report().Devices {
		fmt.Println(strings.TrimSpace(fmt.Sprint(d.ID, " ", d.From, " → ", d.Running, " ", d.State, " ", d.Reason)))
	}
	// Output:
	// start mb-0001
	// start mb-0002
	// start mb-0004
	// mb-0001 1.4.2 → 1.5.0 committed
	// mb-0002 1.4.2 → 1.5.0 committed
	// mb-0003 1.5.0 → 1.5.0 skipped already runs 1.5.0
	// mb-0004 1.4.2 → 1.4.2 rolled-back no connection in trial
}
