package restart_test

import (
	"context"
	"errors"
	"fmt"

	"linli/cmd/internal/restart"
)

// A run hands the Latch's Exec to the firmware Device; when the Device
// asks for a restart, the run ends and returns the request, which main
// gives to restart.Into.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	latch := restart.NewLatch(cancel)
	run := func() (err error) {
		defer func() {
			if r := latch.Err(); r != nil {
				err = r
			}
		}()
		_ = latch.Exec("/var/lib/linli/current/sensord", []string{"sensord", "run"}) // as the Device would
		<-ctx.Done()
		return ctx.Err()
	}
	err := run()
	var re *restart.Error
	fmt.Println(errors.As(err, &re), re.Path)
	// Output: true /var/lib/linli/current/sensord
}
