package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTrackURL checks that the ticket QR code opens the hub's public
// ticket page when the kiosk knows the hub's address, from the file or the
// --hub-url flag, and that bad addresses are refused with a clear error.
func TestTrackURL(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "k.json")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		file    string // path, or JSON body written to a temp file
		cli     cliConfig
		want    string
		wantErr string
	}{
		{"file", "testdata/hub-url.json", cliConfig{}, "http://hub.local:8080/t/%s", ""},
		{"flag", "", cliConfig{device: "kiosk-01", hubURL: "http://127.0.0.1:8080"}, "http://127.0.0.1:8080/t/%s", ""},
		{"flag over file", "testdata/hub-url.json", cliConfig{hubURL: "https://linli.example.cn/hub"}, "https://linli.example.cn/hub/t/%s", ""},
		{"track_url wins", `{"device": "k1", "hub_url": "http://h:8080", "track_url": "https://city.example/q?t=%s"}`, cliConfig{}, "https://city.example/q?t=%s", ""},
		{"neither", `{"device": "k1"}`, cliConfig{}, "", ""},
		{"no scheme", `{"device": "k1", "hub_url": "hub.local:8080"}`, cliConfig{}, "", "hub_url"},
		{"ftp", `{"device": "k1", "hub_url": "ftp://hub.local"}`, cliConfig{}, "", "hub_url"},
		{"percent", `{"device": "k1", "hub_url": "http://hub.local/%d"}`, cliConfig{}, "", "hub_url"},
		{"no verb", `{"device": "k1", "track_url": "https://city.example/t/"}`, cliConfig{}, "", "track_url"},
		{"two verbs", `{"device": "k1", "track_url": "https://x/%s/%s"}`, cliConfig{}, "", "track_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.file
			if strings.HasPrefix(path, "{") {
				path = write(path)
			}
			cli := tt.cli
			cfg, err := loadConfig(path, &cli)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("loadConfig: error %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.TrackURL != tt.want {
				t.Errorf("TrackURL = %q, want %q", cfg.TrackURL, tt.want)
			}
		})
	}
}

// TestParseHubURL checks the flag's name.
func TestParseHubURL(t *testing.T) {
	c, err := parse([]string{"run", "--hub-url", "http://127.0.0.1:8080"})
	if err != nil || c.hubURL != "http://127.0.0.1:8080" {
		t.Fatalf("parse: %+v, %v", c, err)
	}
}
