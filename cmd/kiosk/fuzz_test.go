package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"linli/kiosk/ticketno"
	"linli/mqtt/contract"
)

// FuzzLoadConfig checks the kiosk's configuration file on arbitrary
// content (with no command-line overrides): no panics; an accepted file
// is one JSON value and gives a valid device id, community id and ticket
// code and a non-negative idle timeout, which is what kiosk.Open and the
// UI rely on.
func FuzzLoadConfig(f *testing.F) {
	f.Add([]byte(`{"device":"kiosk-01","code":"K1","location":{"community":"c1","building":"3"},"buildings":["3"],"pin":"1234","lang":"zh","idle_timeout":"90s"}`))
	f.Add([]byte(`{"device":"kiosk-01"}`))
	f.Add([]byte(`{"device":"kiosk-01"}}`))
	f.Add([]byte(`{"device":"kiosk-01","location":{"community":"a b"}}`))
	f.Add([]byte(`{"device":"kiosk-01","idle_timeout":"-1s"}`))
	f.Add([]byte(`{"device":"亭","code":""}`))
	f.Add([]byte(`{"device":"kiosk-01","catalog":"nope.json"}`))
	dir := f.TempDir()
	path := filepath.Join(dir, "kiosk.json")
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := loadConfig(path, &cliConfig{})
		if err != nil {
			if c != nil {
				t.Fatalf("loadConfig returned a config with error %v", err)
			}
			return
		}
		switch {
		case !json.Valid(b):
			t.Fatalf("loadConfig accepted %q, which is not one JSON value", b)
		case !contract.ValidID(c.Device):
			t.Fatalf("loadConfig(%q) accepted device %q", b, c.Device)
		case !contract.ValidID(c.Location.Community):
			t.Fatalf("loadConfig(%q) accepted community %q, which kiosk.Open refuses", b, c.Location.Community)
		case !ticketno.ValidPrefix(c.Code):
			t.Fatalf("loadConfig(%q) accepted code %q", b, c.Code)
		case time.Duration(c.IdleTimeout) < 0:
			t.Fatalf("loadConfig(%q) accepted idle timeout %v", b, time.Duration(c.IdleTimeout))
		case c.Catalog != "" && c.catalog == nil, c.Site != "" && c.site == nil:
			t.Fatalf("loadConfig(%q) names a catalog or site it did not load", b)
		}
	})
}
