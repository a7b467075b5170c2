package sim

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

//go:embed scenarios/*.json
var builtin embed.FS

// Kind is what a channel carries, and so its unit. The names match the
// hazard engine's kinds.
type Kind string

// Channel kinds.
const (
	KindTemperature Kind = "temperature" // °C
	KindLoad        Kind = "load"        // A RMS
	KindResidual    Kind = "residual"    // mA RMS
	KindSmoke       Kind = "smoke"       // ≥ 1 means smoke
)

// Unit returns the unit of values of kind k ("°C", "A", "mA", "").
func (k Kind) Unit() string {
	switch k {
	case KindTemperature:
		return "°C"
	case KindLoad:
		return "A"
	case KindResidual:
		return "mA"
	}
	return ""
}

// State says whether a sensor answers at a given time.
type State int

// Sensor states.
const (
	OK           State = iota // the sensor answers with the curve's value
	Disconnected              // the sensor does not answer
	OutOfRange                // the sensor answers with an impossible value
)

func (s State) String() string {
	switch s {
	case OK:
		return "ok"
	case Disconnected:
		return "disconnected"
	case OutOfRange:
		return "out-of-range"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Scenario is a timed script of what every channel reads.
type Scenario struct {
	Name        string
	Description string
	// Duration is how long the scenario is meant to run. Curves are defined
	// past it too (ramps and steps hold, sines go on).
	Duration time.Duration
	// Channels by channel name (e.g. "busbar-l1").
	Channels map[string]*Curve
}

// Curve is one channel's value over time. See the package doc for how the
// parts combine.
type Curve struct {
	Kind        Kind
	Base        float64
	Steps       []Step
	Ramps       []Ramp
	Sines       []Sine
	Glitches    []Glitch
	Disconnects []Interval
	OutOfRange  []Interval
	Noise       *Noise // nil: none

	events []event // steps and ramps, by start time
}

// Noise adds Gaussian noise of standard deviation SD, a new value every
// Every (default 1 s, one per sample at sensord's 1 Hz). The value at a
// time is a pure function of the seed, the channel and the time: every
// read within the same Every, and every run, sees the same noise.
type Noise struct {
	SD    float64
	Every time.Duration
	Seed  uint64
	key   uint64 // Seed mixed with the channel's name, so channels differ
}

// at returns the noise at t.
func (n *Noise) at(t time.Duration) float64 {
	k := uint64(t / n.Every)
	return n.SD * rand.New(rand.NewPCG(n.key, k)).NormFloat64()
}

// Step jumps to Value at At.
type Step struct {
	At    time.Duration
	Value float64
}

// Ramp goes linearly from the value at From to Value at To.
type Ramp struct {
	From, To time.Duration
	Value    float64
}

// Sine adds Amplitude·sin(2π(t+Phase)/Period).
type Sine struct {
	Amplitude float64
	Period    time.Duration
	Phase     time.Duration
}

// Glitch replaces the value with Value during [At, At+For).
type Glitch struct {
	At, For time.Duration
	Value   float64
}

// Interval is [From, To).
type Interval struct {
	From, To time.Duration
}

func (i Interval) contains(t time.Duration) bool { return i.From <= t && t < i.To }

type event struct {
	start, end time.Duration // end == start for a step
	value      float64
}

// At returns the value of the curve at t and whether the sensor answers.
func (c *Curve) At(t time.Duration) (float64, State) {
	for _, iv := range c.Disconnects {
		if iv.contains(t) {
			return 0, Disconnected
		}
	}
	for _, iv := range c.OutOfRange {
		if iv.contains(t) {
			return 0, OutOfRange
		}
	}
	for _, g := range c.Glitches {
		if g.At <= t && t < g.At+g.For {
			return g.Value, OK
		}
	}
	v := c.Base
	for _, e := range c.events {
		if t < e.start {
			break
		}
		if t >= e.end {
			v = e.value
			continue
		}
		v += (e.value - v) * float64(t-e.start) / float64(e.end-e.start)
		break // events do not overlap a ramp
	}
	for _, s := range c.Sines {
		v += s.Amplitude * math.Sin(2*math.Pi*float64(t+s.Phase)/float64(s.Period))
	}
	if c.Noise != nil {
		v += c.Noise.at(t)
	}
	return v, OK
}

// At returns channel's value at t; ok is false for an unknown channel.
func (sc *Scenario) At(channel string, t time.Duration) (v float64, st State, ok bool) {
	c := sc.Channels[channel]
	if c == nil {
		return 0, Disconnected, false
	}
	v, st = c.At(t)
	return v, st, true
}

// ChannelNames returns the channel names, sorted.
func (sc *Scenario) ChannelNames() []string {
	names := make([]string, 0, len(sc.Channels))
	for n := range sc.Channels {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Names returns the built-in scenario names, sorted.
func Names() []string {
	ents, err := fs.ReadDir(builtin, "scenarios")
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range ents {
		names = append(names, strings.TrimSuffix(e.Name(), ".json"))
	}
	return names
}

// Load returns the built-in scenario nameOrPath, or else reads the JSON file
// at that path. Errors name the file and the offending field.
func Load(nameOrPath string) (*Scenario, error) {
	if slices.Contains(Names(), nameOrPath) {
		b, err := builtin.ReadFile(path.Join("scenarios", nameOrPath+".json"))
		if err != nil {
			return nil, fmt.Errorf("sim: %w", err)
		}
		return Parse(nameOrPath, b)
	}
	b, err := os.ReadFile(nameOrPath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && !strings.ContainsAny(nameOrPath, `/\.`) {
			return nil, fmt.Errorf("sim: no built-in scenario %q (have %s) and no such file", nameOrPath, strings.Join(Names(), ", "))
		}
		return nil, fmt.Errorf("sim: %w", err)
	}
	sc, err := Parse(nameOrPath, b)
	if err != nil {
		return nil, err
	}
	if sc.Name == "" {
		sc.Name = strings.TrimSuffix(filepath.Base(nameOrPath), ".json")
	}
	return sc, nil
}

// The JSON form, with durations as strings ("1m30s").
type (
	jsonScenario struct {
		Name        string                     `json:"name"`
		Description string                     `json:"description"`
		Duration    string                     `json:"duration"`
		Channels    map[string]json.RawMessage `json:"channels"`
	}
	jsonCurve struct {
		Kind        Kind           `json:"kind"`
		Base        *float64       `json:"base"`
		Steps       []jsonStep     `json:"steps"`
		Ramps       []jsonRamp     `json:"ramps"`
		Sines       []jsonSine     `json:"sines"`
		Glitches    []jsonGlitch   `json:"glitches"`
		Disconnects []jsonInterval `json:"disconnects"`
		OutOfRange  []jsonInterval `json:"out_of_range"`
		Noise       *jsonNoise     `json:"noise"`
	}
	jsonNoise struct {
		SD    float64 `json:"sd"`
		Every string  `json:"every"`
		Seed  uint64  `json:"seed"`
	}
	jsonStep struct {
		At    string   `json:"at"`
		Value *float64 `json:"value"`
	}
	jsonRamp struct {
		From  string   `json:"from"`
		To    string   `json:"to"`
		Value *float64 `json:"value"`
	}
	jsonSine struct {
		Amplitude float64 `json:"amplitude"`
		Period    string  `json:"period"`
		Phase     string  `json:"phase"`
	}
	jsonGlitch struct {
		At    string   `json:"at"`
		For   string   `json:"for"`
		Value *float64 `json:"value"`
	}
	jsonInterval struct {
		From string `json:"from"`
		To   string `json:"to"`
	}
)

// Parse decodes a scenario file's content; src names it in errors.
func Parse(src string, b []byte) (*Scenario, error) {
	var js jsonScenario
	if err := decode(b, &js); err != nil {
		return nil, fmt.Errorf("sim: %s: %w", src, jsonError("", err))
	}
	p := parser{src: src}
	sc := &Scenario{Name: js.Name, Description: js.Description, Channels: map[string]*Curve{}}
	sc.Duration = p.duration("duration", js.Duration, false)
	if p.err == nil && sc.Duration <= 0 {
		p.fail("duration", "must be positive")
	}
	if p.err == nil && len(js.Channels) == 0 {
		p.fail("channels", "no channels")
	}
	names := make([]string, 0, len(js.Channels))
	for n := range js.Channels {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if p.err != nil {
			break
		}
		var jc jsonCurve
		if err := decode(js.Channels[n], &jc); err != nil {
			return nil, fmt.Errorf("sim: %s: %w", src, jsonError("channels."+n, err))
		}
		sc.Channels[n] = p.curve("channels."+n, &jc)
	}
	if p.err != nil {
		return nil, p.err
	}
	return sc, nil
}

func decode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	return nil
}

// jsonError names the field of a type error with its full path.
func jsonError(prefix string, err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if prefix != "" {
			field = prefix + "." + field
		}
		return fmt.Errorf("%s: want %s, not a JSON %s", field, te.Type, te.Value)
	}
	if prefix != "" {
		return fmt.Errorf("%s: %w", prefix, err)
	}
	return err
}

type parser struct {
	src string
	err error
}

func (p *parser) fail(field, format string, a ...any) {
	if p.err == nil {
		p.err = fmt.Errorf("sim: %s: %s: %s", p.src, field, fmt.Sprintf(format, a...))
	}
}

// duration parses s; "" is 0 when optional.
func (p *parser) duration(field, s string, optional bool) time.Duration {
	if s == "" {
		if !optional {
			p.fail(field, "missing")
		}
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		p.fail(field, "%v", err)
		return 0
	}
	if d < 0 {
		p.fail(field, "negative duration %s", s)
	}
	return d
}

func (p *parser) value(field string, v *float64) float64 {
	if v == nil {
		p.fail(field, "missing")
		return 0
	}
	if math.IsNaN(*v) || math.IsInf(*v, 0) {
		p.fail(field, "not a number")
	}
	return *v
}

func (p *parser) curve(field string, jc *jsonCurve) *Curve {
	if jc == nil {
		p.fail(field, "null channel")
		return nil
	}
	c := &Curve{Kind: jc.Kind}
	switch jc.Kind {
	case KindTemperature, KindLoad, KindResidual, KindSmoke:
	case "":
		p.fail(field+".kind", "missing (want temperature, load, residual or smoke)")
	default:
		p.fail(field+".kind", "unknown kind %q (want temperature, load, residual or smoke)", jc.Kind)
	}
	c.Base = p.value(field+".base", jc.Base)
	for i, s := range jc.Steps {
		f := fmt.Sprintf("%s.steps[%d]", field, i)
		st := Step{At: p.duration(f+".at", s.At, false), Value: p.value(f+".value", s.Value)}
		c.Steps = append(c.Steps, st)
		c.events = append(c.events, event{start: st.At, end: st.At, value: st.Value})
	}
	for i, r := range jc.Ramps {
		f := fmt.Sprintf("%s.ramps[%d]", field, i)
		rp := Ramp{From: p.duration(f+".from", r.From, false), To: p.duration(f+".to", r.To, false), Value: p.value(f+".value", r.Value)}
		if p.err == nil && rp.To <= rp.From {
			p.fail(f+".to", "%s is not after from %s", rp.To, rp.From)
		}
		c.Ramps = append(c.Ramps, rp)
		c.events = append(c.events, event{start: rp.From, end: rp.To, value: rp.Value})
	}
	sort.SliceStable(c.events, func(i, j int) bool { return c.events[i].start < c.events[j].start })
	for i := 1; i < len(c.events) && p.err == nil; i++ {
		if prev := c.events[i-1]; prev.end > c.events[i].start {
			p.fail(field, "a ramp ending at %s overlaps a step or ramp starting at %s", prev.end, c.events[i].start)
		}
	}
	for i, s := range jc.Sines {
		f := fmt.Sprintf("%s.sines[%d]", field, i)
		sn := Sine{Amplitude: s.Amplitude, Period: p.duration(f+".period", s.Period, false), Phase: p.duration(f+".phase", s.Phase, true)}
		if p.err == nil && sn.Period <= 0 {
			p.fail(f+".period", "must be positive")
		}
		c.Sines = append(c.Sines, sn)
	}
	for i, g := range jc.Glitches {
		f := fmt.Sprintf("%s.glitches[%d]", field, i)
		gl := Glitch{At: p.duration(f+".at", g.At, false), For: p.duration(f+".for", g.For, true), Value: p.value(f+".value", g.Value)}
		if gl.For == 0 {
			gl.For = time.Second
		}
		c.Glitches = append(c.Glitches, gl)
	}
	c.Disconnects = p.intervals(field+".disconnects", jc.Disconnects)
	c.OutOfRange = p.intervals(field+".out_of_range", jc.OutOfRange)
	if jn := jc.Noise; jn != nil {
		f := field + ".noise"
		n := &Noise{SD: jn.SD, Every: time.Second, Seed: jn.Seed}
		if jn.Every != "" {
			n.Every = p.duration(f+".every", jn.Every, false)
			if p.err == nil && n.Every <= 0 {
				p.fail(f+".every", "must be positive")
			}
		}
		if p.err == nil && n.SD < 0 {
			p.fail(f+".sd", "%g is negative", n.SD)
		}
		h := fnv.New64a()
		h.Write([]byte(field))
		n.key = n.Seed ^ h.Sum64()
		c.Noise = n
	}
	return c
}

func (p *parser) intervals(field string, js []jsonInterval) []Interval {
	var out []Interval
	for i, j := range js {
		f := fmt.Sprintf("%s[%d]", field, i)
		iv := Interval{From: p.duration(f+".from", j.From, false), To: p.duration(f+".to", j.To, false)}
		if p.err == nil && iv.To <= iv.From {
			p.fail(f+".to", "%s is not after from %s", iv.To, iv.From)
		}
		out = append(out, iv)
	}
	return out
}
