package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"linli/cmd/internal/bintest"
	"linli/firmware/transfer"
	"linli/mqtt/contract"
	"linli/mqtt/mqtttest"
)

// buildVersion builds sensord as version into dir; extra are more -X
// settings.
func buildVersion(t *testing.T, dir, version string, extra ...string) string {
	t.Helper()
	return bintest.BuildVersion(t, filepath.Join(dir, "sensord-"+version), ".", version, extra...)
}

// TestFirmwareUpdateEndToEnd flashes a running amd64 sensord through a
// broker, the way the hub does (an embedded broker, with a
// transfer.Sender in the test standing in for gridhub/gridctl): refusals
// leave v1 running; v2 is transferred — with the device's connection cut
// halfway — verified, installed, started on trial and committed; a v3 whose
// self-test fails is rolled back by itself, and offering it again is
// refused without downloading it.
func TestFirmwareUpdateEndToEnd(t *testing.T) {
	buildSensord(t) // skips under -short
	t0 := time.Now()
	work := t.TempDir()
	v1 := buildVersion(t, work, "v1")
	v2 := buildVersion(t, work, "v2")
	v3 := buildVersion(t, work, "v3", "main.failSelfTest=drill")

	t.Logf("%s: built", time.Since(t0).Round(time.Millisecond))
	s := bintest.NewSigner(t, work, "sensord")
	root := filepath.Join(work, "opt")
	s.WriteKeys(filepath.Join(root, "roots.pub"))
	s.Ship(root, s.Bundle("v1", 1, v1, ""))

	srv, url := mqtttest.EmbeddedServer(t)
	hub := mqtttest.Client(t, url, "hub")
	const dev = "mb-0001"
	births := hub.Subscribe(contract.DeviceTopic(dev, "birth"), 1)
	statuses := hub.Subscribe(contract.DeviceTopic(dev, "fwstatus"), 1)
	acks := hub.Subscribe(contract.DeviceTopic(dev, "cmdack"), 1)
	reqs := hub.Subscribe(contract.DeviceTopic(dev, "fwreq"), 1)

	// The sender: answers block requests; cut, when set, is called with
	// the number of blocks published so far.
	var published atomic.Int64
	var cut atomic.Pointer[func(n int64)]
	var dropping atomic.Bool
	sender := transfer.NewSender(func(ctx context.Context, topic string, p []byte) error {
		n := published.Add(1)
		if f := cut.Load(); f != nil {
			(*f)(n)
		}
		if dropping.Load() {
			return nil // the device is about to be killed
		}
		return mqtttest.Wait(ctx, hub.Paho().Publish(topic, 1, false, p))
	})
	defer sender.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case m := <-reqs:
				msg, err := contract.Decode(m.Topic, m.Payload)
				if err != nil {
					t.Errorf("fwreq: %v", err)
					continue
				}
				if err := sender.HandleRequest(ctx, msg.(*contract.FirmwareRequest)); err != nil && ctx.Err() == nil {
					t.Logf("sender: %v", err)
				}
			}
		}
	})

	var stderr bintest.Buffer
	var run *exec.Cmd
	start := func() {
		run = command(t, filepath.Join(root, "current", "sensord"), "run", "--sim", "normal-day", "--speed", "20", "--exit-at-end=false",
			"--data", filepath.Join(work, "data"), "--broker", url, "--update-root", root, "--usb-dirs", "", "--trial-deadline", "40s")
		run.Stderr = &stderr
		if err := run.Start(); err != nil {
			t.Fatal(err)
		}
	}
	start()
	defer func() {
		run.Process.Signal(syscall.SIGTERM)
		run.Wait()
		if t.Failed() {
			t.Logf("sensord log:\n%s", stderr.String())
		}
	}()
	firmware := func() string {
		t.Helper()
		m := mqtttest.Next(t, births)
		b, err := contract.Decode(m.Topic, m.Payload)
		if err != nil {
			t.Fatal(err)
		}
		return b.(*contract.Birth).Firmware
	}
	if got := firmware(); got != "v1" {
		t.Fatalf("birth firmware %q, want v1", got)
	}

	n := 0
	offer := func(version, path string) transfer.Offer {
		t.Helper()
		n++
		id := fmt.Sprintf("t-%d", n)
		o, err := sender.Add(id, version, path, 0)
		if err != nil {
			t.Fatal(err)
		}
		cmd := &contract.Command{ID: "c-" + id, Device: dev, Name: contract.CmdUpdate, Args: o.Args(), By: "maint-1", Time: time.Now()}
		hub.Publish(contract.DeviceTopic(dev, "cmd"), contract.MustEncode(cmd), 1, false)
		return o
	}
	ack := func() *contract.CommandAck {
		t.Helper()
		m := mqtttest.Next(t, acks)
		a, err := contract.Decode(m.Topic, m.Payload)
		if err != nil {
			t.Fatal(err)
		}
		return a.(*contract.CommandAck)
	}
	// next returns the next status of transfer o that is not download
	// progress; progress is collected into seen.
	next := func(o transfer.Offer, seen *[]contract.FirmwareStatus) contract.FirmwareStatus {
		t.Helper()
		for {
			m := mqtttest.Next(t, statuses)
			v, err := contract.Decode(m.Topic, m.Payload)
			if err != nil {
				t.Fatal(err)
			}
			st := *v.(*contract.FirmwareStatus)
			if st.Transfer != o.Transfer {
				continue // a retained status of an earlier transfer
			}
			if seen != nil {
				*seen = append(*seen, st)
			}
			if st.State != contract.FwDownload && st.State != contract.FwOffered && st.State != contract.FwVerifying {
				return st
			}
		}
	}

	t.Logf("%s: v1 runs", time.Since(t0).Round(time.Millisecond))
	// Refusals: v1 keeps running. They are refused before any file is
	// looked at, so a small stand-in for the binary keeps them quick.
	v2b := s.Bundle("v2", 2, v2, "")
	small := filepath.Join(work, "small")
	rnd := make([]byte, 64<<10)
	rand.Read(rnd)
	os.WriteFile(small, rnd, 0o755)
	b, _ := os.ReadFile(s.Bundle("v2s", 2, small, ""))
	flipped := filepath.Join(work, "flipped.bundle")
	b2 := bytes.Clone(b)
	b2[len(b2)/2] ^= 0x01
	os.WriteFile(flipped, b2, 0o644)
	truncated := filepath.Join(work, "truncated.bundle")
	os.WriteFile(truncated, b[:len(b)/2], 0o644)
	other := bintest.NewSigner(t, t.TempDir(), "sensord")
	for _, c := range []struct{ name, path, want string }{
		{"unknown key", other.Bundle("v2", 2, small, ""), "unknown key"},
		{"wrong arch", s.Bundle("v2", 2, small, "linux/arm/7"), "another target"},
		{"older security", s.Bundle("v2", 0, small, ""), "older security version"},
		{"truncated", truncated, "truncated"},
		{"one flipped bit", flipped, "bundle: "},
	} {
		o := offer("v2", c.path)
		if a := ack(); !a.OK {
			t.Fatalf("%s: ack %+v", c.name, a)
		}
		st := next(o, nil)
		if st.State == contract.FwInstalling {
			st = next(o, nil)
		}
		if st.State != contract.FwFailed || !strings.Contains(st.Error, c.want) || st.Running != "v1" {
			t.Errorf("%s: status %s %q running %s, want failed with %q", c.name, st.State, st.Error, st.Running, c.want)
		}
	}

	t.Logf("%s: refusals done", time.Since(t0).Round(time.Millisecond))
	// v2, with the device's connection cut halfway.
	o := offer("v2", v2b)
	half := int64(o.Blocks() / 2)
	before := published.Load()
	var once sync.Once
	var wasCut atomic.Bool
	cutf := func(n int64) {
		if n-before >= half {
			once.Do(func() {
				if cl, ok := srv.Clients.Get(dev); ok {
					cl.Stop(errors.New("test: connection cut"))
					wasCut.Store(true)
				}
			})
		}
	}
	cut.Store(&cutf)
	if a := ack(); !a.OK {
		t.Fatalf("ack %+v", a)
	}
	var seen []contract.FirmwareStatus
	for _, want := range []string{contract.FwInstalling, contract.FwTrial, contract.FwCommitted} {
		if st := next(o, &seen); st.State != want {
			t.Fatalf("status %s (%s), want %s", st.State, st.Error, want)
		}
	}
	cut.Store(nil)
	if !wasCut.Load() {
		t.Error("the device's connection was not cut")
	}
	if sent := sender.Sent(o.Transfer); sent > o.Blocks()+64 {
		t.Errorf("%d blocks sent for %d: the transfer started over", sent, o.Blocks())
	}
	var states []string
	for _, st := range seen {
		if len(states) == 0 || states[len(states)-1] != st.State {
			states = append(states, st.State)
		}
	}
	if got := strings.Join(states, " "); !strings.HasPrefix(got, "offered downloading") || !strings.Contains(got, "downloading verifying installing trial committed") {
		t.Errorf("states %s", got)
	}
	// Births: v1 again after the cut, then v2.
	for fw := firmware(); fw != "v2"; fw = firmware() {
		if fw != "v1" {
			t.Fatalf("birth firmware %q", fw)
		}
	}

	t.Logf("%s: v2 committed", time.Since(t0).Round(time.Millisecond))
	// v3 fails its self-test: rolled back to v2 by itself. Its transfer
	// is interrupted by a kill -9 halfway and resumes after the restart
	// without a new offer.
	v3b := s.Bundle("v3", 3, v3, "")
	o = offer("v3", v3b)
	before = published.Load()
	cutf = func(n int64) {
		if n-before >= int64(o.Blocks()/2) {
			dropping.Store(true)
		}
	}
	cut.Store(&cutf)
	ack()
	var kept contract.FirmwareStatus
	for !dropping.Load() || kept.Count == 0 {
		m := mqtttest.Next(t, statuses)
		v, err := contract.Decode(m.Topic, m.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if st := v.(*contract.FirmwareStatus); st.Transfer == o.Transfer && st.State == contract.FwDownload {
			kept = *st
		} else if st.Transfer == o.Transfer && st.State != contract.FwOffered {
			t.Fatalf("status %+v before the kill", st)
		}
	}
	run.Process.Kill()
	run.Wait()
	cut.Store(nil)
	dropping.Store(false)
	sentBeforeKill := sender.Sent(o.Transfer)
	start()
	var after []contract.FirmwareStatus
	for _, want := range []string{contract.FwInstalling, contract.FwTrial, contract.FwRolledBack} {
		st := next(o, &after)
		if st.State != want {
			t.Fatalf("status %s (%s), want %s", st.State, st.Error, want)
		}
		if want == contract.FwRolledBack && !strings.Contains(st.Error, "self-test failed: drill") {
			t.Errorf("rolled back for %q", st.Error)
		}
	}
	for _, st := range after {
		if st.State == contract.FwDownload && st.Count < kept.Count {
			t.Errorf("after the kill the transfer went back to %d blocks; %d were kept", st.Count, kept.Count)
		}
	}
	if resent, missing := sender.Sent(o.Transfer)-sentBeforeKill, o.Blocks()-kept.Count; resent > missing+64 {
		t.Errorf("after the kill %d blocks were sent, %d were missing", resent, missing)
	}
	// Births: v3 (on trial), then v2 again.
	for fw := firmware(); fw != "v3"; fw = firmware() {
		if fw != "v2" {
			t.Fatalf("birth firmware %q", fw)
		}
	}
	if fw := firmware(); fw != "v2" {
		t.Fatalf("birth firmware %q after the rollback", fw)
	}
	t.Logf("%s: v3 rolled back", time.Since(t0).Round(time.Millisecond))
	// Offered again: refused at once, nothing downloaded.
	sentBefore := published.Load()
	offer("v3", v3b)
	if a := ack(); a.OK || !strings.Contains(a.Error, "rolled back") {
		t.Errorf("re-offer of v3: %+v", a)
	}
	if published.Load() != sentBefore {
		t.Errorf("%d blocks of a rolled-back version sent", published.Load()-sentBefore)
	}
}

// TestInstallCommand is the on-site path: `sensord install` puts a bundle
// into an empty update root; the installed copy runs; a forged bundle is
// refused with the reason.
func TestInstallCommand(t *testing.T) {
	bin := buildSensord(t)
	work := t.TempDir()
	s := bintest.NewSigner(t, work, "sensord")
	keys := filepath.Join(work, "roots.pub")
	s.WriteKeys(keys)
	root := filepath.Join(work, "opt")

	other := bintest.NewSigner(t, t.TempDir(), "sensord")
	out, err := command(t, bin, "install", "--update-root", root, "--root-keys", keys, other.Bundle("dev", 1, bin, "")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "unknown key — possible attack") {
		t.Errorf("install of a bundle signed by another key: %v\n%s", err, out)
	}
	out, err = command(t, bin, "install", "--update-root", root, "--root-keys", keys, s.Bundle("dev", 1, bin, "")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "installed dev") {
		t.Fatalf("install: %v\n%s", err, out)
	}
	out, err = command(t, filepath.Join(root, "current", "sensord"), "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "sensord dev (") {
		t.Errorf("installed sensord version: %v %s", err, out)
	}
}
