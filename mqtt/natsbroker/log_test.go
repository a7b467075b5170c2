package natsbroker

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestLogLevels: what a node logs in normal operation is not a warning;
// a client's forbidden publish still is.
func TestLogLevels(t *testing.T) {
	tests := []struct {
		warn string
		want string
	}{
		// A raft group electing its leader while the node stops: seen
		// now and then in a quick start and stop.
		{"RAFT [x - S-R3F-y] Error subscribing to forwarded proposals: system account not setup", "level=DEBUG"},
		{"Error storing snapshot: store is closed", "level=DEBUG"},
		{`Permissions Violation for Publish to "linli/v1/dev/x/event"`, "level=WARN"},
		{"something NATS never said before", "level=WARN"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		l := &logger{log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
		l.Warnf("%s", tt.warn)
		if !strings.Contains(buf.String(), tt.want) {
			t.Errorf("Warnf(%q) logged %q, want %s", tt.warn, buf.String(), tt.want)
		}
	}
}
