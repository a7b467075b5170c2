package ads1115

import (
	"errors"
	"math"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"

	"linli/devices"
)

func init() {
	sleep = func(time.Duration) {}
}

// Config words from the datasheet's table 8: OS=0, MUX=100+input (AINx vs
// GND), PGA=001 (±4.096 V), MODE=0 (continuous), DR=111 (860 SPS),
// COMP_QUE=11 (comparator off).
const (
	cfgAIN0 = 0x42E3
	cfgAIN1 = 0x52E3
)

var opProbe = i2ctest.IO{Addr: 0x4A, W: []byte{0x01}, R: []byte{0x85, 0x83}} // reset value

func opCfg(cfg uint16) i2ctest.IO {
	return i2ctest.IO{Addr: 0x4A, W: []byte{0x01, byte(cfg >> 8), byte(cfg)}}
}

func opConv(v int16) i2ctest.IO {
	return i2ctest.IO{Addr: 0x4A, W: []byte{0x00}, R: []byte{byte(uint16(v) >> 8), byte(v)}}
}

// playback returns the ops of New and one RMS over samples on cfg.
func playback(cfg uint16, samples ...int16) *i2ctest.Playback {
	ops := []i2ctest.IO{opProbe, opCfg(cfg)}
	for _, s := range samples {
		ops = append(ops, opConv(s))
	}
	return &i2ctest.Playback{Ops: ops, DontPanic: true}
}

func TestRMS(t *testing.T) {
	// A square wave of ±1000 counts around a 1.65 V bias (13200 counts) has
	// an RMS of 1000 counts = 125 mV; at 8 A/V that is exactly 1 A.
	square := []int16{14200, 12200, 14200, 12200}
	tests := []struct {
		name    string
		ch      Channel
		cfg     uint16
		samples []int16
		want    physic.ElectricCurrent
		wantErr error
	}{
		{"square 1A", Channel{Input: 0, AmpsPerVolt: 8}, cfgAIN0, square, physic.Ampere, nil},
		{"residual 250mA", Channel{Input: 1, AmpsPerVolt: 2}, cfgAIN1, square, 250 * physic.MilliAmpere, nil},
		{"offset subtracted", Channel{Input: 0, AmpsPerVolt: 8, Offset: 100 * physic.MilliAmpere}, cfgAIN0, square, 900 * physic.MilliAmpere, nil},
		{"offset clamps at zero", Channel{Input: 0, AmpsPerVolt: 8, Offset: 2 * physic.Ampere}, cfgAIN0, square, 0, nil},
		{"no current: bias only", Channel{Input: 0, AmpsPerVolt: 8}, cfgAIN0, []int16{13200, 13200, 13200, 13200}, 0, nil},
		{"PGA per channel", Channel{Input: 0, AmpsPerVolt: 8, FullScale: PGA2V048}, 0x44E3, square, 500 * physic.MilliAmpere, nil},
		{"pinned at +full scale", Channel{Input: 0, AmpsPerVolt: 8}, cfgAIN0, []int16{0x7FFF}, 0, devices.ErrOutOfRange},
		{"clipped peak", Channel{Input: 0, AmpsPerVolt: 8}, cfgAIN0, []int16{14200, 0x7FFF}, 0, devices.ErrOutOfRange},
		{"pinned at -full scale", Channel{Input: 0, AmpsPerVolt: 8}, cfgAIN0, []int16{-0x8000}, 0, devices.ErrOutOfRange},
		{"no answer mid-window", Channel{Input: 0, AmpsPerVolt: 8}, cfgAIN0, []int16{14200, 12200}, 0, devices.ErrNoAnswer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bus := playback(tc.cfg, tc.samples...)
			d, err := New(bus, 0x4A, &Opts{Window: 4})
			if err != nil {
				t.Fatal(err)
			}
			got, err := d.RMS(tc.ch)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("RMS() error = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr == nil && got != tc.want {
				t.Errorf("RMS() = %s, want %s", got, tc.want)
			}
			if err := bus.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestRMSSine(t *testing.T) {
	// 50 Hz at 860 SPS over the default 86-sample window: 5 whole periods.
	const amp = 8000 // counts: 1 V peak, 0.7071 V RMS
	samples := make([]int16, 86)
	for i := range samples {
		samples[i] = int16(math.Round(13200 + amp*math.Sin(2*math.Pi*50*float64(i)/860+0.3)))
	}
	bus := playback(cfgAIN0, samples...)
	d, err := New(bus, 0x4A, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.RMS(Channel{Input: 0, AmpsPerVolt: 100})
	if err != nil {
		t.Fatal(err)
	}
	want := amp / math.Sqrt2 * 4.096 / 32768 * 100 // A
	if g := float64(got) / float64(physic.Ampere); math.Abs(g-want) > want*1e-4 {
		t.Errorf("RMS() = %s, want %.4fA", got, want)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestRMSWaits(t *testing.T) {
	var slept time.Duration
	defer func(f func(time.Duration)) { sleep = f }(sleep)
	sleep = func(d time.Duration) { slept += d }
	bus := playback(0x42A3, 13200, 13200, 13200, 13200) // DR=101: 250 SPS
	d, err := New(bus, 0x4A, &Opts{Rate: 250 * physic.Hertz, Window: 4})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.RMS(Channel{AmpsPerVolt: 1}); err != nil {
		t.Fatal(err)
	}
	// 1.25 periods before the first read, one between the others.
	if want := 4250 * time.Microsecond * 4; slept != want {
		t.Errorf("slept %v, want %v", slept, want)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestNewAbsent(t *testing.T) {
	bus := &i2ctest.Playback{DontPanic: true}
	if _, err := New(bus, 0x4A, nil); !errors.Is(err, devices.ErrAbsent) {
		t.Fatalf("New() error = %v, want ErrAbsent", err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestBadArgs(t *testing.T) {
	tests := []struct {
		name string
		addr uint16
		opts *Opts
	}{
		{"address", 0x47, nil},
		{"rate", 0x48, &Opts{Rate: 100 * physic.Hertz}},
		{"window", 0x48, &Opts{Window: 1}},
		{"pga", 0x48, &Opts{PGA: 9}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bus := &i2ctest.Playback{DontPanic: true}
			if _, err := New(bus, tc.addr, tc.opts); err == nil {
				t.Error("New() succeeded, want error")
			}
			if err := bus.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
	bus := &i2ctest.Playback{Ops: []i2ctest.IO{opProbe}}
	d, err := New(bus, 0x4A, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range []Channel{{Input: 4, AmpsPerVolt: 1}, {Input: -1, AmpsPerVolt: 1}, {Input: 0}, {Input: 0, AmpsPerVolt: math.NaN()}, {AmpsPerVolt: 1, FullScale: 7}} {
		if _, err := d.RMS(ch); err == nil {
			t.Errorf("RMS(%+v) succeeded, want error", ch)
		}
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestHalt(t *testing.T) {
	bus := &i2ctest.Playback{Ops: []i2ctest.IO{opProbe, opCfg(0x43E3)}} // MODE=1: power-down
	d, err := New(bus, 0x4A, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	if got, want := d.String(), "ADS1115{playback(74)}"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestPGA(t *testing.T) {
	if got := PGA2V048.String(); got != "±2.048V" {
		t.Errorf("PGA2V048.String() = %q", got)
	}
	if PGADefault.FullScale() != 0 || PGA(42).FullScale() != 0 {
		t.Error("FullScale of default/unknown must be 0")
	}
}

// constBus answers every read with the same conversion: the cheapest bus.
type constBus struct{ i2ctest.Playback }

func (c *constBus) Tx(addr uint16, w, r []byte) error {
	if len(r) == 2 {
		r[0], r[1] = 0x40, 0x00
	}
	return nil
}

func BenchmarkRMS(b *testing.B) {
	// Baseline: the Window+1 bus transactions alone. The ratio is what the
	// driver's arithmetic and checks add to them.
	bus := &constBus{}
	w, r := []byte{0x00}, make([]byte, 2)
	start := time.Now()
	for range b.N {
		for range DefaultOpts.Window + 1 {
			if err := bus.Tx(0x48, w, r); err != nil {
				b.Fatal(err)
			}
		}
	}
	baseline := time.Since(start)
	d, err := New(bus, 0x48, nil)
	if err != nil {
		b.Fatal(err)
	}
	ch := Channel{Input: 0, AmpsPerVolt: 60}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := d.RMS(ch); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed())/float64(max(baseline, 1)), "x-baseline")
}

// sleeperBus decides the waits, as devices/sim's bus does.
type sleeperBus struct {
	*i2ctest.Playback
	slept time.Duration
}

func (s *sleeperBus) Sleep(d time.Duration) { s.slept += d }

func TestSleeperBus(t *testing.T) {
	defer func(f func(time.Duration)) { sleep = f }(sleep)
	sleep = func(time.Duration) { t.Error("driver slept itself on a Sleeper bus") }
	bus := &sleeperBus{Playback: playback(cfgAIN0, 13200, 13200)}
	d, err := New(bus, 0x4A, &Opts{Window: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.RMS(Channel{AmpsPerVolt: 1}); err != nil {
		t.Fatal(err)
	}
	if bus.slept == 0 {
		t.Error("the bus was not asked to wait")
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}
