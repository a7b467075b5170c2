package main

import (
	"context"
	"strings"
	"sync"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	paho "github.com/eclipse/paho.mqtt.golang"

	"linli/cmd/internal/bintest"
	"linli/mqtt/contract"
	"linli/mqtt/mqtttest"
)

// TestAlertSaysWhoComes runs the real gridhub, a meter box that catches
// fire and the kiosk of its building: the kiosk's full-screen alert says
// the grid worker has been told, and only after the worker acknowledged
// (over MQTT, as gridctl ack does) that 网格员王芳 is on the way.
func TestAlertSaysWhoComes(t *testing.T) {
	hub := startGridhub(t, bintest.FreeAddr(t), "")
	d := startKiosk(t, hub.url)
	w1 := worker(t, hub.url)

	test.NewApp()
	t.Cleanup(func() { test.NewApp() })
	w := test.NewWindow(nil)
	w.Resize(fyne.NewSize(1024, 600))
	var mu sync.Mutex // stands for the UI goroutine
	do := func(f func()) { mu.Lock(); defer mu.Unlock(); f() }
	k := newKiosk(w, d, func() {})
	ctx, cancel := context.WithCancel(context.Background())
	pumped := make(chan struct{})
	go func() { defer close(pumped); pump(ctx, k, d, do, nil) }()
	t.Cleanup(func() { cancel(); <-pumped })
	texts := func() (s string) { do(func() { s = text(w.Content()) }); return s }

	mb := mqtttest.ClientWith(t, hub.url, "mb-1", &mqtttest.ClientOpts{Configure: func(o *paho.ClientOptions) {
		o.SetUsername("mb-1").SetPassword("mpw")
	}})
	mb.Publish(contract.DeviceTopic("mb-1", "birth"), contract.MustEncode(&contract.Birth{Device: "mb-1", Kind: "sensor", Session: 1, Firmware: "1.0.0"}), 1, true)
	mb.Publish(contract.DeviceTopic("mb-1", "event"), contract.MustEncode(&contract.Event{ID: "mb-1-e1", Device: "mb-1", Session: 1, Seq: 1,
		Channel: "busbar-l1", Kind: "temperature", From: contract.StatePreAlarm, To: contract.StateAlarm, Cause: "threshold",
		Value: 96, Unit: "°C", SetPoint: 80}), 1, false)

	eventually(t, "the kiosk shows the alert", func() bool { return strings.Contains(texts(), "紧急警报") })
	if txt := texts(); !strings.Contains(txt, "已通知网格员") || strings.Contains(txt, "正在赶来") {
		t.Fatalf("before anyone acknowledged, the alert says:\n%s", txt)
	}

	var alerts []contract.Alert
	call(t, w1, contract.OpAlertsList, nil, &alerts)
	if len(alerts) != 1 {
		t.Fatalf("hub has %d alerts, want 1", len(alerts))
	}
	var acked contract.Alert
	call(t, w1, contract.OpAlertAck, map[string]string{"id": alerts[0].ID}, &acked)
	if acked.AckedName != "王芳" || acked.AckedRole != "grid-worker" {
		t.Errorf("ack answered %q %q, want grid-worker 王芳", acked.AckedRole, acked.AckedName)
	}
	eventually(t, "the kiosk says who is coming", func() bool { return strings.Contains(texts(), "网格员王芳正在赶来") })
	if txt := texts(); strings.Contains(txt, "已通知网格员") {
		t.Errorf("after the ack the alert still says only that the worker was told:\n%s", txt)
	}
}
