package main

import (
	"path/filepath"

	gridconfig "linli/grid/config"
)

// sensorArgs are the sensord arguments of one simulated meter box.
func sensorArgs(cfg config, d gridconfig.Device, url string) ([]string, error) {
	scenario := "normal-day"
	if d.ID == cfg.fire {
		scenario = "meterbox-fire"
	}
	return []string{"run", "--sim", scenario, "--speed", ftoa(cfg.speed),
		"--data", filepath.Join(cfg.dir, d.ID),
		"--device", d.ID, "--community", d.Location.Community, "--building", d.Location.Building, "--unit", d.Location.Unit,
		"--broker", url, "--user", d.ID, "--pass", d.Password}, nil
}

// kioskArgs are the kiosk's arguments.
func kioskArgs(cfg config, d gridconfig.Device, url string) ([]string, error) {
	return []string{"run", "--data", filepath.Join(cfg.dir, d.ID), "--display", "png:" + filepath.Join(cfg.dir, "kiosk.png"),
		"--device", d.ID, "--community", d.Location.Community, "--building", d.Location.Building,
		"--broker", url, "--user", d.ID, "--pass", d.Password}, nil
}
