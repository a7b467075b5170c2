package updater

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"linli/firmware/bundle"
)

// Errors of Install, besides the bundle's own refusals (bundle.ErrBadSignature, …).
var (
	// ErrRolledBack means the bundle was rolled back on this device
	// before (see State.WasRolledBack): the same bundle is not installed
	// again, while a re-release of its version string (another bundle, or
	// a higher security version) is.
	ErrRolledBack = errors.New("updater: version was rolled back before")
	// ErrTrialInProgress means another version is on trial.
	ErrTrialInProgress = errors.New("updater: a trial is in progress")
	// ErrSameVersion means the bundle is the version running now.
	ErrSameVersion = errors.New("updater: version already running")
)

// Options configures an Updater.
type Options struct {
	// Root is the folder holding the slots, the current link and
	// update.db. Required.
	Root string
	// Roots are the provisioned root public keys. Required.
	Roots []ed25519.PublicKey
	// Product is the product bundles must name; "" accepts any.
	Product string
	// Target is this device's target, e.g. "linux/arm/7". Default: the
	// running binary's GOOS/GOARCH (and GOARM for arm, see DefaultTarget).
	Target string
	// TrialDeadline is how long a new version has to call Commit. Default 3 min.
	TrialDeadline time.Duration
	// MaxTrialStarts is how many starts a new version gets before it is
	// rolled back. Default 3.
	MaxTrialStarts int
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger; default slog.Default().
	Logger *slog.Logger
	// StepHook, when not nil, is called with the name of each step of
	// Install just before it is taken: "extract", "remove-old",
	// "rename-slot", "record-trial", "switch" (the current link) and
	// "record-active" (the link is switched, the state not yet written).
	// It is a seam for tests
	// and diagnostics (e.g. a test build that pauses there so the process
	// can be killed at that exact point); production code leaves it nil.
	StepHook func(step string)
}

func (o *Options) ensureDefaults() {
	if o.Target == "" {
		o.Target = DefaultTarget()
	}
	if o.TrialDeadline <= 0 {
		o.TrialDeadline = 3 * time.Minute
	}
	if o.MaxTrialStarts <= 0 {
		o.MaxTrialStarts = 3
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// DefaultTarget is the target of the running binary: "GOOS/GOARCH", with
// "/GOARM" for arm (taken from the build settings).
func DefaultTarget() string {
	t := runtime.GOOS + "/" + runtime.GOARCH
	if runtime.GOARCH == "arm" {
		t += "/" + goarm()
	}
	return t
}

// Trial is a version on trial.
type Trial struct {
	Version  string    `json:"version"`
	Security uint64    `json:"security_version"`
	Bundle   string    `json:"bundle_sha256,omitempty"` // sha256 of the bundle file, lower-case hex
	Slot     string    `json:"slot"`
	Previous string    `json:"previous"` // slot to roll back to; "" on first install
	Started  time.Time `json:"started"`
	Deadline time.Time `json:"deadline"`
	Starts   int       `json:"starts"`
}

// Record is one entry of the update history.
type Record struct {
	At      time.Time `json:"at"`
	Version string    `json:"version"`
	Step    string    `json:"step"` // installed, committed, rolled-back, refused
	Reason  string    `json:"reason,omitempty"`
}

// State is the updater's persistent state.
type State struct {
	Active      string            `json:"active"`   // slot current points at
	Versions    map[string]string `json:"versions"` // slot → version
	MinSecurity uint64            `json:"min_security"`
	Trial       *Trial            `json:"trial,omitempty"`
	RolledBack  map[string]uint64 `json:"rolled_back,omitempty"` // version → highest security version rolled back
	// RolledBackBundles lists, per version, the sha256 of each bundle of
	// it that was rolled back (lower-case hex; none for rollbacks recorded
	// before bundle hashes were kept).
	RolledBackBundles map[string][]string `json:"rolled_back_bundles,omitempty"`
	History           []Record            `json:"history,omitempty"`
}

// WasRolledBack reports whether the bundle of version, at security
// version security, whose file has the sha256 bundleSHA (lower-case hex;
// "" if unknown), is one this device rolled back, and so must not be
// installed again. The rule: a bundle is identified by its file's hash
// when both it and the record of that version's rollbacks have one: a
// different bundle of the same version string (a fixed re-release,
// signed anew) is accepted, the same bundle never. Without a hash on
// either side it falls back to the security version: accepted only above
// the highest security version of that version string rolled back (0, an
// offer that does not say, is never above). A version never rolled back
// is accepted.
func (s *State) WasRolledBack(version string, security uint64, bundleSHA string) bool {
	sec, ok := s.RolledBack[version]
	if !ok {
		return false
	}
	if hashes := s.RolledBackBundles[version]; bundleSHA != "" && len(hashes) > 0 {
		return slices.Contains(hashes, bundleSHA)
	}
	return security <= sec
}

// Updater manages the slots under Options.Root. It is not safe for use by
// two processes at once (bbolt's file lock enforces that).
type Updater struct {
	opts Options
	db   *bolt.DB
	log  *slog.Logger
	// crash, when set by tests, is called at each step of Install; an error
	// stops Install there, as a power cut would.
	crash func(step string) error
}

func (u *Updater) step(name string) error {
	if u.opts.StepHook != nil {
		u.opts.StepHook(name)
	}
	if u.crash != nil {
		return u.crash(name)
	}
	return nil
}

var (
	bucket   = []byte("updater")
	stateKey = []byte("state")
)

const maxHistory = 50

// Open opens (creating if needed) the updater state under opts.Root.
func Open(opts *Options) (*Updater, error) {
	if opts == nil || opts.Root == "" {
		return nil, errors.New("updater: Options.Root is required")
	}
	o := *opts
	o.ensureDefaults()
	if len(o.Roots) == 0 {
		return nil, errors.New("updater: no root keys provisioned")
	}
	if err := os.MkdirAll(filepath.Join(o.Root, "slots"), 0o755); err != nil {
		return nil, fmt.Errorf("updater: %w", err)
	}
	db, err := bolt.Open(filepath.Join(o.Root, "update.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("updater: open state: %w", err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("updater: open state: %w", err)
	}
	return &Updater{opts: o, db: db, log: o.Logger.With("component", "updater")}, nil
}

// Close closes the state file.
func (u *Updater) Close() error { return u.db.Close() }

// State returns the persistent state, with Active read from the current
// link when there is one.
func (u *Updater) State() (State, error) {
	var s State
	err := u.db.View(func(tx *bolt.Tx) error {
		var err error
		s, err = load(tx)
		return err
	})
	// The current link is what starts: it wins over the recorded slot,
	// which lags behind it when the process stopped inside a switch
	// (link renamed, state not yet written).
	if cur := u.currentSlot(); cur != "" {
		s.Active = cur
	}
	return s, err
}

func load(tx *bolt.Tx) (State, error) {
	s := State{Versions: map[string]string{}, RolledBack: map[string]uint64{}}
	if b := tx.Bucket(bucket).Get(stateKey); b != nil {
		if err := json.Unmarshal(b, &s); err != nil {
			return s, fmt.Errorf("updater: state: %w", err)
		}
	}
	if s.Versions == nil {
		s.Versions = map[string]string{}
	}
	if s.RolledBack == nil {
		s.RolledBack = map[string]uint64{}
	}
	return s, nil
}

func (u *Updater) update(fn func(s *State) error) error {
	return u.db.Update(func(tx *bolt.Tx) error {
		s, err := load(tx)
		if err != nil {
			return err
		}
		if err := fn(&s); err != nil {
			return err
		}
		if len(s.History) > maxHistory {
			s.History = s.History[len(s.History)-maxHistory:]
		}
		b, err := json.Marshal(s)
		if err != nil {
			return err
		}
		return tx.Bucket(bucket).Put(stateKey, b)
	})
}

func (u *Updater) slotDir(slot string) string { return filepath.Join(u.opts.Root, "slots", slot) }

// CurrentDir is the folder systemd starts the program from (a symlink to
// the active slot).
func (u *Updater) CurrentDir() string { return filepath.Join(u.opts.Root, "current") }

// currentSlot reads the current link: "a", "b" or "" when there is none.
func (u *Updater) currentSlot() string {
	target, err := os.Readlink(u.CurrentDir())
	if err != nil {
		return ""
	}
	return filepath.Base(target)
}

func other(slot string) string {
	if slot == "a" {
		return "b"
	}
	return "a"
}

// Install verifies the bundle at path and installs it into the inactive
// slot, then switches the current link to it and starts its trial. The
// caller restarts into CurrentDir afterwards. A refused bundle changes
// nothing on the device, and the refusal is kept in the history.
func (u *Updater) Install(bundlePath string) (*bundle.Manifest, error) {
	s, err := u.State()
	if err != nil {
		return nil, err
	}
	if s.Trial != nil && u.currentSlot() != s.Trial.Slot {
		// An install was cut between recording the trial and the switch,
		// and nothing has started since (Boot would have done this).
		if err := u.abandon(s.Trial); err != nil {
			return nil, err
		}
		s.Trial = nil
	}
	if s.Trial != nil {
		return nil, fmt.Errorf("%w: %s", ErrTrialInProgress, s.Trial.Version)
	}
	f, err := os.Open(bundlePath)
	if err != nil {
		return nil, fmt.Errorf("updater: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("updater: %w", err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("updater: %w", err)
	}
	policy := bundle.Policy{Roots: u.opts.Roots, Target: u.opts.Target, MinSecurity: s.MinSecurity, Product: u.opts.Product}
	m, err := bundle.ReadManifest(f, policy)
	if err == nil {
		if s.WasRolledBack(m.Version, m.Security, sum) {
			err = fmt.Errorf("%w: %s (security version %d, bundle %.12s); release a new bundle to retry", ErrRolledBack, m.Version, m.Security, sum)
		} else if s.Versions[s.Active] == m.Version {
			err = fmt.Errorf("%w: %s", ErrSameVersion, m.Version)
		}
	}
	if err != nil {
		u.refused(bundlePath, err)
		return nil, err
	}
	active := s.Active
	slot := other(active)
	if active == "" {
		slot = "a"
	}
	tmp := u.slotDir(slot) + ".new"
	if err := os.RemoveAll(tmp); err != nil {
		return nil, fmt.Errorf("updater: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("updater: %w", err)
	}
	if err := u.step("extract"); err != nil {
		return nil, err
	}
	if m, err = bundle.Verify(f, policy, tmp); err != nil {
		u.refused(bundlePath, err)
		return nil, err
	}
	if err := u.step("remove-old"); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(u.slotDir(slot)); err != nil {
		return nil, fmt.Errorf("updater: %w", err)
	}
	if err := u.step("rename-slot"); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, u.slotDir(slot)); err != nil {
		return nil, fmt.Errorf("updater: %w", err)
	}
	if err := bundle.SyncDir(filepath.Dir(tmp)); err != nil {
		return nil, err
	}
	if err := u.step("record-trial"); err != nil {
		return nil, err
	}
	now := u.opts.Now()
	if err := u.update(func(s *State) error {
		s.Versions[slot] = m.Version
		s.Trial = &Trial{Version: m.Version, Security: m.Security, Bundle: sum, Slot: slot, Previous: active,
			Started: now, Deadline: now.Add(u.opts.TrialDeadline)}
		s.History = append(s.History, Record{At: now, Version: m.Version, Step: "installed", Reason: "slot " + slot})
		return nil
	}); err != nil {
		return nil, fmt.Errorf("updater: record trial: %w", err)
	}
	if err := u.step("switch"); err != nil {
		return nil, err
	}
	if err := u.link(slot); err != nil {
		return nil, err
	}
	if err := u.step("record-active"); err != nil {
		return nil, err
	}
	if err := u.recordActive(slot); err != nil {
		return nil, err
	}
	u.log.Info("installed on trial", "version", m.Version, "slot", slot, "previous", active)
	return m, nil
}

func (u *Updater) refused(path string, err error) {
	u.log.Warn("bundle refused", "bundle", path, "err", err)
	_ = u.update(func(s *State) error {
		s.History = append(s.History, Record{At: u.opts.Now(), Version: filepath.Base(path), Step: "refused", Reason: err.Error()})
		return nil
	})
}

// switchTo points the current link at slot and records it as active.
func (u *Updater) switchTo(slot string) error {
	if err := u.link(slot); err != nil {
		return err
	}
	return u.recordActive(slot)
}

// recordActive records slot as the active one. The current link is the
// truth (State reads it), so a stop between link and recordActive leaves
// nothing stale.
func (u *Updater) recordActive(slot string) error {
	return u.update(func(s *State) error { s.Active = slot; return nil })
}

// link points the current link at slot atomically: a new link under a
// temporary name, renamed over the old one, and the folder fsync'd.
func (u *Updater) link(slot string) error {
	tmp := u.CurrentDir() + ".tmp"
	os.Remove(tmp)
	if err := os.Symlink(filepath.Join("slots", slot), tmp); err != nil {
		return fmt.Errorf("updater: switch: %w", err)
	}
	if err := os.Rename(tmp, u.CurrentDir()); err != nil {
		return fmt.Errorf("updater: switch: %w", err)
	}
	return bundle.SyncDir(u.opts.Root)
}

// BootStatus tells the caller of Boot what to do.
type BootStatus int

const (
	// Normal means no trial; run.
	Normal BootStatus = iota
	// OnTrial means this start is a trial of a new version; run, and call Commit
	// once healthy (or Rollback if the self-test fails).
	OnTrial
	// RolledBack means the trial failed; the current link points at the previous
	// version again. The caller must restart into CurrentDir now.
	RolledBack
)

func (b BootStatus) String() string {
	return [...]string{"normal", "on trial", "rolled back"}[b]
}

// Boot must be called first at every start of the program. It counts
// trial starts and rolls back a trial that has used up its starts or its
// deadline.
func (u *Updater) Boot() (BootStatus, *Trial, error) {
	s, err := u.State()
	if err != nil {
		return Normal, nil, err
	}
	t := s.Trial
	if t == nil {
		return Normal, nil, nil
	}
	if u.currentSlot() != t.Slot {
		return Normal, nil, u.abandon(t)
	}
	now := u.opts.Now()
	switch {
	case t.Starts >= u.opts.MaxTrialStarts:
		return u.rollback(t, fmt.Sprintf("did not become healthy in %d starts", t.Starts))
	case now.After(t.Deadline):
		return u.rollback(t, fmt.Sprintf("did not become healthy within %s", u.opts.TrialDeadline))
	}
	t.Starts++
	if err := u.update(func(s *State) error { s.Trial = t; return nil }); err != nil {
		return Normal, nil, err
	}
	return OnTrial, t, nil
}

// abandon drops trial t whose switch never happened (power was lost, or
// the process killed, during Install): the old version runs, and the
// trial never started.
func (u *Updater) abandon(t *Trial) error {
	return u.update(func(s *State) error {
		s.Trial = nil
		s.History = append(s.History, Record{At: u.opts.Now(), Version: t.Version, Step: "abandoned", Reason: "switch did not happen (power loss during install)"})
		return nil
	})
}

// Expired reports whether the trial in progress is past its deadline; a
// running program checks it while it waits to become healthy, and calls
// Rollback when it is.
func (u *Updater) Expired() bool {
	s, err := u.State()
	return err == nil && s.Trial != nil && u.opts.Now().After(s.Trial.Deadline)
}

// Commit ends the trial: the new version stays, and its security version
// becomes the anti-rollback floor.
func (u *Updater) Commit() error {
	var v string
	err := u.update(func(s *State) error {
		if s.Trial == nil {
			return nil
		}
		v = s.Trial.Version
		if s.Trial.Security > s.MinSecurity {
			s.MinSecurity = s.Trial.Security
		}
		s.History = append(s.History, Record{At: u.opts.Now(), Version: v, Step: "committed"})
		s.Trial = nil
		return nil
	})
	if err != nil {
		return fmt.Errorf("updater: commit: %w", err)
	}
	if v != "" {
		u.log.Info("committed", "version", v)
	}
	return nil
}

// Rollback ends the trial in progress by going back to the previous
// version, for reason. The caller must restart into CurrentDir.
func (u *Updater) Rollback(reason string) error {
	s, err := u.State()
	if err != nil || s.Trial == nil {
		return err
	}
	_, _, err = u.rollback(s.Trial, reason)
	return err
}

func (u *Updater) rollback(t *Trial, reason string) (BootStatus, *Trial, error) {
	if t.Previous == "" {
		// First install: nothing to go back to. Keep running it.
		err := u.update(func(s *State) error {
			s.Trial = nil
			s.History = append(s.History, Record{At: u.opts.Now(), Version: t.Version, Step: "kept", Reason: reason + "; no previous version"})
			return nil
		})
		return Normal, nil, err
	}
	if err := u.update(func(s *State) error {
		s.Trial = nil
		if t.Security >= s.RolledBack[t.Version] {
			s.RolledBack[t.Version] = t.Security
		}
		if t.Bundle != "" {
			if s.RolledBackBundles == nil {
				s.RolledBackBundles = map[string][]string{}
			}
			s.RolledBackBundles[t.Version] = append(s.RolledBackBundles[t.Version], t.Bundle)
		}
		s.History = append(s.History, Record{At: u.opts.Now(), Version: t.Version, Step: "rolled-back", Reason: reason})
		return nil
	}); err != nil {
		return Normal, nil, fmt.Errorf("updater: rollback: %w", err)
	}
	if err := u.switchTo(t.Previous); err != nil {
		return Normal, nil, err
	}
	u.log.Warn("rolled back", "version", t.Version, "to_slot", t.Previous, "reason", reason)
	return RolledBack, t, nil
}
