package main

import (
	"bytes"
	"syscall"
	"testing"
	"time"

	"linli/mqtt/contract"
	"linli/mqtt/mqtttest"
)

// TestBrokerEventsAndCommands runs sensord against the embedded broker:
// every event of meterbox-fire arrives, in order, after a birth; then a
// reset command sent to a running sensord is acknowledged and its events
// published.
func TestBrokerEventsAndCommands(t *testing.T) {
	bin := buildSensord(t)
	url := mqtttest.Embedded(t)
	hub := mqtttest.Client(t, url, "hub")
	events := hub.Subscribe(contract.DeviceTopic("mb-0001", "event"), 1)
	births := hub.Subscribe(contract.DeviceTopic("mb-0001", "birth"), 1)
	acks := hub.Subscribe(contract.DeviceTopic("mb-0001", "cmdack"), 1)
	data := t.TempDir()

	var stderr bytes.Buffer
	run := command(t, bin, "run", "--sim", "meterbox-fire", "--speed", "300", "--data", data, "--broker", url)
	run.Stderr = &stderr
	if err := run.Run(); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	bm := mqtttest.Next(t, births)
	m, err := contract.Decode(bm.Topic, bm.Payload)
	if err != nil {
		t.Fatalf("birth: %v", err)
	}
	if b := m.(*contract.Birth); b.Kind != "sensor" || len(b.Channels) != 6 {
		t.Errorf("birth %+v", b)
	}
	var latched []string
	for seq := uint64(1); seq <= 5; seq++ {
		msg := mqtttest.Next(t, events)
		m, err := contract.Decode(msg.Topic, msg.Payload)
		if err != nil {
			t.Fatal(err)
		}
		ev := m.(*contract.Event)
		if ev.Seq != seq {
			t.Fatalf("event seq %d, want %d", ev.Seq, seq)
		}
		if ev.To == contract.StateAlarm {
			latched = append(latched, ev.Channel)
		}
	}
	if len(latched) != 3 {
		t.Fatalf("alarms %v, want residual, terminal-n and smoke", latched)
	}

	// A running sensord answers a reset.
	stderr.Reset()
	run = command(t, bin, "run", "--sim", "normal-day", "--speed", "50", "--exit-at-end=false", "--data", data, "--broker", url)
	run.Stderr = &stderr
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	defer run.Process.Kill()
	mqtttest.Next(t, births) // connected and subscribed
	cmd := &contract.Command{ID: "c-1", Device: "mb-0001", Name: contract.CmdReset, By: "worker-7", Time: time.Now()}
	hub.Publish(contract.DeviceTopic("mb-0001", "cmd"), contract.MustEncode(cmd), 1, false)
	msg := mqtttest.Next(t, acks)
	am, err := contract.Decode(msg.Topic, msg.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if ack := am.(*contract.CommandAck); ack.ID != "c-1" || !ack.OK {
		t.Fatalf("ack %+v", ack)
	}
	for range latched {
		msg := mqtttest.Next(t, events)
		m, _ := contract.Decode(msg.Topic, msg.Payload)
		if ev := m.(*contract.Event); ev.From != contract.StateAlarm || ev.To != contract.StateNormal || ev.Cause != "reset" || ev.Detail != "by worker-7" {
			t.Errorf("after reset: %+v", ev)
		}
	}
	if err := run.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := run.Wait(); err != nil {
		t.Fatalf("SIGTERM: %v\n%s", err, stderr.String())
	}
}
