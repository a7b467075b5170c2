package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/i2c"

	"linli/cmd/internal/restart"
	"linli/cmd/internal/sdnotify"
	"linli/devices/ads1115"
	"linli/devices/agent"
	"linli/devices/ds18b20"
	"linli/devices/hazard"
	"linli/devices/indicator"
	"linli/devices/smoke"
	"linli/devices/store"
	"linli/devices/tmp117"
	"linli/firmware/updater"
	"linli/firmware/version"
	"linli/mqtt/contract"
	"linli/mqtt/uplink"
)

// dbFile is the store's file name inside --data.
const dbFile = "sensord.db"

func run(ctx context.Context, c *cliConfig, out io.Writer) error {
	switch c.cmd {
	case "version":
		fmt.Fprintln(out, "sensord", version.String())
		return nil
	case "events":
		return listEvents(c, out)
	case "status":
		return showStatus(c, out)
	case "install":
		return install(c, out)
	}
	return runAgent(ctx, c, out)
}

// hardware is what the channels' sensors and the outputs are opened on:
// the board's buses and pins, or the simulator's.
type hardware struct {
	bus    i2c.Bus // nil when no I2C channel is configured
	w1Root string
	// smokePins returns the alarm and fault lines of a smoke channel.
	smokePins func(ch *ChannelConfig) (alarm, fault gpio.PinIn, err error)
	// output returns the buzzer ("buzzer") or LED ("led") pin; nil, nil = none.
	output func(role string) (gpio.PinOut, error)
	// elapsed, for the simulator: set the hardware's time. nil on a board.
	setElapsed func(time.Duration)
	duration   time.Duration // the scenario's length; 0 on a board
	close      func() error
}

// simClock is the agent's clock under the simulator: the wall-clock time
// sensord started plus the simulated time elapsed.
type simClock struct {
	start   time.Time
	elapsed atomic.Int64
}

func (s *simClock) Now() time.Time { return s.start.Add(time.Duration(s.elapsed.Load())) }

func runAgent(ctx context.Context, c *cliConfig, out io.Writer) (err error) {
	level := slog.LevelInfo
	if c.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	// Firmware updates first: Boot counts a trial start before anything a
	// broken new version could fail at, and rolls back a failed trial. A
	// restart (into a new version or back) stops everything cleanly, then
	// main execs the current version.
	ctx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	latch := restart.NewLatch(cancelRun)
	defer func() {
		if r := latch.Err(); r != nil {
			err = r
		}
	}()
	dev := openUpdates(c, logger, latch.Exec)
	defer dev.Close()
	if st, err := dev.Boot(); err != nil {
		logger.Error("firmware boot", "err", err)
	} else if st == updater.RolledBack {
		return nil
	}

	cfg, err := loadConfig(c.configFile)
	if err != nil {
		return err
	}

	var hw *hardware
	if c.sim != "" {
		hw, err = openSim(cfg, c.sim)
	} else {
		hw, err = openHardware(cfg)
	}
	if err != nil {
		return err
	}
	defer func() {
		if err := hw.close(); err != nil {
			logger.Warn("closing the hardware", "err", err)
		}
	}()

	now := time.Now
	clk := &simClock{start: time.Now().Truncate(time.Second)}
	if hw.setElapsed != nil {
		now = clk.Now
	}
	if err := os.MkdirAll(c.data, 0o755); err != nil {
		return err
	}
	db, err := store.Open(filepath.Join(c.data, dbFile), &store.Options{Device: cfg.Device, Now: now,
		MaxReadings: cfg.Readings.Max, MaxReadingAge: time.Duration(cfg.Readings.MaxAge), Logger: logger})
	if err != nil {
		return err
	}
	defer db.Close()

	chans, err := openSensors(cfg, hw)
	if err != nil {
		return err
	}
	selftest := newSelfTest(3)
	selftest.wrap(chans)
	var outputs []*indicator.Dev
	output := func(role string) (agent.Output, *indicator.Dev, error) {
		p, err := hw.output(role)
		if err != nil || p == nil {
			return nil, nil, err
		}
		d := indicator.New(p)
		outputs = append(outputs, d)
		return d, d, nil
	}
	buzzer, bd, err := output("buzzer")
	if err != nil {
		return err
	}
	if bd != nil {
		selftest.buzzer = bd.Set(false)
	}
	led, _, err := output("led")
	if err != nil {
		return err
	}
	defer func() {
		for _, o := range outputs {
			if err := o.Halt(); err != nil {
				logger.Warn("turning an output off", "err", err)
			}
		}
	}()

	var printMu sync.Mutex
	var up atomic.Pointer[uplink.Uplink]
	built := version.Built()
	a, err := agent.New(db, chans, &agent.Options{
		Device: cfg.Device, Location: cfg.Location, Firmware: version.Version,
		Interval: time.Duration(cfg.Interval), Heartbeat: time.Duration(cfg.Heartbeat),
		Now: now, Buzzer: buzzer, LED: led, Logger: logger,
		// A board without RTC boots in 1970 (or at its last fake-hwclock
		// time): the clock counts as set only after 2025 and after this
		// build was made.
		Synced: func(t time.Time) bool { return t.After(hazard.MinSynced) && t.After(built) },
		Health: func(h *contract.Health) {
			if u := up.Load(); u != nil {
				h.Reconnects = u.Stats().Reconnects
			}
		},
		OnEvent: func(ev contract.Event) {
			printMu.Lock()
			defer printMu.Unlock()
			fmt.Fprintln(out, formatEvent(&ev))
		},
	})
	if err != nil {
		return err
	}
	logger.Info("sensord started", "device", cfg.Device, "channels", len(chans), "data", c.data, "boot", db.Boot(),
		"sim", c.sim, "speed", c.speed, "version", version.Version)

	// The uplink, when there is a broker, runs beside the agent and stops
	// after it.
	var wg sync.WaitGroup
	upCtx, stopUp := context.WithCancel(context.WithoutCancel(ctx))
	defer func() { stopUp(); wg.Wait() }()
	publish := func(ctx context.Context, topic string, p []byte, qos byte, retain bool) error {
		u := up.Load()
		if u == nil {
			return uplink.ErrNotConnected
		}
		return u.Publish(ctx, topic, p, qos, retain)
	}
	if err := dev.Attach(cfg.Device, db.Bolt(), publish); err != nil {
		return err
	}
	if c.broker != "" {
		u, err := uplink.New(db.Bolt(), db.Outbox(), &uplink.Options{
			Broker: c.broker, ClientID: cfg.Device, Username: c.user, Password: c.pass,
			Birth: a.Birth, State: a.State, Logger: logger,
			KeepAlive: c.keepAlive, AckTimeout: c.ackTimeout, MaxBackoff: c.maxBackoff,
			Subscriptions: dev.Subscriptions(),
			OnCommand: func(ctx context.Context, cmd *contract.Command) *contract.CommandAck {
				if cmd.Name == contract.CmdUpdate {
					ack := dev.HandleCommand(ctx, cmd)
					ack.Device = cfg.Device
					return ack
				}
				return a.HandleCommand(ctx, cmd)
			},
		})
		if err != nil {
			return err
		}
		up.Store(u)
		wg.Go(func() {
			if err := u.Run(upCtx); err != nil {
				logger.Error("uplink stopped", "err", err)
			}
		})
	}
	wg.Go(func() {
		if err := dev.Run(upCtx); err != nil {
			logger.Error("firmware updates stopped", "err", err)
		}
	})
	wg.Go(func() { commitWhenHealthy(upCtx, dev, selftest, &up, c.broker != "", logger) })
	realInterval := time.Duration(float64(cfg.Interval) / c.speed)
	if hw.setElapsed == nil {
		realInterval = time.Duration(cfg.Interval)
	}
	wg.Go(func() { sdnotify.Watchdog(upCtx, func() bool { return selftest.alive(realInterval) }) })
	if err := sdnotify.Ready(); err != nil {
		logger.Warn("systemd notify", "err", err)
	}
	defer func() { _ = sdnotify.Stopping() }() // best effort: systemd sees the exit anyway

	if hw.setElapsed == nil {
		err := a.Run(ctx)
		stopUp()
		return err
	}
	err = runSim(ctx, c, cfg, hw, clk, a)
	if c.broker != "" && err == nil {
		drain(ctx, db, c.drain, logger)
	}
	return err
}

// runSim steps the agent through the scenario: the hardware's time advances
// by the sampling interval at each step, and a step is taken every
// interval/speed of real time.
func runSim(ctx context.Context, c *cliConfig, cfg *Config, hw *hardware, clk *simClock, a *agent.Agent) error {
	iv := time.Duration(cfg.Interval)
	tick := time.NewTicker(time.Duration(float64(iv) / c.speed))
	defer tick.Stop()
	var elapsed time.Duration
	for {
		hw.setElapsed(elapsed)
		clk.elapsed.Store(int64(elapsed))
		a.Step(ctx)
		if c.exitAtEnd && hw.duration > 0 && elapsed >= hw.duration {
			return a.Flush()
		}
		select {
		case <-ctx.Done():
			return a.Flush()
		case <-tick.C:
		}
		elapsed += iv
	}
}

// drain waits up to d for the outbox's events to be sent.
func drain(ctx context.Context, db *store.DB, d time.Duration, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		st, err := db.Outbox().Stats()
		if err == nil && st.Events == 0 {
			return
		}
		select {
		case <-ctx.Done():
			logger.Warn("exiting with events still queued; they are sent at the next start", "events", st.Events)
			return
		case <-t.C:
		}
	}
}

// openSensors opens each channel's driver on hw.
func openSensors(cfg *Config, hw *hardware) ([]agent.Channel, error) {
	var chans []agent.Channel
	adcs := map[uint16]*ads1115.Dev{}
	for i := range cfg.Channels {
		ch := &cfg.Channels[i]
		s, err := openSensor(ch, hw, adcs)
		if err != nil {
			return nil, fmt.Errorf("channels[%d] %s: %w", i, ch.Name, err)
		}
		chans = append(chans, agent.Channel{Config: ch.hazard(), Sensor: s})
	}
	return chans, nil
}

func openSensor(ch *ChannelConfig, hw *hardware, adcs map[uint16]*ads1115.Dev) (agent.Sensor, error) {
	switch ch.Sensor {
	case "tmp117":
		if hw.bus == nil {
			return nil, errors.New("no I2C bus")
		}
		addr, _ := ch.addr()
		d, err := tmp117.New(hw.bus, addr, nil)
		if err != nil {
			return nil, err
		}
		return agent.SensorFunc(func() (float64, error) {
			t, err := d.Temperature()
			return t.Celsius(), err
		}), nil
	case "ds18b20":
		d, err := ds18b20.Open(ch.ID, &ds18b20.Opts{Root: hw.w1Root})
		if err != nil {
			return nil, err
		}
		return agent.SensorFunc(func() (float64, error) {
			t, err := d.Temperature()
			return t.Celsius(), err
		}), nil
	case "ads1115":
		if hw.bus == nil {
			return nil, errors.New("no I2C bus")
		}
		addr, _ := ch.addr()
		d := adcs[addr]
		if d == nil {
			var err error
			if d, err = ads1115.New(hw.bus, addr, nil); err != nil {
				return nil, err
			}
			adcs[addr] = d
		}
		in := ads1115.Channel{Input: ch.Input, AmpsPerVolt: ch.AmpsPerVolt}
		scale := 1.0 // A
		if ch.Kind == "residual" {
			scale = 1000 // mA
		}
		return agent.SensorFunc(func() (float64, error) {
			i, err := d.RMS(in)
			return float64(i) / 1e9 * scale, err // physic.ElectricCurrent is in nA
		}), nil
	case "smoke":
		alarm, fault, err := hw.smokePins(ch)
		if err != nil {
			return nil, err
		}
		d, err := smoke.New(alarm, fault, &smoke.Opts{AlarmActiveLow: ch.ActiveLow, FaultActiveLow: ch.ActiveLow})
		if err != nil {
			return nil, err
		}
		return agent.SensorFunc(func() (float64, error) {
			st, err := d.Read()
			if err != nil {
				return 0, err
			}
			if st.Alarm {
				return 1, nil
			}
			return 0, nil
		}), nil
	}
	return nil, fmt.Errorf("unknown sensor %q", ch.Sensor)
}
