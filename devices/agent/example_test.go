package agent_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"linli/devices/agent"
	"linli/devices/hazard"
	"linli/devices/store"
	"linli/mqtt/contract"
)

func Example() {
	dir, _ := os.MkdirTemp("", "agent")
	defer os.RemoveAll(dir)
	now := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	db, err := store.Open(filepath.Join(dir, "sensord.db"), &store.Options{Device: "mb-0001", Now: clock})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	leak := 120.0 // mA
	a, err := agent.New(db, []agent.Channel{{
		Config: hazard.Config{Name: "residual", Kind: hazard.Residual},
		Sensor: agent.SensorFunc(func() (float64, error) { return leak, nil }),
	}}, &agent.Options{Device: "mb-0001", Now: clock, OnEvent: func(ev contract.Event) {
		fmt.Printf("#%d %s %s→%s %g %s (set-point %g)\n", ev.Seq, ev.Channel, ev.From, ev.To, ev.Value, ev.Unit, ev.SetPoint)
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, mA := range []float64{120, 380, 390, 120} {
		leak = mA
		a.Step(context.Background())
		now = now.Add(time.Second)
	}
	fmt.Println("buzzer:", a.Buzzing())
	// Output:
	// #1 residual normal→alarm 390 mA (set-point 300)
	// buzzer: true
}
