package main

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	bolt "go.etcd.io/bbolt"

	"linli/cmd/internal/restart"
	"linli/cmd/internal/sdnotify"
	"linli/devices/evdev"
	"linli/devices/hazard"
	"linli/firmware/updater"
	"linli/firmware/version"
	"linli/kiosk"
	"linli/mqtt/contract"
	"linli/mqtt/outbox"
	"linli/mqtt/uplink"
	"linli/ui"
	"linli/ui/i18n"
	"linli/ui/screenshot"
)

// deps is what the UI runners need, built by run.
type deps struct {
	cfg     *Config
	svc     *kiosk.Service
	up      *uplink.Uplink // nil when offline
	logger  *slog.Logger
	dbPath  string
	started time.Time
	// frame returns the current screen; set by the UI runner.
	frame atomic.Pointer[func(ctx context.Context) (image.Image, error)]
	// changes queues the domain's changes for the UI. It is filled from
	// before the uplink starts, so that nothing arriving while the UI is
	// being built is lost.
	changes chan string
	missed  atomic.Bool // a change did not fit in changes: reload all
	// ping asks pump to close the channel on the UI goroutine: the
	// watchdog's and the trial's proof that the UI is not hung.
	ping chan chan<- struct{}

	// Set by tests only.
	touches <-chan evdev.Touch           // noos: touches instead of --touch
	onUI    func(fyne.Window, *ui.Kiosk) // called with the kiosk built, before the UI loop runs
}

func run(ctx context.Context, c *cliConfig, out io.Writer) (err error) {
	if c.cmd == "version" {
		_, err := fmt.Fprintln(out, "kiosk", version.String())
		return err
	}
	// A restart (into a new version, or back after a failed trial) ends
	// the UI and stops everything cleanly; then main execs the current
	// version.
	ctx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	latch := restart.NewLatch(cancelRun)
	defer func() {
		if r := latch.Err(); r != nil {
			err = r
		}
	}()
	d, stop, err := start(ctx, c, func(path string, args []string) { _ = latch.Exec(path, args) })
	if err != nil {
		return err
	}
	defer func() {
		if latch.Err() == nil {
			_ = sdnotify.Stopping()
		}
		stop()
	}()
	d.logger.Info("kiosk started", "display", c.display, "broker", c.broker, "code", d.cfg.Code, "version", version.Version)
	return runUI(ctx, c, d)
}

// Housekeeping of the kiosk's cache of tickets (kiosk.Service.Prune).
const (
	pruneEvery = 24 * time.Hour
	pruneKeep  = 90 * 24 * time.Hour // ended tickets are forgotten after 90 days
)

// errRolledBack is start's error when a failed trial was rolled back at
// boot: the caller restarts into the previous version.
var errRolledBack = errors.New("rolled back at boot; restarting")

// start opens the firmware updates (Boot first, before anything a broken
// new version could fail at), the kiosk's data and service, and starts the
// uplink (when a broker is set), the updates, the daily prune, the
// readiness and trial watch and the systemd watchdog. stop ends them and
// closes the data; the UI must be gone by then. restart is called when
// the kiosk must restart into another version (nil = exec at once); the
// caller then ends the UI, calls stop and execs.
func start(ctx context.Context, c *cliConfig, restart func(path string, args []string)) (d *deps, stop func(), err error) {
	level := slog.LevelInfo
	if c.verbose {
		level = slog.LevelDebug
	}
	logw := c.logw
	if logw == nil {
		logw = os.Stderr
	}
	logger := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: level}))

	var exec func(string, []string) error
	if restart != nil {
		exec = func(path string, args []string) error { restart(path, args); return nil }
	}
	dev := openUpdates(c, logger, exec)
	defer func() {
		if err != nil {
			dev.Close()
		}
	}()
	if st, err := dev.Boot(); err != nil {
		logger.Error("firmware boot", "err", err)
	} else if st == updater.RolledBack {
		return nil, nil, errRolledBack
	}

	cfg, err := loadConfig(c.configFile, c)
	if err != nil {
		return nil, nil, err
	}
	// kiosk and uplink name the component and the device themselves.
	base := logger
	logger = logger.With("device", cfg.Device)

	if err := os.MkdirAll(c.data, 0o755); err != nil {
		return nil, nil, err
	}
	dbPath := filepath.Join(c.data, "kiosk.db")
	db, err := bolt.Open(dbPath, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", dbPath, err)
	}
	defer func() {
		if err != nil {
			db.Close()
		}
	}()
	ob, err := outbox.Open(db, nil)
	if err != nil {
		return nil, nil, err
	}
	svc, err := kiosk.Open(db, ob, &kiosk.Options{
		Device: cfg.Device, Code: cfg.Code, Community: cfg.Location.Community, Buildings: cfg.Buildings,
		Catalog: cfg.catalog, Site: cfg.site, Logger: base,
	})
	if err != nil {
		return nil, nil, err
	}
	d = &deps{cfg: cfg, svc: svc, logger: logger, dbPath: dbPath, started: time.Now(),
		changes: make(chan string, 16), ping: make(chan chan<- struct{})}
	svc.OnChange(func(kind string) {
		// OnChange runs on the goroutine that made the change, the UI's
		// for a report: never block it, never call fyne.Do from it.
		select {
		case d.changes <- kind:
		default:
			d.missed.Store(true)
		}
	})
	var upp atomic.Pointer[uplink.Uplink]
	if err := dev.Attach(cfg.Device, db, func(ctx context.Context, topic string, p []byte, qos byte, retain bool) error {
		if u := upp.Load(); u != nil {
			return u.Publish(ctx, topic, p, qos, retain)
		}
		return uplink.ErrNotConnected
	}); err != nil {
		return nil, nil, err
	}

	var wg sync.WaitGroup
	bgCtx, stopBg := context.WithCancel(context.WithoutCancel(ctx))
	stop = func() {
		stopBg()
		wg.Wait()
		if err := db.Close(); err != nil {
			logger.Error("close", "db", dbPath, "err", err)
		}
		if err := dev.Close(); err != nil {
			logger.Error("close the firmware updates", "err", err)
		}
	}
	if c.broker != "" {
		subs := dev.Subscriptions()
		for _, t := range svc.Topics() {
			subs = append(subs, uplink.Subscription{Topic: t, QoS: 1, Handle: svc.HandleMessage})
		}
		up, err := uplink.New(db, ob, &uplink.Options{
			Broker: c.broker, ClientID: cfg.Device, Username: c.user, Password: c.pass,
			Birth: d.birth, Subscriptions: subs,
			OnCommand: func(ctx context.Context, cmd *contract.Command) *contract.CommandAck {
				if cmd.Name == contract.CmdUpdate {
					return dev.HandleCommand(ctx, cmd)
				}
				return d.command(ctx, cmd)
			},
			MaxBackoff: c.maxBackoff,
			Logger:     base,
		})
		if err != nil {
			stopBg()
			return nil, nil, err
		}
		d.up = up
		upp.Store(up)
		wg.Go(func() {
			if err := up.Run(bgCtx); err != nil {
				logger.Error("uplink stopped", "err", err)
			}
		})
	}
	wg.Go(func() {
		if err := dev.Run(bgCtx); err != nil {
			logger.Error("firmware updates stopped", "err", err)
		}
	})
	wg.Go(func() { prune(bgCtx, svc, time.Now, nil, logger) })
	wg.Go(func() { d.watchHealth(bgCtx, dev, 200*time.Millisecond) })
	wg.Go(func() { sdnotify.Watchdog(bgCtx, func() bool { return d.uiAlive(bgCtx, uiTimeout) }) })
	return d, stop, nil
}

// prune forgets the tickets that ended more than pruneKeep ago, at once
// and then every pruneEvery (tick; nil = a real ticker), until ctx ends.
// The kiosk caches every ticket of its community, so without it the
// database only grows.
func prune(ctx context.Context, svc *kiosk.Service, now func() time.Time, tick <-chan time.Time, logger *slog.Logger) {
	if tick == nil {
		t := time.NewTicker(pruneEvery)
		defer t.Stop()
		tick = t.C
	}
	for {
		n, err := svc.Prune(now().Add(-pruneKeep))
		switch {
		case err != nil:
			logger.Error("prune the ticket cache", "err", err)
		case n > 0:
			logger.Info("ticket cache pruned", "forgotten", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick:
		}
	}
}

// birth is the uplink's birth message.
func (d *deps) birth(session uint32) *contract.Birth {
	now := time.Now()
	return &contract.Birth{
		Device: d.cfg.Device, Kind: "kiosk", Session: session, Firmware: version.Version, Location: d.cfg.Location,
		Time: contract.Stamp{At: now, Synced: now.After(hazard.MinSynced) && now.After(version.Built()), Uptime: time.Since(d.started)},
	}
}

// errNoScreen means a screenshot was asked for before the first frame.
var errNoScreen = errors.New("no screen yet")

// command answers the commands the uplink does not handle itself: only
// screenshot.
func (d *deps) command(ctx context.Context, c *contract.Command) *contract.CommandAck {
	if c.Name != contract.CmdScreenshot {
		return &contract.CommandAck{OK: false, Error: "not supported: " + c.Name}
	}
	f := d.frame.Load()
	if f == nil {
		return &contract.CommandAck{OK: false, Error: errNoScreen.Error()}
	}
	img, err := (*f)(ctx)
	if err != nil {
		return &contract.CommandAck{OK: false, Error: err.Error()}
	}
	raw, err := screenshot.Encode(img, contract.MaxPayload)
	if err != nil {
		return &contract.CommandAck{OK: false, Error: err.Error()}
	}
	d.logger.Info("screenshot sent", "by", c.By, "bytes", len(raw))
	return &contract.CommandAck{OK: true, Result: raw}
}

// status feeds the maintenance screen.
func (d *deps) status() ui.Status {
	st := ui.Status{Device: d.cfg.Device, Health: contract.Health{Uptime: time.Since(d.started), Firmware: version.Version}}
	if h, err := d.svc.Health(); err == nil {
		st.Health.QueueDepth = h.Outbox.Depth()
		st.Health.Dropped = h.Outbox.Dropped
		st.Health.StorageErrors = h.StoreErrors
	}
	if d.up != nil {
		s := d.up.Stats()
		st.Connected = s.Connected
		st.Health.Reconnects = s.Reconnects
	}
	if fi, err := os.Stat(d.dbPath); err == nil {
		st.Health.StorageUsed = fi.Size()
	}
	return st
}

// newKiosk puts the kiosk UI on w. It must run on the UI goroutine (or
// before the app runs); it sets the theme, so call it after
// app.SetDriverDetails.
func newKiosk(w fyne.Window, d *deps, refresh func()) *ui.Kiosk {
	lang, _ := i18n.Parse(d.cfg.Lang)
	return ui.New(w, backend{d.svc}, &ui.Options{
		Lang: lang, Catalogue: catalogue(d.svc), Places: places(d.cfg, d.svc),
		PIN: d.cfg.PIN, IdleTimeout: time.Duration(d.cfg.IdleTimeout), TrackURL: d.cfg.TrackURL,
		Status: d.status, Refresh: refresh,
	})
}

// pump drives the kiosk from outside the UI: the idle timer once a second
// and the domain's changes (alerts!). do runs a function on the UI
// goroutine; the kiosk redraws through its Options.Refresh (Tick and
// Changed call it). pump must not run on the UI goroutine when do is
// fyne.Do. It returns when ctx ends.
func pump(ctx context.Context, k *ui.Kiosk, d *deps, do func(func()), extra <-chan func()) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			do(func() { k.Tick(now) })
			if d.missed.Swap(false) {
				do(func() { k.Changed("") })
			}
		case kind := <-d.changes:
			d.logger.Debug("ui change", "kind", kind)
			if kind == kiosk.ChangeReport || kind == kiosk.ChangeRating {
				continue // made by the UI itself
			}
			do(func() { k.Changed(kind) })
		case f := <-extra:
			do(f)
		case reply := <-d.ping:
			do(func() { close(reply) })
		}
	}
}
