package lograte_test

import (
	"context"
	"log/slog"
	"os"
	"time"

	"linli/internal/lograte"
)

func Example() {
	log := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	l := lograte.New(log, &lograte.Options{Burst: 2, Period: time.Minute})
	for range 1000 {
		l.Log(context.Background(), slog.LevelWarn, "mb-0002", "malformed", "message dropped")
	}
	l.Flush() // writes the pending summary (as when its owner stops)
	// Output:
	// level=WARN msg="message dropped" source=mb-0002 reason=malformed
	// level=WARN msg="message dropped" source=mb-0002 reason=malformed
	// level=WARN msg="message dropped … 998 more like this from mb-0002 in the last 1m0s" source=mb-0002 reason=malformed suppressed=998
}
