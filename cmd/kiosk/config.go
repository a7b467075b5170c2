package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"linli/kiosk/catalog"
	"linli/kiosk/ticketno"
	"linli/mqtt/contract"
)

// Config is the kiosk's configuration file (JSON); see doc.go.
type Config struct {
	Device      string            `json:"device"`
	Code        string            `json:"code"`
	Location    contract.Location `json:"location"`
	Buildings   []string          `json:"buildings"`
	PIN         string            `json:"pin"`
	Lang        string            `json:"lang"`
	IdleTimeout Duration          `json:"idle_timeout"`
	Catalog     string            `json:"catalog"`
	Site        string            `json:"site"`
	TrackURL    string            `json:"track_url"`
	HubURL      string            `json:"hub_url"`

	catalog *catalog.Catalog
	site    *catalog.Site
}

// Duration is a time.Duration written as "90s" in JSON.
type Duration time.Duration

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("want a duration string such as \"90s\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// loadConfig reads path ("" = an empty configuration), lets the command
// line override it, and checks it.
func loadConfig(path string, c *cliConfig) (*Config, error) {
	cfg := &Config{}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(cfg); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, fmt.Errorf("%s: data after the JSON object", path)
		}
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&cfg.Device, c.device)
	set(&cfg.Code, c.code)
	set(&cfg.Location.Community, c.community)
	set(&cfg.Location.Building, c.building)
	set(&cfg.Lang, c.lang)
	set(&cfg.HubURL, c.hubURL)
	if cfg.Location.Community == "" {
		cfg.Location.Community = "c1"
	}
	if !contract.ValidID(cfg.Device) {
		return nil, fmt.Errorf("device id %q: want 1–64 characters without / + # or spaces", cfg.Device)
	}
	if !contract.ValidID(cfg.Location.Community) {
		return nil, fmt.Errorf("community id %q: want 1–64 characters without / + # or spaces", cfg.Location.Community)
	}
	if cfg.Code == "" {
		cfg.Code = codeFor(cfg.Device)
	}
	if !ticketno.ValidPrefix(cfg.Code) {
		return nil, fmt.Errorf("ticket code %q: want 1–3 characters of A–Z and 0–9", cfg.Code)
	}
	if time.Duration(cfg.IdleTimeout) < 0 {
		return nil, fmt.Errorf("idle_timeout %v is negative", time.Duration(cfg.IdleTimeout))
	}
	if err := cfg.trackURL(); err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	if cfg.Catalog != "" {
		f, err := os.Open(filepath.Join(dir, cfg.Catalog))
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if cfg.catalog, err = catalog.Load(f); err != nil {
			return nil, fmt.Errorf("%s: %w", cfg.Catalog, err)
		}
	}
	if cfg.Site != "" {
		f, err := os.Open(filepath.Join(dir, cfg.Site))
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if cfg.site, err = catalog.LoadSite(f); err != nil {
			return nil, fmt.Errorf("%s: %w", cfg.Site, err)
		}
	}
	return cfg, nil
}

// trackURL checks track_url and hub_url and derives the ticket QR code's
// URL from the hub's public address when track_url is not set: the hub
// serves a ticket's public page at /t/NUMBER.
func (c *Config) trackURL() error {
	if c.HubURL != "" {
		u, err := url.Parse(c.HubURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.RawQuery != "" || u.Fragment != "" || strings.Contains(c.HubURL, "%") {
			return fmt.Errorf("hub_url %q: want the hub's public address, http://host[:port][/path]", c.HubURL)
		}
		if c.TrackURL == "" {
			c.TrackURL = strings.TrimRight(c.HubURL, "/") + "/t/%s"
		}
	}
	if c.TrackURL != "" && (strings.Count(c.TrackURL, "%") != 1 || strings.Count(c.TrackURL, "%s") != 1) {
		return fmt.Errorf("track_url %q: want one %%s for the ticket number and no other %%", c.TrackURL)
	}
	return nil
}

// codeFor derives a ticket code from a device id: "K" and the last two
// letters or digits of the id, upper case ("kiosk-01" → "K01").
func codeFor(device string) string {
	var tail []rune
	for _, r := range strings.ToUpper(device) {
		if r < 0x80 && (unicode.IsDigit(r) || unicode.IsUpper(r)) {
			tail = append(tail, r)
		}
	}
	if len(tail) > 2 {
		tail = tail[len(tail)-2:]
	}
	return "K" + string(tail)
}
