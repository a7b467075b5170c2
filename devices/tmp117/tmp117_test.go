package tmp117

import (
	"errors"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"

	"linli/devices"
)

// Register values below come from the datasheet (SNOSD82E): Device_ID 0x0117,
// configuration reset value 0x0220, result 7.8125 m°C per LSB, 0x8000 at
// power-on.
var (
	opID     = i2ctest.IO{Addr: 0x48, W: []byte{0x0F}, R: []byte{0x01, 0x17}}
	opConfig = i2ctest.IO{Addr: 0x48, W: []byte{0x01, 0x02, 0x20}} // continuous, 1 s, AVG 8
)

func opTemp(hi, lo byte) i2ctest.IO {
	return i2ctest.IO{Addr: 0x48, W: []byte{0x00}, R: []byte{hi, lo}}
}

func TestTemperature(t *testing.T) {
	tests := []struct {
		name    string
		hi, lo  byte
		want    physic.Temperature
		wantErr error
	}{
		{"25C", 0x0C, 0x80, 25 * physic.Celsius, nil},
		{"one LSB", 0x00, 0x01, 7812500 * physic.NanoKelvin, nil},
		{"-25C", 0xF3, 0x80, -25 * physic.Celsius, nil},
		{"150C max", 0x4B, 0x00, 150 * physic.Celsius, nil},
		{"-55C min", 0xE4, 0x80, -55 * physic.Celsius, nil},
		{"above 150C", 0x4B, 0x01, 0, devices.ErrOutOfRange},
		{"below -55C", 0xE4, 0x7F, 0, devices.ErrOutOfRange},
		{"power-on 0x8000", 0x80, 0x00, 0, devices.ErrOutOfRange},
		{"255C", 0x7F, 0xFF, 0, devices.ErrOutOfRange},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bus := &i2ctest.Playback{Ops: []i2ctest.IO{opID, opConfig, opTemp(tc.hi, tc.lo)}}
			d, err := New(bus, 0x48, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := d.Temperature()
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Temperature() error = %v, want %v", err, tc.wantErr)
			}
			if got != tc.want+physic.ZeroCelsius && tc.wantErr == nil {
				t.Errorf("Temperature() = %s, want %s", got, tc.want+physic.ZeroCelsius)
			}
			if err := bus.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestNewAbsent(t *testing.T) {
	tests := []struct {
		name string
		ops  []i2ctest.IO
	}{
		{"nothing at address", nil},
		{"TMP116 id 0x1116", []i2ctest.IO{{Addr: 0x48, W: []byte{0x0F}, R: []byte{0x11, 0x16}}}},
		{"id 0x0000", []i2ctest.IO{{Addr: 0x48, W: []byte{0x0F}, R: []byte{0x00, 0x00}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bus := &i2ctest.Playback{Ops: tc.ops, DontPanic: true}
			d, err := New(bus, 0x48, nil)
			if !errors.Is(err, devices.ErrAbsent) {
				t.Fatalf("New() = %v, %v; want error wrapping ErrAbsent", d, err)
			}
			if err := bus.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestNewRevisionIgnored(t *testing.T) {
	// REV[15:12] may change between silicon revisions; DID stays 0x117.
	bus := &i2ctest.Playback{Ops: []i2ctest.IO{
		{Addr: 0x4B, W: []byte{0x0F}, R: []byte{0x11, 0x17}},
		{Addr: 0x4B, W: []byte{0x01, 0x02, 0x60}}, // AVG 64
	}}
	if _, err := New(bus, 0x4B, &Opts{Averaging: 64}); err != nil {
		t.Fatal(err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestNewBadArgs(t *testing.T) {
	bus := &i2ctest.Playback{DontPanic: true}
	if _, err := New(bus, 0x40, nil); err == nil {
		t.Error("New(0x40) succeeded, want invalid address error")
	}
	if _, err := New(bus, 0x48, &Opts{Averaging: 4}); err == nil {
		t.Error("New(Averaging 4) succeeded, want error")
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestNoAnswerMidRun(t *testing.T) {
	bus := &i2ctest.Playback{Ops: []i2ctest.IO{opID, opConfig, opTemp(0x0C, 0x80)}, DontPanic: true}
	d, err := New(bus, 0x48, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Temperature(); err != nil {
		t.Fatalf("first read: %v", err)
	}
	// The playback has no more answers: the chip went silent.
	_, err = d.Temperature()
	if !errors.Is(err, devices.ErrNoAnswer) {
		t.Fatalf("second read error = %v, want ErrNoAnswer", err)
	}
	if errors.Is(err, devices.ErrOutOfRange) {
		t.Errorf("a silent chip must not look like an out-of-range reading: %v", err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOneShot(t *testing.T) {
	var slept []time.Duration
	defer func(f func(time.Duration)) { sleep = f }(sleep)
	sleep = func(d time.Duration) { slept = append(slept, d) }

	bus := &i2ctest.Playback{Ops: []i2ctest.IO{
		opID,
		{Addr: 0x48, W: []byte{0x01, 0x04, 0x00}}, // shutdown, AVG 1
		{Addr: 0x48, W: []byte{0x01, 0x0C, 0x00}}, // one-shot, AVG 1
		opTemp(0x11, 0x80),                        // 35 °C
	}}
	d, err := New(bus, 0x48, &Opts{Averaging: 1, OneShot: true})
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.Temperature()
	if err != nil {
		t.Fatal(err)
	}
	if want := 35*physic.Celsius + physic.ZeroCelsius; got != want {
		t.Errorf("Temperature() = %s, want %s", got, want)
	}
	if len(slept) != 1 || slept[0] < 15500*time.Microsecond {
		t.Errorf("slept %v, want one wait of at least 15.5 ms", slept)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestHaltRestarts(t *testing.T) {
	defer func(f func(time.Duration)) { sleep = f }(sleep)
	sleep = func(time.Duration) {}
	bus := &i2ctest.Playback{Ops: []i2ctest.IO{
		opID, opConfig,
		{Addr: 0x48, W: []byte{0x01, 0x04, 0x20}}, // Halt: shutdown
		opConfig,           // restart on next read
		opTemp(0x0C, 0x80), // 25 °C
	}}
	d, err := New(bus, 0x48, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	var e physic.Env
	if err := d.Sense(&e); err != nil {
		t.Fatal(err)
	}
	if want := 25*physic.Celsius + physic.ZeroCelsius; e.Temperature != want {
		t.Errorf("Sense() = %s, want %s", e.Temperature, want)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestSenseContinuous(t *testing.T) {
	bus := &i2ctest.Playback{Ops: []i2ctest.IO{
		opID, opConfig,
		opTemp(0x0C, 0x80), opTemp(0x0C, 0x81),
		{Addr: 0x48, W: []byte{0x01, 0x04, 0x20}},
	}}
	// Reads after the second one fail (the next op is Halt's write) and are
	// skipped; DontPanic turns them into errors instead of panics.
	bus.DontPanic = true
	d, err := New(bus, 0x48, nil)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := d.SenseContinuous(time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	want := []physic.Temperature{25 * physic.Celsius, 25*physic.Celsius + lsb}
	for i, w := range want {
		e := <-ch
		if e.Temperature != w+physic.ZeroCelsius {
			t.Errorf("reading %d = %s, want %s", i, e.Temperature, w+physic.ZeroCelsius)
		}
	}
	// Halt stops the goroutine, closes the channel and shuts the chip down.
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	for range ch {
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestPrecisionAndString(t *testing.T) {
	bus := &i2ctest.Playback{Ops: []i2ctest.IO{opID, opConfig}}
	d, err := New(bus, 0x48, nil)
	if err != nil {
		t.Fatal(err)
	}
	var e physic.Env
	d.Precision(&e)
	if e.Temperature != 7812500*physic.NanoKelvin {
		t.Errorf("Precision = %d nK, want 7812500", e.Temperature)
	}
	if got, want := d.String(), "TMP117{playback(72)}"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkTemperature(b *testing.B) {
	// The baseline is the bare bus transaction the driver needs; the ratio
	// shows what the driver adds on top.
	ops := []i2ctest.IO{opID, opConfig}
	for range b.N {
		ops = append(ops, opTemp(0x0C, 0x80))
	}
	base := &i2ctest.Playback{Ops: ops[2:]}
	r := make([]byte, 2)
	w := []byte{0x00}
	start := time.Now()
	for range b.N {
		if err := base.Tx(0x48, w, r); err != nil {
			b.Fatal(err)
		}
	}
	baseline := time.Since(start)

	bus := &i2ctest.Playback{Ops: ops}
	d, err := New(bus, 0x48, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := d.Temperature(); err != nil {
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
	bus := &sleeperBus{Playback: &i2ctest.Playback{Ops: []i2ctest.IO{
		opID,
		{Addr: 0x48, W: []byte{0x01, 0x04, 0x20}}, // shutdown, AVG 8
		{Addr: 0x48, W: []byte{0x01, 0x0C, 0x20}}, // one-shot, AVG 8
		opTemp(0x0C, 0x80),
	}}}
	d, err := New(bus, 0x48, &Opts{OneShot: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Temperature(); err != nil {
		t.Fatal(err)
	}
	if bus.slept < 125*time.Millisecond {
		t.Errorf("bus asked to wait %v, want at least 125 ms", bus.slept)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}
