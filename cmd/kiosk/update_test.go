//go:build !noos

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"linli/cmd/internal/bintest"
	"linli/firmware/transfer"
	"linli/mqtt/contract"
	"linli/mqtt/mqtttest"
)

// buildKiosk builds the kiosk (no tags: the PNG display, quick to build)
// as version into dir; extra are more -X settings.
func buildKiosk(t *testing.T, dir, version string, extra ...string) string {
	t.Helper()
	return bintest.BuildVersion(t, filepath.Join(dir, "kiosk-"+version), ".", version, extra...)
}

// TestFirmwareUpdateEndToEnd updates a running kiosk binary through a
// broker, the way the hub does (a transfer.Sender in the test stands in
// for gridhub/gridctl): v2 is transferred, installed, started on trial
// in the same process (exec) and committed once it draws and is
// connected; v3, a build that never becomes healthy, is rolled back at its
// trial deadline, and the kiosk runs v2 again.
func TestFirmwareUpdateEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the kiosk three times")
	}
	t0 := time.Now()
	work := t.TempDir()
	v1 := buildKiosk(t, work, "v1")
	v2 := buildKiosk(t, work, "v2")
	v3 := buildKiosk(t, work, "v3", "main.neverHealthy=drill")
	t.Logf("%s: built", time.Since(t0).Round(time.Millisecond))

	s := bintest.NewSigner(t, work, "kiosk")
	sign := func(version string, security uint64, bin string) string { return s.Bundle(version, security, bin, "") }
	// The kiosk's own update root, as kiosk.service lays it out.
	root := filepath.Join(work, "opt", "linli-kiosk")
	keyFile := filepath.Join(work, "roots.pub")
	s.WriteKeys(keyFile)
	s.Ship(root, sign("v1", 1, v1))

	url := mqtttest.Embedded(t)
	hub := mqtttest.Client(t, url, "hub")
	const dev = "kiosk-01"
	births := hub.Subscribe(contract.DeviceTopic(dev, "birth"), 1)
	statuses := hub.Subscribe(contract.DeviceTopic(dev, "fwstatus"), 1)
	acks := hub.Subscribe(contract.DeviceTopic(dev, "cmdack"), 1)
	reqs := hub.Subscribe(contract.DeviceTopic(dev, "fwreq"), 1)
	sender := transfer.NewSender(func(ctx context.Context, topic string, p []byte) error {
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
	run := exec.Command(filepath.Join(root, "current", "kiosk"), "run", "--device", dev, "--community", "c1",
		"--data", filepath.Join(work, "data"), "--display", "png:"+filepath.Join(work, "screen.png"), "--size", "320x240",
		"--broker", url, "--update-root", root, "--root-keys", keyFile, "--usb-dirs", "", "--trial-deadline", "10s")
	run.Env = append(os.Environ(), "HOME="+work)
	run.Stderr = &stderr
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- run.Wait() }()
	defer func() {
		run.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			run.Process.Kill()
			<-exited
			t.Error("the kiosk did not stop on SIGTERM")
		}
		if t.Failed() {
			t.Logf("kiosk log:\n%s", stderr.String())
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
		o, err := sender.Add(id, version, path, 128<<10)
		if err != nil {
			t.Fatal(err)
		}
		cmd := &contract.Command{ID: "c-" + id, Device: dev, Name: contract.CmdUpdate, Args: o.Args(), By: "maint-1", Time: time.Now()}
		hub.Publish(contract.DeviceTopic(dev, "cmd"), contract.MustEncode(cmd), 1, false)
		m := mqtttest.Next(t, acks)
		a, err := contract.Decode(m.Topic, m.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if ack := a.(*contract.CommandAck); !ack.OK || ack.ID != cmd.ID {
			t.Fatalf("ack of the offer of %s: %+v", version, ack)
		}
		return o
	}
	// next returns the next status of transfer o other than its download
	// progress.
	next := func(o transfer.Offer) contract.FirmwareStatus {
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
			if st.State != contract.FwDownload && st.State != contract.FwOffered && st.State != contract.FwVerifying {
				return st
			}
		}
	}
	t.Logf("%s: v1 runs", time.Since(t0).Round(time.Millisecond))

	o := offer("v2", sign("v2", 2, v2))
	for _, want := range []string{contract.FwInstalling, contract.FwTrial, contract.FwCommitted} {
		if st := next(o); st.State != want {
			t.Fatalf("status %s (%s), want %s", st.State, st.Error, want)
		}
	}
	if fw := firmware(); fw != "v2" {
		t.Fatalf("birth firmware %q after the update, want v2", fw)
	}
	t.Logf("%s: v2 committed", time.Since(t0).Round(time.Millisecond))

	o = offer("v3", sign("v3", 3, v3))
	for _, want := range []string{contract.FwInstalling, contract.FwTrial, contract.FwRolledBack} {
		st := next(o)
		if st.State != want {
			t.Fatalf("status %s (%s), want %s", st.State, st.Error, want)
		}
		if want == contract.FwRolledBack && (!strings.Contains(st.Error, "did not become healthy") || st.Running != "v2") {
			t.Errorf("rolled back with %q, running %q; want the deadline's reason, running v2", st.Error, st.Running)
		}
	}
	for _, want := range []string{"v3", "v2"} {
		if fw := firmware(); fw != want {
			t.Fatalf("birth firmware %q, want %s", fw, want)
		}
	}
	t.Logf("%s: v3 rolled back", time.Since(t0).Round(time.Millisecond))
	// Three restarts (into v2, into v3, back to v2), each an exec in the
	// same process, so systemd keeps tracking it.
	select {
	case err := <-exited:
		t.Fatalf("the kiosk exited: %v", err)
	default:
	}
	if got := strings.Count(stderr.String(), "restarting into "+filepath.Join(root, "current", "kiosk")); got != 3 {
		t.Errorf("%d restarts logged, want 3", got)
	}
	if !strings.Contains(stderr.String(), "never becomes healthy") {
		t.Errorf("v3 did not log why it stays on trial")
	}
}
