package sdnotify

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"
)

func listen(t *testing.T) *net.UnixConn {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return c
}

func read(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 256)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

func TestReadyAndWatchdog(t *testing.T) {
	c := listen(t)
	if err := Ready(); err != nil {
		t.Fatal(err)
	}
	if got := read(t, c); got != "READY=1" {
		t.Errorf("got %q, want READY=1", got)
	}
	t.Setenv("WATCHDOG_USEC", "20000")
	if got, want := WatchdogInterval(), 10*time.Millisecond; got != want {
		t.Errorf("WatchdogInterval = %v, want %v", got, want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { Watchdog(ctx, func() bool { return true }); close(done) }()
	if got := read(t, c); got != "WATCHDOG=1" {
		t.Errorf("got %q, want WATCHDOG=1", got)
	}
	cancel()
	<-done
}

func TestNoSystemd(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	t.Setenv("WATCHDOG_USEC", "")
	if ok, err := Send("READY=1"); ok || err != nil {
		t.Errorf("Send without systemd = %v, %v; want false, nil", ok, err)
	}
	if WatchdogInterval() != 0 {
		t.Error("watchdog interval without systemd")
	}
}
