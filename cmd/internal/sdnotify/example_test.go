package sdnotify_test

import (
	"context"
	"fmt"

	"linli/cmd/internal/sdnotify"
)

func Example() {
	// Not under systemd here, so these do nothing.
	fmt.Println(sdnotify.Ready())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go sdnotify.Watchdog(ctx, func() bool { return true })
	// Output: <nil>
}
