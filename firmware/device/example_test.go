package device_test

import (
	"context"
	"fmt"
	"log"

	"linli/firmware/device"
	"linli/mqtt/contract"
)

// Example shows the wiring in a program's main: Boot first, then Attach
// once the device's bbolt file and uplink exist, the subscriptions and the
// command on the uplink, Run beside the program, and Healthy once started,
// connected and self-tested. Without an update root everything is a no-op.
func Example() {
	d, err := device.New(&device.Options{Root: ""}) // e.g. --update-root /opt/linli
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	st, _ := d.Boot() // before anything a broken version could fail at
	fmt.Println("boot:", st)
	// d.Attach(cfg.Device, db.Bolt(), up.Publish)
	// uplink.Options{Subscriptions: d.Subscriptions(), OnCommand: … d.HandleCommand …}
	// go d.Run(ctx); … d.Healthy()
	ack := d.HandleCommand(context.Background(), &contract.Command{ID: "c1", Name: contract.CmdUpdate})
	fmt.Println(ack.OK, ack.Error)
	// Output:
	// boot: normal
	// false device: updates are disabled (no update root)
}
