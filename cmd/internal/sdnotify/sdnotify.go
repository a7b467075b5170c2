package sdnotify

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

// Send sends state (e.g. "READY=1") to systemd. It returns false, nil when
// not running under systemd.
func Send(state string) (bool, error) {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return false, nil
	}
	if addr[0] == '@' {
		addr = "\x00" + addr[1:] // abstract socket
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return false, fmt.Errorf("sdnotify: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return false, fmt.Errorf("sdnotify: %w", err)
	}
	return true, nil
}

// Ready tells systemd the service has started.
func Ready() error { _, err := Send("READY=1"); return err }

// Stopping tells systemd the service is shutting down.
func Stopping() error { _, err := Send("STOPPING=1"); return err }

// WatchdogInterval returns half the watchdog timeout systemd set
// (WATCHDOG_USEC), or 0 when there is no watchdog for this process.
func WatchdogInterval() time.Duration {
	us, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64)
	if err != nil || us <= 0 {
		return 0
	}
	if pid := os.Getenv("WATCHDOG_PID"); pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return 0
	}
	return time.Duration(us) * time.Microsecond / 2
}

// Watchdog pings systemd's watchdog every WatchdogInterval while healthy
// returns true, until ctx is done. A process whose health check fails stops
// pinging, and systemd restarts it. It returns at once without a watchdog.
func Watchdog(ctx context.Context, healthy func() bool) {
	iv := WatchdogInterval()
	if iv == 0 {
		return
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if healthy == nil || healthy() {
				_, _ = Send("WATCHDOG=1") // best effort: a missed ping shows as a watchdog restart
			}
		}
	}
}
