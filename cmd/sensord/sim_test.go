package main

import (
	"errors"
	"math"
	"testing"
	"time"

	"linli/devices"
	"linli/devices/sim"
)

// TestSimDrivers reads every channel of the default configuration through
// the real drivers on the simulated board and compares with the scenario.
func TestSimDrivers(t *testing.T) {
	cfg, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	hw, err := openSim(cfg, "meterbox-fire")
	if err != nil {
		t.Fatal(err)
	}
	defer hw.close()
	chans, err := openSensors(cfg, hw)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := sim.Load("meterbox-fire")
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Duration{0, 6 * time.Minute, 9 * time.Minute} {
		hw.setElapsed(at)
		for _, ch := range chans {
			got, err := ch.Sensor.Read()
			if err != nil {
				t.Fatalf("%v %s: %v", at, ch.Config.Name, err)
			}
			want, _, _ := sc.At(ch.Config.Name, at)
			tol := 0.1 + math.Abs(want)*0.02 // quantisation and RMS of sampled sines
			if ch.Config.Kind == "smoke" {
				tol = 0
			}
			if math.Abs(got-want) > tol {
				t.Errorf("%v %s: read %g, scenario %g", at, ch.Config.Name, got, want)
			}
		}
	}
}

func TestSimSensorFailures(t *testing.T) {
	cfg, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	hw, err := openSim(cfg, "testdata/broken.json")
	if err != nil {
		t.Fatal(err)
	}
	defer hw.close()
	chans, err := openSensors(cfg, hw)
	if err != nil {
		t.Fatal(err)
	}
	hw.setElapsed(90 * time.Second)
	want := map[string]error{"busbar-l1": devices.ErrNoAnswer, "residual": devices.ErrNoAnswer, "probe-1": devices.ErrNoAnswer}
	for _, ch := range chans {
		_, err := ch.Sensor.Read()
		if w := want[ch.Config.Name]; w != nil && !errors.Is(err, w) {
			t.Errorf("%s: %v, want %v", ch.Config.Name, err, w)
		}
		if w := want[ch.Config.Name]; w == nil && err != nil {
			t.Errorf("%s: %v", ch.Config.Name, err)
		}
	}
}
