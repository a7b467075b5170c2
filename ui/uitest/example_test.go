package uitest_test

import (
	"context"
	"fmt"
	"time"

	"linli/ui"
	"linli/ui/uitest"
)

func Example() {
	b := uitest.Sample()
	n, _ := b.FileReport(context.Background(), ui.Draft{Category: "repair"})
	ts, _ := b.Track(n)
	fmt.Println(n, ts.Status, len(b.Filed))

	var c uitest.Clock
	start := c.Now()
	fmt.Println(c.Advance(90 * time.Second).Sub(start))
	// Output:
	// K01-261127-00011 submitted 1
	// 1m30s
}
