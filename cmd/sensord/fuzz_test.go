package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"linli/mqtt/contract"
)

// FuzzParseConfig checks sensord's configuration parser on arbitrary
// files, seeded with the configurations in testdata: no panics; an
// accepted file is one JSON value, a configuration check accepts again,
// with a valid device id, an interval within 100ms–1m, uniquely named
// channels whose sensors fit their kinds and have an I2C address where
// they need one; and written out and parsed again it is the same.
func FuzzParseConfig(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no testdata: %v", err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"device":"d","channels":[{"name":"t","kind":"temperature","sensor":"tmp117","addr":"0x48"}]}`))
	f.Add([]byte(`{"device":"d","channels":[{"name":"t","kind":"temperature","sensor":"tmp117","addr":"0x48"}]}}`))
	f.Add([]byte(`{"device":"d","interval":"-1s","channels":[]}`))
	f.Add([]byte(`{"device":"d","heartbeat":"-1s","channels":[{"name":"s","kind":"smoke","sensor":"smoke","alarm_pin":"GPIO4"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		hang := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("parseConfig(%q) took over 10 s", b)) })
		defer hang.Stop()
		c, err := parseConfig(b)
		if err != nil {
			if c != nil {
				t.Fatalf("parseConfig returned a config with error %v", err)
			}
			return
		}
		if !json.Valid(b) {
			t.Fatalf("parseConfig accepted %q, which is not one JSON value", b)
		}
		if !contract.ValidID(c.Device) {
			t.Fatalf("parseConfig accepted device %q", c.Device)
		}
		if iv := time.Duration(c.Interval); iv < 100*time.Millisecond || iv > time.Minute {
			t.Fatalf("parseConfig accepted interval %s", iv)
		}
		names := map[string]bool{}
		for _, ch := range c.Channels {
			if names[ch.Name] || !slices.Contains(sensorsFor[ch.Kind], ch.Sensor) {
				t.Fatalf("parseConfig accepted channel %+v", ch)
			}
			names[ch.Name] = true
			if ch.Sensor == "tmp117" || ch.Sensor == "ads1115" {
				if _, err := ch.addr(); err != nil {
					t.Fatalf("parseConfig accepted channel %q: %v", ch.Name, err)
				}
			}
		}
		if err := c.check(); err != nil {
			t.Fatalf("check of an accepted config: %v", err)
		}
		out, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := parseConfig(out)
		if err != nil {
			t.Fatalf("parseConfig of the re-encoded %s: %v", out, err)
		}
		if diff := cmp.Diff(c, c2); diff != "" {
			t.Fatalf("round trip changed the config (-first +second):\n%s", diff)
		}
	})
}
