package updater

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"linli/firmware/bundle"
)

type fixture struct {
	t     *testing.T
	root  string
	priv  ed25519.PrivateKey
	roots []ed25519.PublicKey
	now   time.Time
}

func newFixture(t *testing.T) *fixture {
	privPEM, pubPEM, err := bundle.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	priv, _ := bundle.ParsePrivateKey(privPEM)
	roots, _ := bundle.ParsePublicKeys(pubPEM)
	return &fixture{t: t, root: t.TempDir(), priv: priv, roots: roots, now: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)}
}

func (f *fixture) open() *Updater {
	f.t.Helper()
	u, err := Open(&Options{Root: f.root, Roots: f.roots, Target: "linux/arm/7", Now: func() time.Time { return f.now }, MaxTrialStarts: 3, TrialDeadline: time.Minute})
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { u.Close() })
	return u
}

// bundleOf writes a bundle whose "sensord" file says version.
func (f *fixture) bundleOf(version string, security uint64, target string) string {
	f.t.Helper()
	return f.bundleWith(version, security, target, "sensord "+version)
}

// bundleWith writes a bundle whose "sensord" file holds body.
func (f *fixture) bundleWith(version string, security uint64, target, body string) string {
	f.t.Helper()
	dir := f.t.TempDir()
	bin := filepath.Join(dir, "sensord")
	if err := os.WriteFile(bin, []byte(body), 0o755); err != nil {
		f.t.Fatal(err)
	}
	path := filepath.Join(dir, version+".bundle")
	out, err := os.Create(path)
	if err != nil {
		f.t.Fatal(err)
	}
	defer out.Close()
	m := bundle.Manifest{Product: "linli", Version: version, Security: security, Target: target, Created: f.now}
	if err := bundle.Create(out, m, []bundle.Source{{Name: "sensord", Path: bin, Mode: 0o755}}, f.priv); err != nil {
		f.t.Fatal(err)
	}
	return path
}

// running returns what ROOT/current/sensord says: the version that starts.
func (f *fixture) running() string {
	f.t.Helper()
	b, err := os.ReadFile(filepath.Join(f.root, "current", "sensord"))
	if err != nil {
		f.t.Fatalf("no version starts: %v", err)
	}
	return string(b)
}

func (f *fixture) installCommitted(u *Updater, version string, security uint64) {
	f.t.Helper()
	if _, err := u.Install(f.bundleOf(version, security, "linux/arm/7")); err != nil {
		f.t.Fatalf("Install %s: %v", version, err)
	}
	if st, _, err := u.Boot(); err != nil || st != OnTrial {
		f.t.Fatalf("Boot after install = %v, %v; want on trial", st, err)
	}
	if err := u.Commit(); err != nil {
		f.t.Fatal(err)
	}
}

func TestInstallTrialCommit(t *testing.T) {
	f := newFixture(t)
	u := f.open()
	f.installCommitted(u, "v1", 1)
	f.installCommitted(u, "v2", 2)
	if got, want := f.running(), "sensord v2"; got != want {
		t.Errorf("running %q, want %q", got, want)
	}
	s, _ := u.State()
	if s.MinSecurity != 2 || s.Trial != nil || s.Active != "b" {
		t.Errorf("state = min %d trial %v active %q; want 2, nil, b", s.MinSecurity, s.Trial, s.Active)
	}
	if st, _, _ := u.Boot(); st != Normal {
		t.Errorf("Boot after commit = %v, want normal", st)
	}
	// Anti-rollback: v1 at security 1 is now refused.
	if _, err := u.Install(f.bundleOf("v1b", 1, "linux/arm/7")); !errors.Is(err, bundle.ErrRollback) {
		t.Errorf("Install of older security version = %v, want ErrRollback", err)
	}
}

func TestRefusalsChangeNothing(t *testing.T) {
	f := newFixture(t)
	u := f.open()
	f.installCommitted(u, "v1", 1)
	other := newFixture(t)
	for _, tc := range []struct {
		name   string
		bundle string
		want   error
	}{
		{"wrong target", f.bundleOf("v2", 2, "linux/arm64"), bundle.ErrWrongTarget},
		{"unknown key", other.bundleOf("v2", 2, "linux/arm/7"), bundle.ErrUnknownKey},
		{"same version", f.bundleOf("v1", 1, "linux/arm/7"), ErrSameVersion},
	} {
		if _, err := u.Install(tc.bundle); !errors.Is(err, tc.want) {
			t.Errorf("%s: Install = %v, want %v", tc.name, err, tc.want)
		}
		if got := f.running(); got != "sensord v1" {
			t.Errorf("%s: running %q after refusal", tc.name, got)
		}
	}
	s, _ := u.State()
	if n := len(s.History); n == 0 || s.History[n-1].Step != "refused" {
		t.Errorf("refusal not in history: %+v", s.History)
	}
}

func TestCrashLoopRollsBack(t *testing.T) {
	f := newFixture(t)
	u := f.open()
	f.installCommitted(u, "v1", 1)
	v2 := f.bundleOf("v2", 2, "linux/arm/7")
	if _, err := u.Install(v2); err != nil {
		t.Fatal(err)
	}
	// v2 starts three times and dies each time before Commit.
	for i := 1; i <= 3; i++ {
		st, tr, err := u.Boot()
		if err != nil || st != OnTrial || tr.Starts != i {
			t.Fatalf("start %d: Boot = %v %+v %v", i, st, tr, err)
		}
		if got := f.running(); got != "sensord v2" {
			t.Fatalf("start %d runs %q", i, got)
		}
	}
	st, _, err := u.Boot()
	if err != nil || st != RolledBack {
		t.Fatalf("4th Boot = %v, %v; want rolled back", st, err)
	}
	if got := f.running(); got != "sensord v1" {
		t.Errorf("after rollback running %q, want v1", got)
	}
	// No re-install loop: the same bundle is refused; a re-release of the
	// version string is not.
	if _, err := u.Install(v2); !errors.Is(err, ErrRolledBack) {
		t.Errorf("reinstall of rolled-back bundle = %v, want ErrRolledBack", err)
	}
	if _, err := u.Install(f.bundleOf("v2", 3, "linux/arm/7")); err != nil {
		t.Errorf("install of v2 with raised security version: %v", err)
	}
}

// TestReleaseAfterRollback: after v2 is rolled back, a fixed v2 with the
// same security version (another bundle) installs, and rolling that one
// back too refuses both bundles but not a third.
func TestReleaseAfterRollback(t *testing.T) {
	f := newFixture(t)
	u := f.open()
	f.installCommitted(u, "v1", 1)
	rollback := func(path string) {
		t.Helper()
		if _, err := u.Install(path); err != nil {
			t.Fatalf("Install: %v", err)
		}
		if st, _, err := u.Boot(); err != nil || st != OnTrial {
			t.Fatalf("Boot = %v, %v", st, err)
		}
		if err := u.Rollback("self-test failed"); err != nil {
			t.Fatal(err)
		}
	}
	first := f.bundleWith("v2", 2, "linux/arm/7", "sensord v2 (broken)")
	fixed := f.bundleWith("v2", 2, "linux/arm/7", "sensord v2 (fixed)")
	rollback(first)
	if _, err := u.Install(first); !errors.Is(err, ErrRolledBack) {
		t.Fatalf("the rolled-back bundle again: %v, want ErrRolledBack", err)
	}
	rollback(fixed)
	s, _ := u.State()
	if got := s.RolledBackBundles["v2"]; len(got) != 2 || s.RolledBack["v2"] != 2 {
		t.Errorf("rolled back: %v, %v; want both v2 bundles at security 2", s.RolledBack, s.RolledBackBundles)
	}
	for _, p := range []string{first, fixed} {
		if _, err := u.Install(p); !errors.Is(err, ErrRolledBack) {
			t.Errorf("rolled-back bundle %s: %v, want ErrRolledBack", filepath.Base(filepath.Dir(p)), err)
		}
	}
	if _, err := u.Install(f.bundleWith("v2", 2, "linux/arm/7", "sensord v2 (fixed again)")); err != nil {
		t.Errorf("a third v2 bundle: %v", err)
	}
	if got := f.running(); got != "sensord v2 (fixed again)" {
		t.Errorf("running %q", got)
	}
}

func TestWasRolledBack(t *testing.T) {
	s := &State{
		RolledBack:        map[string]uint64{"v2": 2, "v3": 3},
		RolledBackBundles: map[string][]string{"v2": {"aa"}}, // v3 was rolled back before hashes were kept
	}
	for _, tc := range []struct {
		version  string
		security uint64
		sha      string
		want     bool
	}{
		{"v1", 1, "aa", false}, // never rolled back
		{"v2", 2, "aa", true},  // the same bundle
		{"v2", 9, "aa", true},  // the same bundle, whatever an offer claims
		{"v2", 2, "bb", false}, // a re-release
		{"v2", 1, "bb", false}, // another bundle (anti-rollback is bundle.Policy's job)
		{"v2", 2, "", true},    // no hash: by security version
		{"v2", 3, "", false},
		{"v3", 3, "cc", true}, // no recorded hash: by security version
		{"v3", 4, "cc", false},
		{"v3", 0, "", true}, // an offer that does not say
	} {
		if got := s.WasRolledBack(tc.version, tc.security, tc.sha); got != tc.want {
			t.Errorf("WasRolledBack(%s, %d, %q) = %v, want %v", tc.version, tc.security, tc.sha, got, tc.want)
		}
	}
}

func TestDeadlineRollsBack(t *testing.T) {
	f := newFixture(t)
	u := f.open()
	f.installCommitted(u, "v1", 1)
	if _, err := u.Install(f.bundleOf("v2", 2, "linux/arm/7")); err != nil {
		t.Fatal(err)
	}
	if st, _, _ := u.Boot(); st != OnTrial {
		t.Fatal("not on trial")
	}
	f.now = f.now.Add(2 * time.Minute)
	if !u.Expired() {
		t.Fatal("Expired = false past the deadline")
	}
	if err := u.Rollback("broker not reached"); err != nil {
		t.Fatal(err)
	}
	if got := f.running(); got != "sensord v1" {
		t.Errorf("running %q, want v1", got)
	}
	s, _ := u.State()
	last := s.History[len(s.History)-1]
	if last.Step != "rolled-back" || last.Reason != "broker not reached" {
		t.Errorf("last history = %+v", last)
	}
}

// TestPowerLossAtEveryStep stops Install at each of its steps, as a power
// cut would, reopens the updater as a restarted device does, and checks
// that a complete version starts and a later install still works.
func TestPowerLossAtEveryStep(t *testing.T) {
	for _, step := range []string{"extract", "remove-old", "rename-slot", "record-trial", "switch", "record-active"} {
		t.Run(step, func(t *testing.T) {
			f := newFixture(t)
			u := f.open()
			f.installCommitted(u, "v1", 1)
			f.installCommitted(u, "v2", 2)
			u.crash = func(s string) error {
				if s == step {
					return fmt.Errorf("power cut at %s", s)
				}
				return nil
			}
			if _, err := u.Install(f.bundleOf("v3", 3, "linux/arm/7")); err == nil {
				t.Fatal("Install did not stop")
			}
			u.Close()
			u = f.open()
			st, _, err := u.Boot()
			if err != nil {
				t.Fatal(err)
			}
			got := f.running()
			if got != "sensord v2" && !(got == "sensord v3" && st == OnTrial) {
				t.Fatalf("after power cut at %s: runs %q (boot %v)", step, got, st)
			}
			if st == OnTrial {
				u.Commit()
			} else {
				f.installCommitted(u, "v3", 3)
			}
			// v3 runs, committed: the state must say so, and the next
			// install must go to the other slot, so that a rollback
			// finds v3 again.
			s, _ := u.State()
			if s.Versions[s.Active] != "v3" {
				t.Errorf("after power cut at %s: active slot %q holds %q, want v3", step, s.Active, s.Versions[s.Active])
			}
			if _, err := u.Install(f.bundleOf("v4", 4, "linux/arm/7")); err != nil {
				t.Fatal(err)
			}
			if st, _, err := u.Boot(); err != nil || st != OnTrial {
				t.Fatalf("Boot after install of v4 = %v, %v", st, err)
			}
			if err := u.Rollback("self-test failed"); err != nil {
				t.Fatal(err)
			}
			if got := f.running(); got != "sensord v3" {
				t.Errorf("after power cut at %s and a rolled-back v4: runs %q, want v3", step, got)
			}
		})
	}
}

// TestStepHook checks that Options.StepHook sees every step of Install, in
// order, and sees none for a refused bundle.
func TestStepHook(t *testing.T) {
	f := newFixture(t)
	var got []string
	u, err := Open(&Options{Root: f.root, Roots: f.roots, Target: "linux/arm/7", Now: func() time.Time { return f.now },
		StepHook: func(step string) { got = append(got, step) }})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if _, err := u.Install(f.bundleOf("v1", 1, "linux/amd64")); err == nil {
		t.Fatal("Install of a bundle for another target succeeded")
	}
	if len(got) != 0 {
		t.Errorf("steps of a refused install = %q, want none", got)
	}
	if _, err := u.Install(f.bundleOf("v1", 1, "linux/arm/7")); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprint([]string{"extract", "remove-old", "rename-slot", "record-trial", "switch", "record-active"})
	if fmt.Sprint(got) != want {
		t.Errorf("steps = %v, want %v", got, want)
	}
}

// TestInstallAfterCutBeforeSwitch: an install cut after the trial was
// recorded but before the switch leaves a trial that never started; a
// second Install (no Boot in between, as with `sensord install` run twice)
// must not be refused with ErrTrialInProgress.
func TestInstallAfterCutBeforeSwitch(t *testing.T) {
	f := newFixture(t)
	u := f.open()
	f.installCommitted(u, "v1", 1)
	u.crash = func(s string) error {
		if s == "switch" {
			return errors.New("power cut at switch")
		}
		return nil
	}
	if _, err := u.Install(f.bundleOf("v2", 2, "linux/arm/7")); err == nil {
		t.Fatal("Install did not stop")
	}
	u.Close()
	u = f.open()
	if _, err := u.Install(f.bundleOf("v2", 2, "linux/arm/7")); err != nil {
		t.Fatalf("Install after a cut before the switch: %v", err)
	}
	if got := f.running(); got != "sensord v2" {
		t.Errorf("runs %q, want sensord v2", got)
	}
	s, _ := u.State()
	if s.Trial == nil || s.Trial.Version != "v2" {
		t.Errorf("trial = %+v, want v2", s.Trial)
	}
	var steps []string
	for _, r := range s.History {
		steps = append(steps, r.Version+" "+r.Step)
	}
	if want := "[v1 installed v1 committed v2 installed v2 abandoned v2 installed]"; fmt.Sprint(steps) != want {
		t.Errorf("history = %v, want %s", steps, want)
	}
}
