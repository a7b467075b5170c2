package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"linli/mqtt/contract"
)

// TestStoreLost: sensord's file is lost while the hub knows its events (an
// SD card that failed and was replaced, a file moved aside as corrupt) and
// sensord starts again on a new one, numbering its events from 1. The hub
// takes the new alarms live: each raises an active alert, the device is
// online, and none is recorded as a stale copy of the old events (which
// before was what happened: the hub cleared each new alarm on arrival).
func TestStoreLost(t *testing.T) {
	t.Parallel()
	h, px := hubBehindProxy(t, nil)
	data := t.TempDir()
	sensord := func() *proc {
		return start(t, "sensord", nil, "run", "--config", "testdata/sensor.json", "--sim", "testdata/alarms.json",
			"--speed", "20", "--exit-at-end=false", "--data", data, "--broker", "tcp://"+px.addr(), "--user", "e2e-1", "--pass", "pw")
	}
	s := sensord()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := worker(ctx, h.url)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	stopReset := resetLoop(ctx, w)
	defer stopReset()
	old := waitDevice(ctx, t, w, "old file's events", func(i contract.DeviceInfo) bool { return i.LastEventSeq >= 20 })
	s.stop()

	// The file is found corrupt at the next start: sensord moves it aside
	// and starts a new one.
	path := filepath.Join(data, "sensord.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a bbolt file ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	s = sensord()
	defer s.stop()
	waitDevice(ctx, t, w, "new file's events", func(i contract.DeviceInfo) bool {
		return i.Online && i.Session > old.Session && i.LastEventSeq >= 10 && i.LastEventSeq < old.LastEventSeq
	})
	if m, _ := filepath.Glob(path + ".corrupt-*"); len(m) != 1 {
		t.Errorf("corrupt file set aside as %v, want one", m)
	}

	var list []contract.Alert
	cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
	defer ccancel()
	if err := w.Call(cctx, contract.OpAlertsList, map[string]string{"all": "true"}, nil, &list); err != nil {
		t.Fatal(err)
	}
	var fresh, stale int
	for _, a := range list {
		if a.Device != "e2e-1" || a.Raised.Before(restarted) {
			continue
		}
		fresh++
		if strings.Contains(a.Description, "arrived after") {
			stale++
			t.Errorf("alert %s of the new file taken for a late copy: %s", a.ID, a.Description)
		}
	}
	if fresh == 0 {
		t.Errorf("no alert raised from the new file's alarms: %+v", list)
	}
	t.Logf("old file: %d events, session %d; new file: %d alerts, %d taken as late", old.LastEventSeq, old.Session, fresh, stale)
}
