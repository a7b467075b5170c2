package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	gridconfig "linli/grid/config"
)

// sensorArgs are the sensord arguments of one simulated meter box: the
// template meter box's configuration with this device's id and place.
func sensorArgs(cfg config, d gridconfig.Device, url string) ([]string, error) {
	scenario := "normal-day"
	if d.ID == cfg.fire {
		scenario = "meterbox-fire"
	}
	raw, err := os.ReadFile(cfg.template)
	if err != nil {
		return nil, fmt.Errorf("community: sensor template: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("community: sensor template %s: %w", cfg.template, err)
	}
	m["device"] = d.ID
	m["location"] = d.Location
	out, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(cfg.dir, d.ID+".json")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		return nil, err
	}
	return []string{"run", "--config", path, "--sim", scenario, "--speed", ftoa(cfg.speed), "--exit-at-end=false",
		"--data", filepath.Join(cfg.dir, d.ID), "--broker", url, "--user", d.ID, "--pass", d.Password}, nil
}

// kioskArgs are the kiosk's arguments.
func kioskArgs(cfg config, d gridconfig.Device, url string) ([]string, error) {
	args := []string{"run", "--data", filepath.Join(cfg.dir, d.ID), "--display", "png:" + filepath.Join(cfg.dir, "kiosk.png"),
		"--device", d.ID, "--community", d.Location.Community, "--building", d.Location.Building,
		"--broker", url, "--user", d.ID, "--pass", d.Password}
	if cfg.http != "" {
		// The receipt's QR code opens the hub's public ticket page.
		args = append(args, "--hub-url", "http://"+cfg.http)
	}
	return args, nil
}
