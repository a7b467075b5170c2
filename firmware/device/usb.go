package device

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// DefaultUSBDirs are where desktop automounters put a stick: a bundle is
// looked for in the folder linli-update at the stick's top.
var DefaultUSBDirs = []string{"/media/*/linli-update", "/media/*/*/linli-update", "/run/media/*/*/linli-update"}

// USBBundles returns the bundle files (*.bundle) in the folders matching
// the glob patterns dirs, sorted.
func USBBundles(dirs []string) []string {
	var out []string
	for _, d := range dirs {
		m, _ := filepath.Glob(filepath.Join(d, "*.bundle"))
		out = append(out, m...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// watchUSB polls Options.USBDirs and installs a bundle it has not handled
// before, then restarts into it.
func (d *Device) watchUSB(ctx context.Context) {
	t := time.NewTicker(d.opts.USBPoll)
	defer t.Stop()
	for {
		if d.ScanUSB(ctx) {
			return // restarting
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ScanUSB looks once for new bundles under Options.USBDirs and installs the
// first one that is accepted, restarting into it (it then returns true).
// Each bundle file is handled once: its sha256 is remembered in bbolt,
// whether it was installed or refused, so a stick left in does not loop.
// Nothing is done while a version is on trial.
func (d *Device) ScanUSB(ctx context.Context) bool {
	if d.up == nil || d.OnTrial() {
		return false
	}
	for _, p := range USBBundles(d.opts.USBDirs) {
		sum, err := fileSum(p)
		if err != nil {
			d.log.Warn("usb bundle unreadable", "bundle", p, "err", err)
			continue
		}
		if d.usbSeen(sum) {
			continue
		}
		d.usbMark(sum, p)
		d.log.Info("installing bundle from USB", "bundle", p)
		if _, err := d.InstallFile(ctx, p, "usb"); err != nil {
			d.log.Warn("usb bundle not installed", "bundle", p, "err", err)
			continue
		}
		return true
	}
	return false
}

func fileSum(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (d *Device) usbSeen(sum string) bool {
	d.mu.Lock()
	db := d.db
	d.mu.Unlock()
	seen := false
	if db != nil {
		_ = db.View(func(tx *bolt.Tx) error {
			if b := tx.Bucket(usbBucket); b != nil {
				seen = b.Get([]byte(sum)) != nil
			}
			return nil
		})
	}
	return seen
}

func (d *Device) usbMark(sum, path string) {
	d.mu.Lock()
	db := d.db
	d.mu.Unlock()
	if db == nil {
		return
	}
	err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(usbBucket)
		if err != nil {
			return err
		}
		return b.Put([]byte(sum), []byte(d.opts.Now().UTC().Format(time.RFC3339)+" "+path))
	})
	if err != nil {
		d.log.Error("remembering usb bundle", "err", err)
	}
}
