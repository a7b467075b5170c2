package device

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"

	"linli/firmware/bundle"
	"linli/firmware/transfer"
	"linli/firmware/updater"
	"linli/firmware/version"
	"linli/mqtt/contract"
	"linli/mqtt/uplink"
)

// Errors.
var (
	// ErrDisabled means updates are off: Options.Root is empty.
	ErrDisabled = errors.New("device: updates are disabled (no update root)")
	// ErrRefused means an offer or a bundle was refused before anything
	// was downloaded or installed; the message says why.
	ErrRefused = errors.New("device: update refused")
	// ErrBusy means another install or a trial is in progress.
	ErrBusy = errors.New("device: an update is in progress")
	// ErrNoProgram means the bundle does not hold this program: installing
	// it would leave a slot that cannot start.
	ErrNoProgram = errors.New("device: bundle does not hold this program")
)

// PublishFunc publishes a message; the uplink's Publish fits. It returns
// an error when it could not (not connected); the status is sent again.
type PublishFunc func(ctx context.Context, topic string, payload []byte, qos byte, retain bool) error

// Options configures a Device. The zero value of a field means its default.
type Options struct {
	// Root is the update root (slots, current link, update.db; see package
	// firmware/updater). Empty disables updates: every method is then a
	// no-op or refuses with ErrDisabled.
	Root string
	// RootKeys are the provisioned root public keys. When empty they are
	// read from RootKeysFile, default ROOT/roots.pub.
	RootKeys     []ed25519.PublicKey
	RootKeysFile string
	// Program is this program's file name in a slot, e.g. "sensord".
	// Default: the base name of os.Args[0].
	Program string
	// Args are the arguments of the restarted program (Args[0] included).
	// Default os.Args.
	Args []string
	// Exec restarts the program from path (ROOT/current/Program) with
	// args. Default: syscall.Exec with the environment, which keeps the
	// process id, so systemd sees the same service. A program that wants
	// to shut down cleanly first records the request, stops, and execs
	// itself; Exec then returns nil.
	Exec func(path string, args []string) error
	// Target overrides this device's target (default updater.DefaultTarget).
	Target string
	// Version is the running version (default version.Version).
	Version string
	// TrialDeadline is how long a new version has to become healthy.
	// Default 3 minutes.
	TrialDeadline time.Duration
	// MaxTrialStarts is how many starts a new version gets. Default 3.
	MaxTrialStarts int

	// Window, BlockTimeout and MaxRetries tune the transfer (see
	// transfer.ReceiverOptions); zero means its defaults.
	Window       int
	BlockTimeout time.Duration
	MaxRetries   int

	// USBDirs are glob patterns of folders where an inserted stick's
	// bundles appear (e.g. "/media/*/linli-update"); nil means no USB
	// watcher. USBPoll is how often they are looked at; default 5 s.
	USBDirs []string
	USBPoll time.Duration
	// Listen is the address of the LAN push endpoint (e.g. ":8470"); empty
	// means none. Token, when set, must be sent as "Authorization: Bearer
	// TOKEN".
	Listen string
	Token  string

	// Now is the clock; default time.Now.
	Now func() time.Time `json:"-"`
	// Logger; default slog.Default().
	Logger *slog.Logger `json:"-"`
	// StepHook is passed to updater.Options.StepHook: a test and
	// diagnostic seam called at each step of an install. Leave it nil.
	StepHook func(step string) `json:"-"`
}

func (o *Options) ensureDefaults() {
	if o.Program == "" && len(os.Args) > 0 {
		o.Program = filepath.Base(os.Args[0])
	}
	if o.Args == nil {
		o.Args = os.Args
	}
	if o.Exec == nil {
		o.Exec = func(path string, args []string) error { return syscall.Exec(path, args, os.Environ()) }
	}
	if o.Version == "" {
		o.Version = version.Version
	}
	if o.USBPoll <= 0 {
		o.USBPoll = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Device runs updates on one device. Create it with New, call Boot first,
// then Attach, and run it with Run. Its methods are safe for concurrent
// use.
type Device struct {
	opts Options
	log  *slog.Logger
	up   *updater.Updater // nil when disabled
	keys []ed25519.PublicKey

	mu        sync.Mutex
	boot      updater.BootStatus
	trial     *updater.Trial
	committed bool
	id        string
	db        *bolt.DB
	publish   PublishFunc
	rx        *transfer.Receiver
	last      contract.FirmwareStatus // the last status, persisted
	queue     []contract.FirmwareStatus
	busy      bool // an install is running
	restarted bool // Exec was called; do nothing more
	notify    chan struct{}
	sent      chan struct{} // closed and replaced whenever the queue empties
	start     chan struct{} // an offer arrived: run the receiver
	trialDone chan struct{} // closed by Commit or Rollback
	lanDone   chan struct{} // a LAN push was installed: restart
	lanAddr   string
}

// New opens the update state under opts.Root. With an empty Root it
// returns a disabled Device.
func New(opts *Options) (*Device, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	o.ensureDefaults()
	d := &Device{opts: o, log: o.Logger.With("component", "firmware"), notify: make(chan struct{}, 1),
		sent: make(chan struct{}), start: make(chan struct{}, 1), trialDone: make(chan struct{}), lanDone: make(chan struct{}, 1)}
	if o.Root == "" {
		return d, nil
	}
	d.keys = o.RootKeys
	if len(d.keys) == 0 {
		f := o.RootKeysFile
		if f == "" {
			f = filepath.Join(o.Root, "roots.pub")
		}
		k, err := bundle.LoadPublicKeys(f)
		if err != nil {
			return nil, fmt.Errorf("device: %w", err)
		}
		d.keys = k
	}
	up, err := updater.Open(&updater.Options{Root: o.Root, Roots: d.keys, Target: o.Target,
		TrialDeadline: o.TrialDeadline, MaxTrialStarts: o.MaxTrialStarts, Now: o.Now, Logger: o.Logger,
		StepHook: o.StepHook})
	if err != nil {
		return nil, fmt.Errorf("device: %w", err)
	}
	d.up = up
	return d, nil
}

// Enabled reports whether updates are on.
func (d *Device) Enabled() bool { return d.up != nil }

// Close closes the update state. Call it after Run returned.
func (d *Device) Close() error {
	if d.up == nil {
		return nil
	}
	return d.up.Close()
}

// Updater returns the updater, or nil when updates are disabled.
func (d *Device) Updater() *updater.Updater { return d.up }

// CurrentDir is the folder the running version is started from.
func (d *Device) CurrentDir() string {
	if d.up == nil {
		return ""
	}
	return d.up.CurrentDir()
}

// Boot must be called first at every start of the program, before
// anything that a broken new version could fail at. It counts a trial
// start; when the trial is over (too many starts, or past its deadline)
// it rolls back and restarts into the previous version through
// Options.Exec, and returns RolledBack only when Exec returns. Disabled,
// it returns Normal.
func (d *Device) Boot() (updater.BootStatus, error) {
	if d.up == nil {
		return updater.Normal, nil
	}
	st, t, err := d.up.Boot()
	d.mu.Lock()
	d.boot, d.trial = st, t
	if st != updater.OnTrial {
		close(d.trialDone)
	}
	d.mu.Unlock()
	if err != nil {
		return st, fmt.Errorf("device: boot: %w", err)
	}
	switch st {
	case updater.RolledBack:
		d.log.Warn("trial failed at start; restarting into the previous version", "version", t.Version)
		d.mu.Lock()
		d.restarted = true
		d.mu.Unlock()
		return st, d.exec()
	case updater.OnTrial:
		d.log.Info("new version on trial", "version", t.Version, "start", t.Starts, "deadline", t.Deadline)
	}
	return st, nil
}

// OnTrial reports whether this start is a trial not yet committed.
func (d *Device) OnTrial() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.boot == updater.OnTrial && !d.committed
}

func (d *Device) exec() error {
	path := filepath.Join(d.up.CurrentDir(), d.opts.Program)
	args := slices.Clone(d.opts.Args)
	if len(args) == 0 {
		args = []string{path}
	}
	args[0] = path
	d.log.Info("restarting", "path", path)
	if err := d.opts.Exec(path, args); err != nil {
		return fmt.Errorf("device: restart into %s: %w", path, err)
	}
	return nil
}

// Attach gives the Device the device's id, its bbolt file (which keeps
// the transfer's bitmap and the last status) and the way to publish. It
// works out what to report after a restart: the trial in progress, or the
// outcome of the last one. Call it once, after Boot and before Run.
func (d *Device) Attach(deviceID string, db *bolt.DB, publish PublishFunc) error {
	if d.up == nil {
		return nil
	}
	if !contract.ValidID(deviceID) || db == nil || publish == nil {
		return errors.New("device: Attach needs a valid device id, a db and a publish func")
	}
	rx, err := transfer.NewReceiver(db, &transfer.ReceiverOptions{Device: deviceID, Dir: filepath.Join(d.opts.Root, "incoming"),
		Window: d.opts.Window, Timeout: d.opts.BlockTimeout, MaxRetries: d.opts.MaxRetries,
		Request: func(ctx context.Context, p []byte) error {
			return retry(ctx, 5*time.Second, func() error {
				return publish(ctx, contract.DeviceTopic(deviceID, "fwreq"), p, 1, false)
			})
		},
		Progress: d.progress, Logger: d.opts.Logger})
	if err != nil {
		return fmt.Errorf("device: %w", err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	}); err != nil {
		return fmt.Errorf("device: %w", err)
	}
	var last contract.FirmwareStatus
	_ = db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucket).Get(keyStatus); v != nil {
			_ = json.Unmarshal(v, &last)
		}
		return nil
	})
	d.mu.Lock()
	d.id, d.db, d.publish, d.rx, d.last = deviceID, db, publish, rx, last
	d.mu.Unlock()
	if _, ok := rx.Status(); ok {
		d.kick() // resume the transfer that was in progress
	}
	d.reportBoot(last)
	return nil
}

var (
	bucket    = []byte("firmware")
	keyStatus = []byte("status")
	usbBucket = []byte("firmware-usb")
)

// reportBoot reports what this start means for the last update.
func (d *Device) reportBoot(last contract.FirmwareStatus) {
	d.mu.Lock()
	boot, t := d.boot, d.trial
	d.mu.Unlock()
	transferID := last.Transfer
	if boot == updater.OnTrial {
		if last.Version != t.Version || transferID == "" {
			transferID = "local"
		}
		d.report(contract.FirmwareStatus{Transfer: transferID, Version: t.Version, State: contract.FwTrial})
		return
	}
	if last.Transfer == "" {
		return
	}
	if last.State != contract.FwInstalling && last.State != contract.FwTrial {
		if last.State != contract.FwDownload {
			last.Running = "" // this process's version
			d.report(last)    // brokers lose retained messages: say it again
		}
		return
	}
	// The version was installed, or on trial, and we run normally now:
	// the updater's history says how it ended.
	out := contract.FirmwareStatus{Transfer: last.Transfer, Version: last.Version, State: contract.FwFailed,
		Error: "install did not complete (power loss or crash during install)"}
	if s, err := d.up.State(); err == nil {
		for _, r := range slices.Backward(s.History) {
			if r.Version != last.Version {
				continue
			}
			switch r.Step {
			case "committed", "kept":
				out.State, out.Error = contract.FwCommitted, ""
			case "rolled-back":
				out.State, out.Error = contract.FwRolledBack, r.Reason
			case "abandoned", "refused":
				out.Error = r.Reason
			default:
				continue
			}
			break
		}
	}
	d.report(out)
}

// progress is the Receiver's status callback (called with its lock held).
func (d *Device) progress(s contract.FirmwareStatus) { d.report(s) }

// report records s as the current status and queues it for publishing.
// Download progress replaces the progress queued before it. Running is
// this program's version unless s names another.
func (d *Device) report(s contract.FirmwareStatus) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s.Device == "" {
		s.Device = d.id
	}
	if s.Running == "" {
		s.Running = d.opts.Version
	}
	if s.State == contract.FwCommitted && s.Version != "" {
		s.Running = s.Version
	}
	prev := d.last
	d.last = s
	if s.State != contract.FwDownload || prev.State != contract.FwDownload || prev.Transfer != s.Transfer {
		if d.db != nil {
			b, _ := json.Marshal(s)
			if err := d.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put(keyStatus, b) }); err != nil {
				d.log.Error("keeping firmware status", "err", err)
			}
		}
	}
	if n := len(d.queue); n > 0 && s.State == contract.FwDownload && d.queue[n-1].State == contract.FwDownload {
		d.queue[n-1] = s
	} else {
		d.queue = append(d.queue, s)
	}
	if s.State == contract.FwFailed || s.State == contract.FwRolledBack {
		d.log.Warn("firmware update", "state", s.State, "version", s.Version, "transfer", s.Transfer, "reason", s.Error)
	} else if s.State != contract.FwDownload {
		d.log.Info("firmware update", "state", s.State, "version", s.Version, "transfer", s.Transfer)
	}
	select {
	case d.notify <- struct{}{}:
	default:
	}
}

// Status returns the last reported status; ok is false when there is none.
func (d *Device) Status() (contract.FirmwareStatus, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.last, d.last.State != ""
}

// Subscriptions returns the uplink subscriptions the transfer needs: the
// blocks on DeviceTopic(dev, "fw"). Nil when disabled or before Attach.
func (d *Device) Subscriptions() []uplink.Subscription {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.up == nil || d.rx == nil {
		return nil
	}
	rx := d.rx
	return []uplink.Subscription{{Topic: contract.DeviceTopic(d.id, "fw"), QoS: 1, Handle: func(_ string, p []byte) {
		if err := rx.HandleBlock(p); err != nil {
			d.log.Warn("firmware block dropped", "err", err)
		}
	}}}
}

func (d *Device) kick() {
	select {
	case d.start <- struct{}{}:
	default:
	}
}

// HandleCommand runs the "update" command: args are a transfer.Offer's
// Args. It starts (or resumes) the transfer and returns at once; the
// progress is reported on fwstatus. Other commands are refused.
func (d *Device) HandleCommand(ctx context.Context, c *contract.Command) *contract.CommandAck {
	ack := &contract.CommandAck{ID: c.ID, OK: true}
	fail := func(err error) *contract.CommandAck {
		ack.OK, ack.Error = false, err.Error()
		d.log.Warn("update command refused", "id", c.ID, "by", c.By, "err", err)
		return ack
	}
	if c.Name != contract.CmdUpdate {
		return fail(fmt.Errorf("device: unknown command %q", c.Name))
	}
	if d.up == nil {
		return fail(ErrDisabled)
	}
	o, err := transfer.OfferFromArgs(c.Args)
	if err != nil {
		return fail(fmt.Errorf("device: %w", err))
	}
	d.mu.Lock()
	rx := d.rx
	d.mu.Unlock()
	if rx == nil {
		return fail(errors.New("device: not attached yet"))
	}
	if err := d.checkOffer(o); err != nil {
		d.report(contract.FirmwareStatus{Transfer: o.Transfer, Version: o.Version, State: contract.FwFailed, Of: o.Blocks(), Error: err.Error()})
		return fail(err)
	}
	d.report(contract.FirmwareStatus{Transfer: o.Transfer, Version: o.Version, State: contract.FwOffered, Of: o.Blocks()})
	if err := rx.Offer(o); err != nil {
		d.report(contract.FirmwareStatus{Transfer: o.Transfer, Version: o.Version, State: contract.FwFailed, Of: o.Blocks(), Error: err.Error()})
		return fail(err)
	}
	d.kick()
	return ack
}

// checkOffer refuses, before any download, what would be refused anyway.
func (d *Device) checkOffer(o transfer.Offer) error {
	d.mu.Lock()
	busy, restarted := d.busy, d.restarted
	d.mu.Unlock()
	switch {
	case restarted:
		return fmt.Errorf("%w: restarting", ErrBusy)
	case busy:
		return fmt.Errorf("%w: installing", ErrBusy)
	case d.OnTrial():
		return fmt.Errorf("%w: this version is on trial", ErrBusy)
	case o.Version == d.opts.Version:
		return fmt.Errorf("%w: version %s runs already", ErrRefused, o.Version)
	}
	s, err := d.up.State()
	if err != nil {
		return err
	}
	if o.Security != 0 && o.Security < s.MinSecurity {
		return fmt.Errorf("%w: %w: %s has security version %d, this device accepted %d; not downloading it",
			ErrRefused, bundle.ErrRollback, o.Version, o.Security, s.MinSecurity)
	}
	if s.WasRolledBack(o.Version, o.Security, o.SHA256) {
		why := ""
		for _, r := range slices.Backward(s.History) {
			if r.Version == o.Version && r.Step == "rolled-back" {
				why = " (" + r.Reason + ")"
				break
			}
		}
		return fmt.Errorf("%w: this bundle of version %s was rolled back on this device%s; not downloading it again (release a new bundle)", ErrRefused, o.Version, why)
	}
	return nil
}

// Install checks and installs the bundle file at path into the inactive
// slot and starts its trial, without restarting; source names where it
// came from in the status ("usb", "lan", "local" or a transfer id). The
// next start of the program runs the new version on trial.
func (d *Device) Install(path, source string) (*bundle.Manifest, error) {
	return d.installAs(path, source, "", nil)
}

// installAs is Install, naming the version as version until the manifest
// is read, and calling finish (if not nil) before the outcome is reported.
func (d *Device) installAs(path, source, version string, finish func()) (*bundle.Manifest, error) {
	if finish == nil {
		finish = func() {}
	}
	if d.up == nil {
		finish()
		return nil, ErrDisabled
	}
	d.mu.Lock()
	if d.busy || d.restarted {
		d.mu.Unlock()
		finish()
		return nil, ErrBusy
	}
	d.busy = true
	d.mu.Unlock()
	m, err := d.installBusy(path, source, &version)
	d.mu.Lock()
	d.busy = false
	d.mu.Unlock()
	finish()
	if err != nil {
		d.report(contract.FirmwareStatus{Transfer: source, Version: version, State: contract.FwFailed, Error: err.Error()})
		return nil, err
	}
	return m, nil
}

func (d *Device) installBusy(path, source string, version *string) (*bundle.Manifest, error) {
	if d.OnTrial() {
		return nil, fmt.Errorf("%w: this version is on trial", ErrBusy)
	}
	m, err := d.peek(path)
	if err == nil {
		*version = m.Version
	}
	d.report(contract.FirmwareStatus{Transfer: source, Version: *version, State: contract.FwInstalling})
	if err == nil {
		err = d.checkProgram(m)
	}
	if err != nil {
		return nil, err
	}
	return d.up.Install(path)
}

// peek reads the manifest with only the signature checked, for the
// version's name in the status.
func (d *Device) peek(path string) (*bundle.Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return bundle.ReadManifest(f, bundle.Policy{Roots: d.keys})
}

// checkProgram refuses a bundle without an executable file named
// Options.Program: after the switch, nothing would start.
func (d *Device) checkProgram(m *bundle.Manifest) error {
	for _, f := range m.Files {
		if f.Name == d.opts.Program {
			if f.Mode&0o100 == 0 {
				return fmt.Errorf("%w: %s is not executable (mode %o)", ErrNoProgram, f.Name, f.Mode)
			}
			return nil
		}
	}
	return fmt.Errorf("%w: no file %s in bundle %s", ErrNoProgram, d.opts.Program, m.Version)
}

// InstallFile installs the bundle file at path (see Install) and restarts
// into it through Options.Exec.
func (d *Device) InstallFile(ctx context.Context, path, source string) (*bundle.Manifest, error) {
	m, err := d.Install(path, source)
	if err != nil {
		return nil, err
	}
	return m, d.restart(ctx)
}

// restart publishes what is queued (waiting up to 5 s) and execs the
// current version.
func (d *Device) restart(ctx context.Context) error {
	d.mu.Lock()
	d.restarted = true
	d.mu.Unlock()
	d.flush(ctx, 5*time.Second)
	return d.exec()
}

// flush waits until the status queue is published, ctx is done or wait passed.
func (d *Device) flush(ctx context.Context, wait time.Duration) {
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		d.mu.Lock()
		n, sent := len(d.queue), d.sent
		d.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-sent:
		case <-t.C:
			d.log.Warn("restarting with firmware status not yet published", "queued", n)
			return
		case <-ctx.Done():
			return
		}
	}
}

// Healthy commits the version on trial: call it once the program is
// started, connected to the broker and its hardware self-test passed. It
// does nothing when no trial is in progress.
func (d *Device) Healthy() error {
	d.mu.Lock()
	if d.up == nil || d.boot != updater.OnTrial || d.committed || d.restarted {
		d.mu.Unlock()
		return nil
	}
	d.mu.Unlock()
	if err := d.up.Commit(); err != nil {
		return fmt.Errorf("device: %w", err)
	}
	d.mu.Lock()
	d.committed = true
	t, last := d.trial, d.last
	close(d.trialDone)
	d.mu.Unlock()
	tr := last.Transfer
	if tr == "" {
		tr = "local"
	}
	d.report(contract.FirmwareStatus{Transfer: tr, Version: t.Version, State: contract.FwCommitted})
	return nil
}

// Unhealthy rolls the version on trial back at once, for reason (e.g. its
// hardware self-test failed), and restarts into the previous version. It
// does nothing when no trial is in progress.
func (d *Device) Unhealthy(ctx context.Context, reason string) error {
	d.mu.Lock()
	if d.up == nil || d.boot != updater.OnTrial || d.committed || d.restarted {
		d.mu.Unlock()
		return nil
	}
	d.restarted = true
	t, last := d.trial, d.last
	close(d.trialDone)
	d.mu.Unlock()
	if err := d.up.Rollback(reason); err != nil {
		return fmt.Errorf("device: %w", err)
	}
	tr := last.Transfer
	if tr == "" {
		tr = "local"
	}
	// The status says the version the device goes back to, not the one
	// this process still is for the moment before the restart: a campaign
	// takes the rolled-back status as final and reads Running from it.
	back := ""
	if s, err := d.up.State(); err == nil {
		back = s.Versions[s.Active]
	}
	d.report(contract.FirmwareStatus{Transfer: tr, Version: t.Version, State: contract.FwRolledBack, Error: reason, Running: back})
	d.flush(ctx, 5*time.Second)
	return d.exec()
}

// Run runs the transfer, the status publisher, the trial's deadline and,
// when configured, the USB watcher and the LAN endpoint, until ctx is
// done or the program restarts. Call Attach first. Disabled, it waits for
// ctx and returns nil.
func (d *Device) Run(ctx context.Context) error {
	if d.up == nil {
		<-ctx.Done()
		return nil
	}
	d.mu.Lock()
	attached := d.rx != nil
	d.mu.Unlock()
	if !attached {
		return errors.New("device: Run before Attach")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { d.publisher(ctx) })
	wg.Go(func() { d.receive(ctx) })
	wg.Go(func() { d.deadline(ctx) })
	if len(d.opts.USBDirs) > 0 {
		wg.Go(func() { d.watchUSB(ctx) })
	}
	if d.opts.Listen != "" {
		wg.Go(func() { d.serve(ctx) })
	}
	<-ctx.Done()
	return nil
}

// publisher publishes the queued statuses in order, retained, retrying
// every second while the publish fails (not connected).
func (d *Device) publisher(ctx context.Context) {
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		d.mu.Lock()
		var s *contract.FirmwareStatus
		if len(d.queue) > 0 {
			s = &d.queue[0]
		}
		var msg contract.FirmwareStatus
		if s != nil {
			msg = *s
		}
		id, pub := d.id, d.publish
		d.mu.Unlock()
		if s != nil {
			enc := msg // Encode fills in the header
			err := pub(ctx, contract.DeviceTopic(id, "fwstatus"), contract.MustEncode(&enc), 1, true)
			if err == nil {
				d.mu.Lock()
				if len(d.queue) > 0 && d.queue[0] == msg {
					d.queue = d.queue[1:]
				}
				if len(d.queue) == 0 {
					close(d.sent)
					d.sent = make(chan struct{})
				}
				d.mu.Unlock()
				continue
			}
			if ctx.Err() != nil {
				return
			}
			d.log.Debug("firmware status not published yet", "err", err)
			retry.Reset(time.Second)
		}
		select {
		case <-ctx.Done():
			return
		case <-d.notify:
		case <-retry.C:
		}
	}
}

// receive runs the Receiver whenever an offer (or a resumed transfer)
// asks for it, and installs what it assembles.
func (d *Device) receive(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.start:
		}
		d.mu.Lock()
		rx := d.rx
		d.mu.Unlock()
		if _, ok := rx.Status(); !ok {
			continue
		}
		path, o, err := rx.Run(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			// The receiver reported the failure; a new offer starts again.
			continue
		}
		_, err = d.installAs(path, o.Transfer, o.Version, rx.Finish)
		if err != nil {
			continue
		}
		if err := d.restart(ctx); err != nil {
			d.log.Error("restart after install failed; the new version starts at the next start", "err", err)
		}
		return
	}
}

// deadline rolls back a trial that has not become healthy in time.
func (d *Device) deadline(ctx context.Context) {
	d.mu.Lock()
	t, done := d.trial, d.trialDone
	onTrial := d.boot == updater.OnTrial
	d.mu.Unlock()
	if !onTrial {
		return
	}
	wait := t.Deadline.Sub(d.opts.Now())
	timer := time.NewTimer(max(wait, 0))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return
	case <-done:
		return
	case <-timer.C:
	}
	limit := t.Deadline.Sub(t.Started).Round(time.Second)
	if err := d.Unhealthy(ctx, fmt.Sprintf("did not become healthy (started, connected, self-test passed) within %s", limit)); err != nil {
		d.log.Error("rollback at the trial deadline", "err", err)
	}
}

// retry calls fn until it succeeds, ctx is done or limit passed, every
// 100 ms: a request made while the uplink is still connecting (a transfer
// resumed at start) is sent once it is up, not a whole timeout later.
func retry(ctx context.Context, limit time.Duration, fn func() error) error {
	deadline := time.Now().Add(limit)
	for {
		err := fn()
		if err == nil || ctx.Err() != nil || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
