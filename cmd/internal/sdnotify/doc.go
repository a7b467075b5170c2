// Package sdnotify speaks systemd's service notification protocol
// (sd_notify(3)) so that Linli's device binaries can run as Type=notify
// units with WatchdogSec: Ready once started, Watchdog pings while healthy.
// Without NOTIFY_SOCKET (not under systemd) every call does nothing.
package sdnotify
