package restart

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"syscall"

	"linli/firmware/device"
)

// Error asks main to exec Path with Args: a new version was installed, or
// a trial was rolled back. A run returns it after a clean shutdown.
type Error struct {
	Path string
	Args []string
}

func (e *Error) Error() string { return "restart into " + e.Path }

// execve replaces the process; a seam for tests.
var execve = syscall.Exec

// Into becomes the program err asks for when err is (or wraps) an *Error:
// it calls before (to stop signal handling, say), logs the restart with
// logf and execs the program with the current environment, returning only
// the exec's error. Any other err, nil included, is returned as it is.
func Into(err error, before func(), logf func(format string, args ...any)) error {
	var re *Error
	if !errors.As(err, &re) {
		return err
	}
	if before != nil {
		before()
	}
	logf("restarting into %s", re.Path)
	return execve(re.Path, re.Args, os.Environ())
}

// Latch records the restart a firmware Device asks for and ends the run
// by cancelling its context. It is safe for concurrent use.
type Latch struct {
	cancel context.CancelFunc
	req    atomic.Pointer[Error]
}

// NewLatch returns a Latch that calls cancel when a restart is asked for.
func NewLatch(cancel context.CancelFunc) *Latch { return &Latch{cancel: cancel} }

// Exec records the request and cancels the run; it returns nil. It is a
// device.Options.Exec.
func (l *Latch) Exec(path string, args []string) error {
	l.req.Store(&Error{Path: path, Args: args})
	l.cancel()
	return nil
}

// Err returns the last request as an *Error, or nil when none was made.
func (l *Latch) Err() error {
	if r := l.req.Load(); r != nil {
		return r
	}
	return nil
}

// OpenDevice opens the firmware updates of opts with opts.USBDirs set from
// usbDirs, a comma-separated list of glob patterns. When the update root
// is unusable it logs why to opts.Logger and returns a disabled Device.
func OpenDevice(opts *device.Options, usbDirs string) *device.Device {
	o := *opts
	o.USBDirs = splitDirs(usbDirs)
	logger := o.Logger
	if logger == nil {
		logger = slog.Default()
	}
	d, err := device.New(&o)
	if err != nil {
		logger.Error("firmware updates are off", "err", err)
		d, _ = device.New(&device.Options{Logger: o.Logger})
	}
	return d
}

// splitDirs splits a comma-separated list, dropping blanks.
func splitDirs(s string) []string {
	var dirs []string
	for _, d := range strings.Split(s, ",") {
		if d = strings.TrimSpace(d); d != "" {
			dirs = append(dirs, d)
		}
	}
	return dirs
}
