package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"linli/cmd/internal/restart"
	"linli/devices"
	"linli/devices/agent"
	"linli/firmware/device"
	"linli/mqtt/uplink"
)

// failSelfTest, when set at build time (-ldflags "-X main.failSelfTest=why"),
// makes the hardware self-test fail with that reason: a deliberately
// broken build for rollback drills and tests.
var failSelfTest string

// pauseInstallAt, when set at build time (-ldflags "-X
// main.pauseInstallAt=STEP"), makes an install stop just before STEP (one
// of firmware/updater's steps: extract, remove-old, rename-slot,
// record-trial, switch): it writes STEP to ROOT/install-paused and sleeps
// for an hour, so a test can kill -9 the process exactly there. With "*"
// the step is read from ROOT/pause-install-at at each step, so one build
// serves every step. A test build only; release builds leave it empty.
var pauseInstallAt string

// installPause returns the step hook pauseInstallAt asks for under root,
// or nil.
func installPause(root string) func(step string) {
	if pauseInstallAt == "" || root == "" {
		return nil
	}
	return func(step string) {
		at := pauseInstallAt
		if at == "*" {
			b, _ := os.ReadFile(filepath.Join(root, "pause-install-at"))
			at = strings.TrimSpace(string(b))
		}
		if step != at {
			return
		}
		if err := os.WriteFile(filepath.Join(root, "install-paused"), []byte(step), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "sensord: pause at %s: %v\n", step, err)
		}
		time.Sleep(time.Hour)
	}
}

// openUpdates opens the firmware updates of c, or a disabled Device. A
// problem with the update root never stops the agent: the buzzer matters
// more than the next version.
func openUpdates(c *cliConfig, logger *slog.Logger, exec func(string, []string) error) *device.Device {
	return restart.OpenDevice(&device.Options{Root: c.updateRoot, RootKeysFile: c.rootKeys, Program: "sensord", Exec: exec,
		TrialDeadline: c.trialDeadline, Listen: c.updateListen, Token: c.updateToken, Logger: logger,
		StepHook: installPause(c.updateRoot)}, c.usbDirs)
}

// install is `sensord install`: the on-site path (USB stick by hand, a
// maintenance laptop). The bundle is checked and installed into the
// inactive slot; the next start runs it on trial.
func install(c *cliConfig, out io.Writer) error {
	d, err := device.New(&device.Options{Root: c.updateRoot, RootKeysFile: c.rootKeys, Program: "sensord",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), StepHook: installPause(c.updateRoot)})
	if err != nil {
		return err
	}
	defer d.Close()
	m, err := d.Install(c.bundle, "local")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "installed %s (security %d, %s) into %s; it runs on trial at the next start of sensord\n",
		m.Version, m.Security, m.Target, d.CurrentDir())
	return nil
}

// selfTest is the hardware self-test a new version must pass before it is
// committed: every channel gave a reading or a known fault (a sensor that
// is absent, silent, out of range or miswired — a hardware problem the old
// version would see too) within its first rounds, and the buzzer pin could
// be set. It also records when the sensors were last read, for the
// watchdog.
type selfTest struct {
	rounds int

	mu      sync.Mutex
	reads   map[string]int
	good    map[string]bool
	lastErr map[string]error
	buzzer  error
	last    atomic.Int64 // unix nanoseconds of the last read, real time
}

func newSelfTest(rounds int) *selfTest {
	s := &selfTest{rounds: rounds, reads: map[string]int{}, good: map[string]bool{}, lastErr: map[string]error{}}
	s.last.Store(time.Now().UnixNano())
	return s
}

func knownFault(err error) bool {
	return errors.Is(err, devices.ErrAbsent) || errors.Is(err, devices.ErrNoAnswer) ||
		errors.Is(err, devices.ErrOutOfRange) || errors.Is(err, devices.ErrWiring)
}

// wrap records the reads of each channel's sensor.
func (s *selfTest) wrap(chans []agent.Channel) {
	for i := range chans {
		name, sensor := chans[i].Config.Name, chans[i].Sensor
		s.reads[name] = 0
		chans[i].Sensor = agent.SensorFunc(func() (float64, error) {
			v, err := sensor.Read()
			s.last.Store(time.Now().UnixNano())
			s.mu.Lock()
			s.reads[name]++
			if err == nil || knownFault(err) {
				s.good[name] = true
			} else {
				s.lastErr[name] = err
			}
			s.mu.Unlock()
			return v, err
		})
	}
}

// verdict returns done once every channel was read rounds times (or the
// test failed), with the failure.
func (s *selfTest) verdict() (done bool, err error) {
	if failSelfTest != "" {
		return true, fmt.Errorf("hardware self-test failed: %s", failSelfTest)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buzzer != nil {
		return true, fmt.Errorf("hardware self-test failed: buzzer pin: %w", s.buzzer)
	}
	for name, n := range s.reads {
		if n < s.rounds {
			return false, nil
		}
		if !s.good[name] {
			return true, fmt.Errorf("hardware self-test failed: channel %s gave no reading in %d rounds: %w", name, n, s.lastErr[name])
		}
	}
	return true, nil
}

// alive reports whether the sampling loop read the sensors within the
// last 3 intervals (the watchdog's health).
func (s *selfTest) alive(interval time.Duration) bool {
	return time.Since(time.Unix(0, s.last.Load())) < 3*interval+time.Second
}

// commitWhenHealthy commits a version on trial once it is healthy: the
// self-test passed and, when a broker is configured, the uplink connected.
// A failed self-test rolls it back at once; the trial's deadline is
// watched by the Device.
func commitWhenHealthy(ctx context.Context, dev *device.Device, st *selfTest, up *atomic.Pointer[uplink.Uplink], needBroker bool, logger *slog.Logger) {
	if !dev.OnTrial() {
		return
	}
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		done, err := st.verdict()
		if err != nil {
			logger.Error("new version failed its self-test; rolling back", "err", err)
			if err := dev.Unhealthy(ctx, err.Error()); err != nil {
				logger.Error("rollback", "err", err)
			}
			return
		}
		connected := !needBroker
		if u := up.Load(); u != nil && u.Stats().Connected {
			connected = true
		}
		if done && connected {
			if err := dev.Healthy(); err != nil {
				logger.Error("commit", "err", err)
			}
			return
		}
	}
}
