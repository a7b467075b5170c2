package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"linli/firmware/bundle"
)

// localAnswer is a device's answer to POST /update (firmware/device).
type localAnswer struct {
	OK      bool   `json:"ok"`
	Error   string `json:"error,omitempty"`
	Version string `json:"version,omitempty"`
}

// flashLocal pushes the bundle to one device's local update endpoint,
// without the hub: POST URL/update with the bundle as the body.
func flashLocal(ctx context.Context, a *app, f *flashFlags, m *bundle.Manifest) error {
	if f.deviceURL == "" {
		return usagef("--local needs --device-url http://HOST:8470")
	}
	if !strings.HasPrefix(f.deviceURL, "http://") && !strings.HasPrefix(f.deviceURL, "https://") {
		return usagef("--device-url %q is not an http:// or https:// URL", f.deviceURL)
	}
	body, err := os.Open(f.bundle)
	if err != nil {
		return fmt.Errorf("flash: %w", err)
	}
	defer body.Close()
	fi, err := body.Stat()
	if err != nil {
		return fmt.Errorf("flash: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, f.deviceTimeout)
	defer cancel()
	url := strings.TrimRight(f.deviceURL, "/") + "/update"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, body)
	if err != nil {
		return fmt.Errorf("flash: %w", err)
	}
	req.ContentLength = fi.Size()
	req.Header.Set("Content-Type", "application/octet-stream")
	if !a.cfg.json {
		fmt.Fprintf(a.out, "pushing %s %s (%d bytes) to %s\n", m.Product, m.Version, fi.Size(), url)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("flash: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return fmt.Errorf("flash: read the device's answer: %w", err)
	}
	var ans localAnswer
	if err := json.Unmarshal(raw, &ans); err != nil {
		return fmt.Errorf("flash: the device answered %s: %s", resp.Status, clean(strings.TrimSpace(string(raw))))
	}
	if a.cfg.json {
		if err := a.printJSON(ans); err != nil {
			return err
		}
	}
	if !ans.OK || resp.StatusCode/100 != 2 {
		return fmt.Errorf("flash: the device refused the update (%s): %s", resp.Status, clean(ans.Error))
	}
	if !a.cfg.json {
		fmt.Fprintf(a.out, "OK: the device installed %s\n", orDash(ans.Version))
	}
	return nil
}

// usbDir is the folder on a USB stick that devices install from.
const usbDir = "linli-update"

const usbReadme = `Linli firmware update stick
===========================

This stick updates Linli devices (meter-box and smoke sensors, kiosks) on
site, without a network.

  1. Plug the stick into the device's USB port.
  2. The device finds linli-update/%[1]s, checks its signature and
     version, installs it and restarts into the new version on trial.
  3. Wait until the device reports the new version (kiosk: maintenance
     screen; sensor: the status LED stops blinking), then unplug.

Bundle:   %[1]s
Version:  %[2]s %[3]s (security version %[4]d)
Target:   %[5]s

A device never installs a bundle whose signature does not check, or an
older security version than it runs. If it rolls back, it keeps running
its previous version: report the device id to maintenance.
`

// flashUSB writes the USB stick layout: DIR/linli-update/<bundle> and a
// README.txt, each written to a temporary name, fsync'd and renamed.
func flashUSB(a *app, f *flashFlags, m *bundle.Manifest) error {
	if fi, err := os.Stat(f.usb); err != nil || !fi.IsDir() {
		return fmt.Errorf("flash: --usb %s is not a folder (is the stick mounted?)", f.usb)
	}
	dir := filepath.Join(f.usb, usbDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("flash: %w", err)
	}
	name := filepath.Base(f.bundle)
	src, err := os.Open(f.bundle)
	if err != nil {
		return fmt.Errorf("flash: %w", err)
	}
	defer src.Close()
	if err := writeSynced(filepath.Join(dir, name), src); err != nil {
		return err
	}
	readme := fmt.Sprintf(usbReadme, name, m.Product, m.Version, m.Security, m.Target)
	if err := writeSynced(filepath.Join(dir, "README.txt"), bytes.NewReader([]byte(readme))); err != nil {
		return err
	}
	for _, d := range []string{dir, f.usb} {
		if err := bundle.SyncDir(d); err != nil {
			return fmt.Errorf("flash: %w", err)
		}
	}
	if a.cfg.json {
		return a.printJSON(struct {
			Bundle  string `json:"bundle"`
			Readme  string `json:"readme"`
			Version string `json:"version"`
		}{filepath.Join(dir, name), filepath.Join(dir, "README.txt"), m.Version})
	}
	fmt.Fprintf(a.out, "wrote %s (%s %s) and README.txt; unmount the stick before unplugging it\n", filepath.Join(dir, name), m.Product, m.Version)
	return nil
}

// writeSynced writes r to path atomically: a temporary name in the same
// folder, fsync, close, rename.
func writeSynced(path string, r io.Reader) error {
	tmp := path + ".tmp"
	w, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("flash: %w", err)
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Close()
		os.Remove(tmp)
		return fmt.Errorf("flash: write %s: %w", path, err)
	}
	if err := w.Sync(); err != nil {
		w.Close()
		os.Remove(tmp)
		return fmt.Errorf("flash: sync %s: %w", path, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("flash: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("flash: %w", err)
	}
	return nil
}
