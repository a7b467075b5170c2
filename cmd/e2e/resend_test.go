package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"linli/mqtt/contract"
	"linli/mqtt/mqtttest"
)

// TestResendRecoversDrops: a broker loses events it had acknowledged to
// the device. Here mosquitto keeps at most 3 queued messages for an
// offline session (max_queued_messages 3), so while gridhub is down it
// drops most of sensord's events after giving sensord their PUBACKs. Back
// up, the hub sees the gap, asks sensord to send its events again
// (contract resend), and applies every one: none is given up as missing.
func TestResendRecoversDrops(t *testing.T) {
	t.Parallel()
	m := mqtttest.Mosquitto(t, &mqtttest.MosquittoOpts{Persistence: true, Config: []string{"max_queued_messages 3"}})
	h := startHub(t, m.URL())
	s := start(t, "sensord", nil, "run", "--config", "testdata/sensor.json", "--sim", "testdata/alarms.json",
		"--speed", "20", "--exit-at-end=false", "--data", t.TempDir(), "--broker", m.URL(), "--user", "e2e-1", "--pass", "pw")
	defer s.stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := worker(ctx, h.url)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	before := waitDevice(ctx, t, w, "events before the hub stops", func(i contract.DeviceInfo) bool { return i.LastEventSeq >= 5 })
	h.p.stop()
	for deadline := time.Now().Add(60 * time.Second); lastDecided(s.out.String()) < before.LastEventSeq+20; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("sensord decided no 20 events while the hub was down:\n%s", s.out.String())
		}
	}
	target := lastDecided(s.out.String())
	h.start()
	after := waitDevice(ctx, t, w, "every event the hub missed", func(i contract.DeviceInfo) bool { return i.LastEventSeq >= target })
	if after.MissingEvents != 0 || strings.Contains(h.p.out.String(), "events missing") {
		t.Errorf("%d events given up as missing; hub log:\n%s", after.MissingEvents, h.p.out.String())
	}
	t.Logf("hub down from event %d to %d; %d missing", before.LastEventSeq, target, after.MissingEvents)
}
