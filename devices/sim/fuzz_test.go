package sim

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzParse checks the scenario parser on arbitrary files, seeded with
// the built-in scenarios and testdata: no panics; refusals are "sim: "
// errors naming the file; an accepted scenario has a positive duration,
// channels of known kinds, and answers At for each of them at any time
// without panicking, with a finite value while its parts are modest.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"scenarios", "testdata"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte(`{"duration":"1m","channels":{"a":{"kind":"smoke","base":0,"glitches":[{"at":"2562047h","for":"1h","value":1}]}}}`))
	f.Add([]byte(`{"duration":"1m","channels":{"a":null}}`))
	f.Add([]byte(`{"duration":"1m","channels":{"a":{"kind":"smoke","base":0}}}}`))
	f.Add([]byte(`{"duration":"1m","channels":{"a":{"kind":"load","base":1,"sines":[{"amplitude":1e308,"period":"1ns"}]}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		sc, err := Parse("fz.json", b)
		if err != nil {
			if sc != nil || !strings.HasPrefix(err.Error(), "sim: fz.json: ") {
				t.Fatalf("Parse(%q) = %v, %v", b, sc, err)
			}
			return
		}
		if !json.Valid(b) {
			t.Fatalf("Parse accepted %q, which is not one JSON value", b)
		}
		if sc.Duration <= 0 || len(sc.Channels) == 0 {
			t.Fatalf("Parse(%q) accepted duration %s, %d channels", b, sc.Duration, len(sc.Channels))
		}
		for _, name := range sc.ChannelNames() {
			c := sc.Channels[name]
			if c == nil || (c.Kind != KindTemperature && c.Kind != KindLoad && c.Kind != KindResidual && c.Kind != KindSmoke) {
				t.Fatalf("Parse(%q): channel %q is %+v", b, name, c)
			}
			modest := math.Abs(c.Base) < 1e6
			for _, s := range c.Sines {
				modest = modest && math.Abs(s.Amplitude) < 1e6
			}
			for _, s := range c.Steps {
				modest = modest && math.Abs(s.Value) < 1e6
			}
			for _, r := range c.Ramps {
				modest = modest && math.Abs(r.Value) < 1e6
			}
			for _, at := range []time.Duration{0, sc.Duration / 3, sc.Duration, 2 * sc.Duration, math.MaxInt64, -1} {
				v, st, ok := sc.At(name, at)
				if !ok || st < OK || st > OutOfRange {
					t.Fatalf("At(%q, %s) = %g, %v, %v", name, at, v, st, ok)
				}
				if modest && (math.IsNaN(v) || math.IsInf(v, 0)) {
					t.Fatalf("At(%q, %s) = %g from a scenario of modest values: %s", name, at, v, b)
				}
			}
		}
	})
}
