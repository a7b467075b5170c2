package main

import (
	"strings"
	"testing"
	"time"

	"linli/devices/hazard"
)

func TestDefaultConfigIsValid(t *testing.T) {
	c, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	if c.Device != "mb-0001" || len(c.Channels) != 6 {
		t.Fatalf("default config %+v", c)
	}
	if c2, err := loadConfig("testdata/meterbox.json"); err != nil || c2.Device != c.Device {
		t.Fatalf("testdata/meterbox.json: %v", err)
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	base := `{"device":"mb-1","channels":[` +
		`{"name":"a","kind":"temperature","sensor":"tmp117","addr":"0x48"},` +
		`{"name":"b","kind":"smoke","sensor":"smoke"},%s]}`
	tests := []struct {
		ch   string
		want string
	}{
		{`{"name":"c","kind":"temperature","sensor":"tmp117","addr":"0x49","alarm":200}`, "config: channels[2].alarm: 200 °C outside 55–140 °C"},
		{`{"name":"c","kind":"residual","sensor":"ads1115","addr":"0x4a","amps_per_volt":1,"alarm":5}`, "config: channels[2].alarm: 5 mA outside 20–1000 mA"},
		{`{"name":"c","kind":"residual","sensor":"ads1115","addr":"0x4a","amps_per_volt":1,"pre_alarm":400,"alarm":300}`, "config: channels[2].pre_alarm: 400 mA outside 10–300 mA"},
		{`{"name":"c","kind":"load","sensor":"ads1115","addr":"0x4a","amps_per_volt":1}`, "config: channels[2].rated: 0 A outside"},
		{`{"name":"c","kind":"load","sensor":"tmp117","addr":"0x4a","rated":40}`, `config: channels[2].sensor: "tmp117" for a load channel (want ads1115)`},
		{`{"name":"c","kind":"temperature","sensor":"tmp117","addr":"0x99"}`, `config: channels[2].addr: "0x99" is not a 7-bit I2C address`},
		{`{"name":"c","kind":"temperature","sensor":"ds18b20"}`, "config: channels[2].id: empty"},
		{`{"name":"c","kind":"residual","sensor":"ads1115","addr":"0x4a","input":5,"amps_per_volt":1}`, "config: channels[2].input: 5 outside 0–3"},
		{`{"name":"c","kind":"residual","sensor":"ads1115","addr":"0x4a"}`, "config: channels[2].amps_per_volt"},
		{`{"name":"a","kind":"smoke","sensor":"smoke"}`, `config: channels[2].name: "a" used twice`},
		{`{"name":"c","kind":"humidity","sensor":"x"}`, "config: channels[2].kind"},
		{`{"name":"c","kind":"smoke","sensor":"smoke","colour":"red"}`, `unknown field "colour"`},
		{`{"name":"c","kind":"temperature","sensor":"tmp117","addr":"0x49","plausible_max":80}`, "config: channels[2].plausible_max: 80 °C is not above the alarm set-point 90 °C"},
		{`{"name":"c","kind":"temperature","sensor":"tmp117","addr":"0x49","plausible_min":70}`, "config: channels[2].plausible_min: 70 °C is not below the pre-alarm set-point 70 °C"},
		{`{"name":"c","kind":"residual","sensor":"ads1115","addr":"0x4a","amps_per_volt":1,"plausible_max":0}`, "config: channels[2].plausible_max: 0 is not above plausible_min 0"},
		{`{"name":"c","kind":"smoke","sensor":"smoke","plausible_min":0}`, "config: channels[2].plausible_min: smoke has no plausible range"},
		{`{"name":"c","kind":"temperature","sensor":"tmp117","addr":"0x49","clear_after":"1h"}`, "config: channels[2].clear_after: 1h0m0s outside 0s–10m0s"},
		{`{"name":"c","kind":"temperature","sensor":"tmp117","addr":"0x49","clear_after":30}`, "config: want a duration string"},
	}
	for _, tt := range tests {
		_, err := parseConfig([]byte(strings.Replace(base, "%s", tt.ch, 1)))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s:\n got %v\nwant %s", tt.ch, err, tt.want)
		}
	}
	for _, bad := range []struct{ in, want string }{
		{`{"device":"a b","channels":[]}`, "config: device"},
		{`{"device":"mb-1","channels":[]}`, "config: channels: none"},
		{`{"device":"mb-1","interval":"5ms","channels":[]}`, "config: interval: 5ms outside"},
		{`{"device":"mb-1",` + "\n" + `"channels":[}`, "config: line 2"},
		{`{"device":"mb-1","interval":5}`, "config: "},
	} {
		if _, err := parseConfig([]byte(bad.in)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: %v, want %q", bad.in, err, bad.want)
		}
	}
}

// TestPlausibleAndClearAfter: the plausible range and the clear time reach
// the engine; a bound left out keeps the kind's default.
func TestPlausibleAndClearAfter(t *testing.T) {
	c, err := parseConfig([]byte(`{"device":"mb-1","channels":[` +
		`{"name":"a","kind":"temperature","sensor":"tmp117","addr":"0x48","plausible_min":-40,"clear_after":"45s"},` +
		`{"name":"b","kind":"load","sensor":"ads1115","addr":"0x4a","amps_per_volt":30,"rated":40,"plausible_max":100},` +
		`{"name":"c","kind":"residual","sensor":"ads1115","addr":"0x4a","input":1,"amps_per_volt":1}]}`))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []struct {
		min, max float64
		clear    time.Duration
	}{{-40, 200, 45 * time.Second}, {0, 100, 30 * time.Second}, {0, 5000, 30 * time.Second}} {
		hc, err := hazard.Validate(c.Channels[i].hazard())
		if err != nil || hc.Min != want.min || hc.Max != want.max || hc.ClearAfter != want.clear {
			t.Errorf("%s: plausible %g–%g, clear after %v (%v); want %g–%g, %v", hc.Name, hc.Min, hc.Max, hc.ClearAfter, err, want.min, want.max, want.clear)
		}
	}
}
