package main

import (
	"crypto/ed25519"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"linli/cmd/internal/bintest"
	"linli/firmware/updater"
)

// TestKillNineAtEveryInstallStep kills `sensord install` with SIGKILL at
// each step of the install (a build with pauseInstallAt=* stops there),
// then checks that ROOT/current/sensord starts and is the old version (the
// hook runs just before each step, the switch included), and that a
// normal install of the same bundle right after — no restart in between —
// succeeds, runs, and starts on trial. The kill inside the switch
// ("record-active": the current link renamed, the state not yet written)
// leaves the new version to start, on trial, and the updater's state
// naming its slot as the active one.
func TestKillNineAtEveryInstallStep(t *testing.T) {
	buildSensord(t) // skips under -short
	work := t.TempDir()
	v1 := buildVersion(t, work, "v1")
	v2 := buildVersion(t, work, "v2")
	v1pause := buildVersion(t, t.TempDir(), "v1", "main.pauseInstallAt=*")

	s := bintest.NewSigner(t, work, "sensord")
	keys := s.Keys
	keysFile := filepath.Join(work, "roots.pub")
	s.WriteKeys(keysFile)
	quiet := slog.New(slog.DiscardHandler)
	b0, b1, b2 := s.Bundle("v0", 1, v1, ""), s.Bundle("v1", 2, v1, ""), s.Bundle("v2", 3, v2, "")

	for _, step := range []string{"extract", "remove-old", "rename-slot", "record-trial", "switch", "record-active"} {
		t.Run(step, func(t *testing.T) {
			// Both slots full, v1 committed and running: the install of v2
			// replaces the older slot (v0, which is the v1 binary).
			root := filepath.Join(t.TempDir(), "opt")
			u, err := updater.Open(&updater.Options{Root: root, Roots: keys, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range []string{b0, b1} {
				if _, err := u.Install(b); err != nil {
					t.Fatal(err)
				}
				u.Commit()
			}
			u.Close()
			os.WriteFile(filepath.Join(root, "pause-install-at"), []byte(step), 0o644)

			cmd := command(t, v1pause, "install", "--update-root", root, "--root-keys", keysFile, b2)
			var out bintest.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			marker := filepath.Join(root, "install-paused")
			for {
				if b, err := os.ReadFile(marker); err == nil && string(b) == step {
					break
				}
				select {
				case err := <-exited:
					t.Fatalf("install exited before pausing at %s: %v\n%s", step, err, out.String())
				case <-time.After(10 * time.Millisecond):
				}
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			if err := <-exited; err == nil || !strings.Contains(err.Error(), "killed") {
				t.Fatalf("install after SIGKILL: %v, want killed", err)
			}

			current := filepath.Join(root, "current", "sensord")
			if step == "record-active" {
				killedInsideSwitch(t, root, current, keys)
				return
			}
			got, err := command(t, current, "version").CombinedOutput()
			if err != nil || !strings.HasPrefix(string(got), "sensord v1 (") {
				t.Fatalf("after kill -9 at %s, ROOT/current/sensord version: %v %q; want v1", step, err, got)
			}

			// A normal install of the same bundle, with nothing started in
			// between, works and leaves v2 on trial.
			got, err = command(t, v1, "install", "--update-root", root, "--root-keys", keysFile, b2).CombinedOutput()
			if err != nil || !strings.Contains(string(got), "installed v2") {
				t.Fatalf("install after kill -9 at %s: %v\n%s", step, err, got)
			}
			got, err = command(t, current, "version").CombinedOutput()
			if err != nil || !strings.HasPrefix(string(got), "sensord v2 (") {
				t.Errorf("after reinstall, ROOT/current/sensord version: %v %q; want v2", err, got)
			}
			u, err = updater.Open(&updater.Options{Root: root, Roots: keys, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			defer u.Close()
			if st, tr, err := u.Boot(); err != nil || st != updater.OnTrial || tr.Version != "v2" {
				t.Fatalf("Boot after reinstall = %v, %+v, %v; want v2 on trial", st, tr, err)
			}
			if err := u.Commit(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// killedInsideSwitch checks a device killed inside the switch of an
// install of v2: the link points at v2, which starts on trial, and once
// committed the updater's state names v2's slot as active (so that the
// next install goes to the other slot, not over the running version).
func killedInsideSwitch(t *testing.T, root, current string, keys []ed25519.PublicKey) {
	t.Helper()
	got, err := command(t, current, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(got), "sensord v2 (") {
		t.Fatalf("after kill -9 inside the switch, ROOT/current/sensord version: %v %q; want v2", err, got)
	}
	u, err := updater.Open(&updater.Options{Root: root, Roots: keys, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	st, tr, err := u.Boot()
	if err != nil || st != updater.OnTrial || tr.Version != "v2" {
		t.Fatalf("Boot after kill -9 inside the switch = %v, %+v, %v; want v2 on trial", st, tr, err)
	}
	if err := u.Commit(); err != nil {
		t.Fatal(err)
	}
	s, err := u.State()
	if err != nil {
		t.Fatal(err)
	}
	if s.Active != tr.Slot || s.Versions[s.Active] != "v2" {
		t.Errorf("state after kill -9 inside the switch: active %q (holds %q), want slot %s with v2", s.Active, s.Versions[s.Active], tr.Slot)
	}
}
