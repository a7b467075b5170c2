package main

import (
	"context"
	"log/slog"
	"time"

	"linli/cmd/internal/restart"
	"linli/cmd/internal/sdnotify"
	"linli/firmware/device"
)

// neverHealthy, when set at build time (-ldflags "-X main.neverHealthy=why"),
// makes a version on trial never call itself healthy, so the trial's
// deadline rolls it back: a deliberately broken build for rollback drills
// and tests.
var neverHealthy string

// uiTimeout is how long the UI goroutine has to answer a ping before the
// kiosk counts as hung (no watchdog ping, no commit of a trial).
const uiTimeout = 5 * time.Second

// openUpdates opens the firmware updates of c, or a disabled Device. A
// problem with the update root never stops the kiosk: residents can still
// report.
func openUpdates(c *cliConfig, logger *slog.Logger, exec func(string, []string) error) *device.Device {
	return restart.OpenDevice(&device.Options{Root: c.updateRoot, RootKeysFile: c.rootKeys, Program: "kiosk", Exec: exec,
		TrialDeadline: c.trialDeadline, Listen: c.updateListen, Token: c.updateToken, Logger: logger}, c.usbDirs)
}

// uiAlive reports whether the UI goroutine runs a function sent through
// pump within timeout: the Fyne loop (and pump) are not hung.
func (d *deps) uiAlive(ctx context.Context, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	reply := make(chan struct{})
	select {
	case d.ping <- reply:
	case <-ctx.Done():
		return false
	}
	select {
	case <-reply:
		return true
	case <-ctx.Done():
		return false
	}
}

// drawn reports whether the UI has drawn a frame.
func (d *deps) drawn(ctx context.Context) bool {
	f := d.frame.Load()
	if f == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, uiTimeout)
	defer cancel()
	img, err := (*f)(ctx)
	return err == nil && img != nil
}

// watchHealth tells systemd the kiosk is ready once the UI has drawn its
// first frame and answers, then commits a version on trial once, in
// addition, the uplink is connected (when a broker is set). A trial that
// never gets there is rolled back by the Device at its deadline. It
// returns when that is done or ctx ends; tick is the polling period.
func (d *deps) watchHealth(ctx context.Context, dev *device.Device, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	wait := func(ok func() bool) bool {
		for !ok() {
			select {
			case <-ctx.Done():
				return false
			case <-t.C:
			}
		}
		return true
	}
	if !wait(func() bool { return d.drawn(ctx) && d.uiAlive(ctx, uiTimeout) }) {
		return
	}
	if err := sdnotify.Ready(); err != nil {
		d.logger.Warn("systemd notify", "err", err)
	}
	d.logger.Info("kiosk ready")
	if !dev.OnTrial() {
		return
	}
	if neverHealthy != "" {
		d.logger.Warn("this build never becomes healthy; the trial will roll back", "why", neverHealthy)
		return
	}
	connected := func() bool { return d.up == nil || d.up.Stats().Connected }
	if !wait(connected) {
		return
	}
	if err := dev.Healthy(); err != nil {
		d.logger.Error("commit", "err", err)
		return
	}
	d.logger.Info("new version committed")
}
