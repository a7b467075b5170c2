package sim

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// defaultChannels are the channels of sensord's default configuration.
var defaultChannels = map[string]Kind{
	"busbar-l1":  KindTemperature,
	"terminal-n": KindTemperature,
	"probe-1":    KindTemperature,
	"load-l1":    KindLoad,
	"residual":   KindResidual,
	"smoke":      KindSmoke,
}

func TestLoadBuiltins(t *testing.T) {
	if got, want := Names(), []string{"meterbox-fire", "normal-day"}; !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	for _, name := range Names() {
		sc, err := Load(name)
		if err != nil {
			t.Fatal(err)
		}
		if sc.Name != name || sc.Duration <= 0 || sc.Description == "" {
			t.Errorf("%s: name %q duration %v description %q", name, sc.Name, sc.Duration, sc.Description)
		}
		for ch, kind := range defaultChannels {
			if c := sc.Channels[ch]; c == nil || c.Kind != kind {
				t.Errorf("%s: channel %q = %+v, want kind %s", name, ch, c, kind)
			}
		}
	}
}

// first returns the first whole second at which cond holds for channel, or
// -1.
func first(sc *Scenario, channel string, cond func(float64) bool) time.Duration {
	for t := time.Duration(0); t <= sc.Duration; t += time.Second {
		if v, st, _ := sc.At(channel, t); st == OK && cond(v) {
			return t
		}
	}
	return -1
}

func TestMeterboxFireTimeline(t *testing.T) {
	sc, err := Load("meterbox-fire")
	if err != nil {
		t.Fatal(err)
	}
	ge := func(x float64) func(float64) bool { return func(v float64) bool { return v >= x } }
	tests := []struct {
		channel string
		at      float64
		want    time.Duration
	}{
		{"residual", 200, 3*time.Minute + 24*time.Second},
		{"residual", 300, 5*time.Minute + 5*time.Second},
		{"terminal-n", 70, 5*time.Minute + 14*time.Second},
		{"terminal-n", 90, 7*time.Minute + 51*time.Second},
		{"smoke", 1, 8*time.Minute + 30*time.Second},
		{"busbar-l1", 55, -1},
		{"probe-1", 55, -1},
		{"load-l1", 32, -1}, // 80 % of a 40 A rated circuit
	}
	for _, tc := range tests {
		if got := first(sc, tc.channel, ge(tc.at)); got != tc.want {
			t.Errorf("%s first >= %g at %v, want %v", tc.channel, tc.at, got, tc.want)
		}
	}
	// The temperature never rises 10 K within 60 s: the rate-of-rise
	// alarm must not pre-empt the fixed thresholds.
	for _, ch := range []string{"busbar-l1", "terminal-n", "probe-1"} {
		for t0 := time.Duration(0); t0+time.Minute <= sc.Duration; t0 += time.Second {
			a, _, _ := sc.At(ch, t0)
			b, _, _ := sc.At(ch, t0+time.Minute)
			if b-a >= 10 {
				t.Fatalf("%s rises %.1f K between %v and %v", ch, b-a, t0, t0+time.Minute)
			}
		}
	}
}

func TestNormalDayStaysNormal(t *testing.T) {
	sc, err := Load("normal-day")
	if err != nil {
		t.Fatal(err)
	}
	bounds := map[string][2]float64{
		"busbar-l1": {30, 55}, "terminal-n": {30, 46}, "probe-1": {27, 35},
		"load-l1": {5, 30}, "residual": {60, 150}, "smoke": {0, 0},
	}
	glitches := map[string]int{}
	disconnects := map[string]int{}
	for ch, b := range bounds {
		for t0 := time.Duration(0); t0 <= sc.Duration; t0 += time.Second {
			v, st, _ := sc.At(ch, t0)
			switch {
			case st == Disconnected:
				disconnects[ch]++
			case st != OK:
				t.Errorf("%s at %v: %s", ch, t0, st)
			case v < b[0]-1e-9 || v > b[1]+1e-9:
				glitches[ch]++
			}
		}
	}
	if want := map[string]int{"busbar-l1": 1, "residual": 1}; !mapsEqual(glitches, want) {
		t.Errorf("samples outside the day's range = %v, want %v (the glitches)", glitches, want)
	}
	if want := map[string]int{"terminal-n": 1}; !mapsEqual(disconnects, want) {
		t.Errorf("disconnected samples = %v, want %v", disconnects, want)
	}
	for _, tc := range []struct {
		ch   string
		at   time.Duration
		want float64
	}{{"busbar-l1", 12 * time.Minute, 120}, {"residual", 7 * time.Minute, 600}} {
		if v, _, _ := sc.At(tc.ch, tc.at); v != tc.want {
			t.Errorf("%s at %v = %g, want glitch %g", tc.ch, tc.at, v, tc.want)
		}
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestCurveAt(t *testing.T) {
	sc, err := Load("testdata/custom.json")
	if err != nil {
		t.Fatal(err)
	}
	if sc.Name != "custom" {
		t.Errorf("Name = %q, want the file's base name", sc.Name)
	}
	tests := []struct {
		ch     string
		at     time.Duration
		want   float64
		wantSt State
	}{
		{"t", 0, 20, OK},
		{"t", 9 * time.Second, 20, OK},
		{"t", 10 * time.Second, 30, OK},  // step
		{"t", 25 * time.Second, 35, OK},  // half-way up the ramp from 30 to 40
		{"t", 30 * time.Second, 40, OK},  // ramp end holds
		{"t", 35 * time.Second, 120, OK}, // glitch, 1 s by default
		{"t", 36 * time.Second, 40, OK},  // and gone
		{"t", 41 * time.Second, -10, OK}, // a 2 s glitch
		{"t", 45 * time.Second, 0, Disconnected},
		{"t", 50 * time.Second, 0, OutOfRange},
		{"t", 51 * time.Second, 40, OK},
		{"s", 0, 150, OK},                // sin(2π·10/40) = 1
		{"s", 10 * time.Second, 100, OK}, // sin(π) = 0
		{"nope", 0, 0, Disconnected},
	}
	for _, tc := range tests {
		v, st, _ := sc.At(tc.ch, tc.at)
		if st != tc.wantSt || math.Abs(v-tc.want) > 1e-9 {
			t.Errorf("At(%s, %v) = %g, %s; want %g, %s", tc.ch, tc.at, v, st, tc.want, tc.wantSt)
		}
	}
}

func TestLoadMalformed(t *testing.T) {
	tests := []struct {
		name, json, wantInErr string
	}{
		{"syntax", `{"duration": "1m",`, "unexpected EOF"},
		{"unknown field", `{"duration": "1m", "chanels": {}}`, `"chanels"`},
		{"no duration", `{"channels": {"a": {"kind": "load", "base": 1}}}`, "duration: missing"},
		{"bad duration", `{"duration": "ten minutes", "channels": {"a": {"kind": "load", "base": 1}}}`, "duration: time: invalid duration"},
		{"no channels", `{"duration": "1m"}`, "channels: no channels"},
		{"no kind", `{"duration": "1m", "channels": {"a": {"base": 1}}}`, "channels.a.kind: missing"},
		{"bad kind", `{"duration": "1m", "channels": {"a": {"kind": "voltage", "base": 1}}}`, `channels.a.kind: unknown kind "voltage"`},
		{"no base", `{"duration": "1m", "channels": {"a": {"kind": "load"}}}`, "channels.a.base: missing"},
		{"base not a number", `{"duration": "1m", "channels": {"a": {"kind": "load", "base": "1"}}}`, "channels.a.base"},
		{"step without value", `{"duration": "1m", "channels": {"a": {"kind": "load", "base": 1, "steps": [{"at": "1s"}]}}}`, "channels.a.steps[0].value: missing"},
		{"ramp backwards", `{"duration": "1m", "channels": {"a": {"kind": "load", "base": 1, "ramps": [{"from": "5s", "to": "4s", "value": 2}]}}}`, "channels.a.ramps[0].to: 4s is not after from 5s"},
		{"overlapping ramps", `{"duration": "1m", "channels": {"a": {"kind": "load", "base": 1, "ramps": [{"from": "1s", "to": "5s", "value": 2}, {"from": "4s", "to": "6s", "value": 3}]}}}`, "overlaps"},
		{"sine without period", `{"duration": "1m", "channels": {"a": {"kind": "load", "base": 1, "sines": [{"amplitude": 2}]}}}`, "channels.a.sines[0].period: missing"},
		{"negative glitch", `{"duration": "1m", "channels": {"a": {"kind": "load", "base": 1, "glitches": [{"at": "-1s", "value": 2}]}}}`, "channels.a.glitches[0].at: negative"},
		{"empty interval", `{"duration": "1m", "channels": {"a": {"kind": "load", "base": 1, "disconnects": [{"from": "1s", "to": "1s"}]}}}`, "channels.a.disconnects[0].to"},
		{"negative noise", `{"duration": "1m", "channels": {"a": {"kind": "load", "base": 1, "noise": {"sd": -1}}}}`, "channels.a.noise.sd: -1 is negative"},
		{"noise every zero", `{"duration": "1m", "channels": {"a": {"kind": "load", "base": 1, "noise": {"sd": 1, "every": "0s"}}}}`, "channels.a.noise.every: must be positive"},
	}
	dir := t.TempDir()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".json")
			if err := os.WriteFile(path, []byte(tc.json), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if err == nil || !strings.Contains(err.Error(), tc.wantInErr) || !strings.Contains(err.Error(), path) {
				t.Errorf("Load() error = %v, want one naming %s and containing %q", err, path, tc.wantInErr)
			}
		})
	}
	if _, err := Load("testdata/bad-ramp.json"); err == nil || !strings.Contains(err.Error(), "channels.terminal-n.ramps[0].to") {
		t.Errorf("Load(bad-ramp) error = %v, want it to name channels.terminal-n.ramps[0].to", err)
	}
	if _, err := Load("meterbox-fir"); err == nil || !strings.Contains(err.Error(), "meterbox-fire") {
		t.Errorf("Load(typo) error = %v, want it to list the built-ins", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("Load(missing file) succeeded")
	}
}

// TestNoise: a channel's noise is Gaussian with the given standard
// deviation, holds for "every" (one value per 1 Hz sample by default), is
// the same at every read of the same time and in every run (seeded), and
// differs between channels and seeds.
func TestNoise(t *testing.T) {
	parse := func(js string) *Scenario {
		t.Helper()
		sc, err := Parse("noise", []byte(js))
		if err != nil {
			t.Fatal(err)
		}
		return sc
	}
	sc := parse(`{"duration": "1h", "channels": {
		"a": {"kind": "residual", "base": 100, "noise": {"sd": 10, "seed": 7}},
		"b": {"kind": "residual", "base": 100, "noise": {"sd": 10, "seed": 7}},
		"c": {"kind": "residual", "base": 100, "noise": {"sd": 10, "seed": 7, "every": "10s"}}}}`)
	again := parse(`{"duration": "1h", "channels": {"a": {"kind": "residual", "base": 100, "noise": {"sd": 10, "seed": 7}}}}`)
	other := parse(`{"duration": "1h", "channels": {"a": {"kind": "residual", "base": 100, "noise": {"sd": 10, "seed": 8}}}}`)
	var sum, sq float64
	same, sameSeed := 0, 0
	const n = 3600
	for i := range n {
		at := time.Duration(i) * time.Second
		a, _, _ := sc.At("a", at)
		if a2, _, _ := sc.At("a", at+999*time.Millisecond); a2 != a {
			t.Fatalf("a at %v: %g, then %g within the same second", at, a, a2)
		}
		if a2, _, _ := again.At("a", at); a2 != a {
			t.Fatalf("a at %v: %g in one parse, %g in another", at, a, a2)
		}
		if b, _, _ := sc.At("b", at); b == a {
			same++
		}
		if o, _, _ := other.At("a", at); o == a {
			sameSeed++
		}
		sum += a - 100
		sq += (a - 100) * (a - 100)
	}
	mean, sd := sum/n, math.Sqrt(sq/n-(sum/n)*(sum/n))
	if math.Abs(mean) > 1 || math.Abs(sd-10) > 1 {
		t.Errorf("noise mean %.2f sd %.2f over %d samples, want about 0 and 10", mean, sd, n)
	}
	if same > 0 || sameSeed > 0 {
		t.Errorf("%d samples equal between channels, %d between seeds: want independent noise", same, sameSeed)
	}
	c0, _, _ := sc.At("c", 0)
	c9, _, _ := sc.At("c", 9*time.Second)
	c10, _, _ := sc.At("c", 10*time.Second)
	if c0 != c9 || c0 == c10 {
		t.Errorf("every 10s: %g %g %g, want the first two equal and the third new", c0, c9, c10)
	}
}
