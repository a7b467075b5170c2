package main

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"linli/devices/hazard"
	"linli/mqtt/contract"
)

// Config is sensord's configuration file (JSON). See doc.go for the format.
type Config struct {
	Device   string            `json:"device"`
	Location contract.Location `json:"location"`
	// Interval is the sampling period; default "1s".
	Interval Duration `json:"interval"`
	// Heartbeat is the longest gap between telemetry messages; default "10s".
	Heartbeat Duration `json:"heartbeat"`
	// I2CBus is the periph I2C bus name ("" = the first bus, e.g. "/dev/i2c-1" or "1").
	I2CBus string `json:"i2c_bus"`
	// W1Root is the kernel's 1-Wire devices directory; "" = /sys/bus/w1/devices.
	W1Root string `json:"w1_root"`
	// BuzzerPin and LEDPin are periph GPIO names (e.g. "GPIO17"); "" = none.
	BuzzerPin string `json:"buzzer_pin"`
	LEDPin    string `json:"led_pin"`
	// Readings bounds the stored readings.
	Readings struct {
		Max    int      `json:"max"`     // default 200000
		MaxAge Duration `json:"max_age"` // default "168h"
	} `json:"readings"`
	Channels []ChannelConfig `json:"channels"`
}

// ChannelConfig is one hazard channel and its sensor.
type ChannelConfig struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`   // temperature, residual, load, smoke
	Sensor string `json:"sensor"` // tmp117, ds18b20, ads1115, smoke

	Addr        string  `json:"addr,omitempty"`          // tmp117, ads1115: I2C address, e.g. "0x48"
	ID          string  `json:"id,omitempty"`            // ds18b20: e.g. "28-000000000001"
	Input       int     `json:"input,omitempty"`         // ads1115: AIN0–3
	AmpsPerVolt float64 `json:"amps_per_volt,omitempty"` // ads1115: CT scale, A per V RMS at the input
	AlarmPin    string  `json:"alarm_pin,omitempty"`     // smoke: GPIO of the alarm relay
	FaultPin    string  `json:"fault_pin,omitempty"`     // smoke: GPIO of the fault contact ("" = none)
	ActiveLow   bool    `json:"active_low,omitempty"`    // smoke: both lines read low when active

	PreAlarm   float64 `json:"pre_alarm,omitempty"`   // in the kind's unit; 0 = default
	Alarm      float64 `json:"alarm,omitempty"`       // in the kind's unit; 0 = default
	Hysteresis float64 `json:"hysteresis,omitempty"`  // 0 = default, negative = none
	Rated      float64 `json:"rated,omitempty"`       // load: rated current, A (required)
	RiseRate   float64 `json:"rise_rate,omitempty"`   // temperature: K/min; 0 = 10, negative = off
	Confirm    int     `json:"confirm,omitempty"`     // N of …; default 2
	Window     int     `json:"window,omitempty"`      // … M samples; default 3
	FaultAfter int     `json:"fault_after,omitempty"` // consecutive failed samples; default 3
	// ClearAfter is how long a pre-alarm's value must stay below its clear
	// level, or a faulty sensor read plausibly, before it clears; default
	// "30s", negative = confirm samples only, at most "10m".
	ClearAfter Duration `json:"clear_after,omitempty"`
	// PlausibleMin and PlausibleMax bound the values believed for this
	// installation, in the kind's unit; outside is a fault ("implausible").
	// Absent means the default for an indoor meter box
	// (hazard.PlausibleRange: temperature -25–200 °C, residual 0–5000 mA,
	// load 0–10 × rated). Not for smoke.
	PlausibleMin *float64 `json:"plausible_min,omitempty"`
	PlausibleMax *float64 `json:"plausible_max,omitempty"`
	Disabled     bool     `json:"disabled,omitempty"`
}

// Duration is a time.Duration written as "10s" in JSON.
type Duration time.Duration

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"10s\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

//go:embed testdata/meterbox.json
var defaultConfig []byte

// loadConfig reads the file at path ("" = the built-in default meter box).
func loadConfig(path string) (*Config, error) {
	b := defaultConfig
	if path != "" {
		var err error
		if b, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
	}
	return parseConfig(b)
}

func parseConfig(b []byte) (*Config, error) {
	var c Config
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			line := 1 + bytes.Count(b[:min(int(se.Offset), len(b))], []byte("\n"))
			return nil, fmt.Errorf("config: line %d: %w", line, err)
		case errors.As(err, &te):
			return nil, fmt.Errorf("config: %s: want %s, got %s", te.Field, te.Type, te.Value)
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("config: data after the JSON object")
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Config) check() error {
	if !contract.ValidID(c.Device) {
		return fmt.Errorf("config: device: %q is not a valid id (1–64 characters, no spaces or /+#)", c.Device)
	}
	if c.Interval == 0 {
		c.Interval = Duration(time.Second)
	}
	if iv := time.Duration(c.Interval); iv < 100*time.Millisecond || iv > time.Minute {
		return fmt.Errorf("config: interval: %s outside 100ms–1m", iv)
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = Duration(10 * time.Second)
	}
	if len(c.Channels) == 0 {
		return errors.New("config: channels: none")
	}
	seen := map[string]bool{}
	for i := range c.Channels {
		ch := &c.Channels[i]
		field := func(f string) string { return fmt.Sprintf("config: channels[%d].%s", i, f) }
		if seen[ch.Name] {
			return fmt.Errorf("%s: %q used twice", field("name"), ch.Name)
		}
		seen[ch.Name] = true
		if ch.Kind == string(hazard.Smoke) && (ch.PlausibleMin != nil || ch.PlausibleMax != nil) {
			return fmt.Errorf("%s: smoke has no plausible range (its relay is open or closed)", field("plausible_min"))
		}
		if hc := ch.hazard(); hc.Min == 0 && hc.Max == 0 && (ch.PlausibleMin != nil || ch.PlausibleMax != nil) {
			// Zero for both would mean "the default" to the engine.
			return fmt.Errorf("%s: 0 is not above plausible_min 0", field("plausible_max"))
		}
		if _, err := hazard.Validate(ch.hazard()); err != nil {
			return fmt.Errorf("config: channels[%d].%w", i, err)
		}
		want := sensorsFor[ch.Kind]
		if !slices.Contains(want, ch.Sensor) {
			return fmt.Errorf("%s: %q for a %s channel (want %s)", field("sensor"), ch.Sensor, ch.Kind, strings.Join(want, " or "))
		}
		switch ch.Sensor {
		case "tmp117", "ads1115":
			if _, err := ch.addr(); err != nil {
				return fmt.Errorf("%s: %w", field("addr"), err)
			}
		case "ds18b20":
			if ch.ID == "" {
				return fmt.Errorf("%s: empty (want the probe's w1 id, e.g. 28-000000000001)", field("id"))
			}
		}
		if ch.Sensor == "ads1115" {
			if ch.Input < 0 || ch.Input > 3 {
				return fmt.Errorf("%s: %d outside 0–3", field("input"), ch.Input)
			}
			if !(ch.AmpsPerVolt > 0) {
				return fmt.Errorf("%s: %g (want the CT's amperes per volt, > 0)", field("amps_per_volt"), ch.AmpsPerVolt)
			}
		}
	}
	return nil
}

var sensorsFor = map[string][]string{
	"temperature": {"tmp117", "ds18b20"},
	"residual":    {"ads1115"},
	"load":        {"ads1115"},
	"smoke":       {"smoke"},
}

// hazard returns the engine's view of the channel.
func (ch *ChannelConfig) hazard() hazard.Config {
	c := hazard.Config{Name: ch.Name, Kind: hazard.Kind(ch.Kind), PreAlarm: ch.PreAlarm, Alarm: ch.Alarm,
		Hysteresis: ch.Hysteresis, Rated: ch.Rated, RiseRate: ch.RiseRate, Confirm: ch.Confirm, Window: ch.Window,
		FaultAfter: ch.FaultAfter, ClearAfter: time.Duration(ch.ClearAfter), Disabled: ch.Disabled}
	if ch.PlausibleMin != nil || ch.PlausibleMax != nil {
		c.Min, c.Max = hazard.PlausibleRange(c.Kind, c.Rated)
		if ch.PlausibleMin != nil {
			c.Min = *ch.PlausibleMin
		}
		if ch.PlausibleMax != nil {
			c.Max = *ch.PlausibleMax
		}
	}
	return c
}

func (ch *ChannelConfig) addr() (uint16, error) {
	v, err := strconv.ParseUint(ch.Addr, 0, 16)
	if err != nil || v < 0x08 || v > 0x77 {
		return 0, fmt.Errorf("%q is not a 7-bit I2C address such as \"0x48\"", ch.Addr)
	}
	return uint16(v), nil
}
