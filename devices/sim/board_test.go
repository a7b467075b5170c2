package sim_test

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"

	"linli/devices"
	"linli/devices/ads1115"
	"linli/devices/ds18b20"
	"linli/devices/indicator"
	"linli/devices/sim"
	"linli/devices/smoke"
)

// rig is sensord's default hardware on a simulated board, through the real
// drivers.
type rig struct {
	board            *sim.Board
	busbar, terminal interface {
		Temperature() (physic.Temperature, error)
	}
	probe              *ds18b20.Dev
	adc                *ads1115.Dev
	loadCh, residualCh ads1115.Channel
	smoke              *smoke.Dev
	sc                 *sim.Scenario
}

func newRig(t testing.TB, scenario string) *rig {
	t.Helper()
	sc, err := sim.Load(scenario)
	if err != nil {
		t.Fatal(err)
	}
	b := sim.NewBoard(sc)
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})
	b.AddTMP117(0x48, "busbar-l1")
	b.AddTMP117(0x49, "terminal-n")
	b.AddDS18B20("28-000000000001", "probe-1")
	b.AddADS1115(0x4A, [4]string{"load-l1", "residual"}, [4]float64{30, 1})
	alarm, fault := b.SmokePins("smoke")
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	r := &rig{board: b, sc: sc,
		loadCh:     ads1115.Channel{Input: 0, AmpsPerVolt: 30},
		residualCh: ads1115.Channel{Input: 1, AmpsPerVolt: 1},
	}
	if r.busbar, err = newTMP117(b, 0x48); err != nil {
		t.Fatal(err)
	}
	if r.terminal, err = newTMP117(b, 0x49); err != nil {
		t.Fatal(err)
	}
	if r.probe, err = ds18b20.Open("28-000000000001", &ds18b20.Opts{Root: b.W1Root()}); err != nil {
		t.Fatal(err)
	}
	if r.adc, err = ads1115.New(b.Bus(), 0x4A, nil); err != nil {
		t.Fatal(err)
	}
	if r.smoke, err = smoke.New(alarm, fault, &smoke.Opts{Debounce: -1}); err != nil {
		t.Fatal(err)
	}
	return r
}

func celsius(t physic.Temperature) float64 { return t.Celsius() }

func TestDriversReadScenario(t *testing.T) {
	r := newRig(t, "meterbox-fire")
	for at := time.Duration(0); at <= r.sc.Duration; at += 17 * time.Second {
		r.board.SetElapsed(at)
		check := func(name string, got float64, err error, tol float64) {
			t.Helper()
			want, _, _ := r.sc.At(name, at)
			if err != nil {
				t.Fatalf("%s at %v: %v", name, at, err)
			}
			if math.Abs(got-want) > tol {
				t.Errorf("%s at %v = %.4f, want %.4f ± %g", name, at, got, want, tol)
			}
		}
		v, err := r.busbar.Temperature()
		check("busbar-l1", celsius(v), err, 0.0079/2)
		v, err = r.terminal.Temperature()
		check("terminal-n", celsius(v), err, 0.0079/2)
		v, err = r.probe.Temperature()
		check("probe-1", celsius(v), err, 0.0625/2)
		i, err := r.adc.RMS(r.loadCh)
		check("load-l1", float64(i)/float64(physic.Ampere), err, 0.01) // 125 µV·30 A/V = 3.75 mA per count
		i, err = r.adc.RMS(r.residualCh)
		check("residual", float64(i)/float64(physic.MilliAmpere), err, 0.2) // 0.125 mA per count
		st, err := r.smoke.Read()
		want, _, _ := r.sc.At("smoke", at)
		if err != nil || st.Alarm != (want >= 1) || st.Fault {
			t.Errorf("smoke at %v = %+v, %v; want alarm %v", at, st, err, want >= 1)
		}
	}
}

func newTMP117(b *sim.Board, addr uint16) (interface {
	Temperature() (physic.Temperature, error)
}, error) {
	return tmp117New(b.Bus(), addr)
}

// TestNormalDayThroughDrivers runs the whole compressed day at 1 Hz and
// checks that what the drivers report is the day the scenario promises:
// only the two glitches leave the normal range and only one read fails.
func TestNormalDayThroughDrivers(t *testing.T) {
	if testing.Short() {
		t.Skip("1441 samples of 6 channels")
	}
	r := newRig(t, "normal-day")
	var high, failed []string
	for at := time.Duration(0); at <= r.sc.Duration; at += time.Second {
		r.board.SetElapsed(at)
		for name, s := range map[string]interface {
			Temperature() (physic.Temperature, error)
		}{
			"busbar-l1": r.busbar, "terminal-n": r.terminal, "probe-1": r.probe,
		} {
			v, err := s.Temperature()
			switch {
			case err != nil:
				failed = append(failed, name+"@"+at.String())
			case v.Celsius() >= 70:
				high = append(high, name+"@"+at.String())
			}
		}
		if i, err := r.adc.RMS(r.loadCh); err != nil || i >= 32*physic.Ampere {
			t.Errorf("load at %v: %s, %v", at, i, err)
		}
		i, err := r.adc.RMS(r.residualCh)
		switch {
		case err != nil:
			failed = append(failed, "residual@"+at.String())
		case i >= 200*physic.MilliAmpere:
			high = append(high, "residual@"+at.String())
		}
		if st, err := r.smoke.Read(); err != nil || st != (smoke.Status{}) {
			t.Errorf("smoke at %v: %+v, %v", at, st, err)
		}
	}
	if want := []string{"residual@7m0s", "busbar-l1@12m0s"}; !sameSet(high, want) {
		t.Errorf("readings at or above pre-alarm: %v, want %v", high, want)
	}
	if want := []string{"terminal-n@15m0s"}; !sameSet(failed, want) {
		t.Errorf("failed reads: %v, want %v", failed, want)
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		seen[s]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}

func TestFailuresThroughDrivers(t *testing.T) {
	sc, err := sim.Load("testdata/custom.json")
	if err != nil {
		t.Fatal(err)
	}
	b := sim.NewBoard(sc)
	defer b.Close()
	b.AddTMP117(0x48, "t")
	b.AddDS18B20("28-000000000002", "t")
	b.AddADS1115(0x4B, [4]string{"load", "", "res"}, [4]float64{30, 0, 1})
	alarm, fault := b.SmokePins("smoke")
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	tmp, err := tmp117New(b.Bus(), 0x48)
	if err != nil {
		t.Fatal(err)
	}
	probe, err := ds18b20.Open("28-000000000002", &ds18b20.Opts{Root: b.W1Root()})
	if err != nil {
		t.Fatal(err)
	}
	adc, err := ads1115.New(b.Bus(), 0x4B, nil)
	if err != nil {
		t.Fatal(err)
	}
	det, err := smoke.New(alarm, fault, &smoke.Opts{Debounce: -1, AlarmActiveLow: true})
	if err != nil {
		t.Fatal(err)
	}
	load := ads1115.Channel{Input: 0, AmpsPerVolt: 30}
	res := ads1115.Channel{Input: 2, AmpsPerVolt: 1}
	unused := ads1115.Channel{Input: 1, AmpsPerVolt: 1}

	tests := []struct {
		at                 time.Duration
		wantTemp, wantLoad error
		wantSmoke          smoke.Status
		wantSmokeErr       error
	}{
		{0, nil, nil, smoke.Status{}, nil},
		{30 * time.Second, nil, nil, smoke.Status{Alarm: true}, nil},
		{45 * time.Second, devices.ErrNoAnswer, devices.ErrNoAnswer, smoke.Status{Fault: true}, devices.ErrWiring},
		{50 * time.Second, devices.ErrOutOfRange, devices.ErrOutOfRange, smoke.Status{Alarm: true}, nil},
		{51 * time.Second, nil, nil, smoke.Status{Alarm: true}, nil},
	}
	for _, tc := range tests {
		b.SetElapsed(tc.at)
		if _, err := tmp.Temperature(); !errors.Is(err, tc.wantTemp) {
			t.Errorf("TMP117 at %v: %v, want %v", tc.at, err, tc.wantTemp)
		}
		if _, err := probe.Temperature(); !errors.Is(err, tc.wantTemp) {
			t.Errorf("DS18B20 at %v: %v, want %v", tc.at, err, tc.wantTemp)
		}
		if _, err := adc.RMS(load); !errors.Is(err, tc.wantLoad) {
			t.Errorf("ADS1115 load at %v: %v, want %v", tc.at, err, tc.wantLoad)
		}
		// The other inputs of the same chip keep answering.
		if i, err := adc.RMS(res); err != nil || math.Abs(float64(i-250*physic.MilliAmpere)) > float64(200*physic.MicroAmpere) {
			t.Errorf("ADS1115 residual at %v: %s, %v; want 250mA", tc.at, i, err)
		}
		if i, err := adc.RMS(unused); err != nil || i > physic.MilliAmpere {
			t.Errorf("ADS1115 unused input at %v: %s, %v; want 0", tc.at, i, err)
		}
		st, err := det.Read()
		if st != tc.wantSmoke || !errors.Is(err, tc.wantSmokeErr) {
			t.Errorf("smoke at %v: %+v, %v; want %+v, %v", tc.at, st, err, tc.wantSmoke, tc.wantSmokeErr)
		}
	}
}

func TestPolarityFollowsPulls(t *testing.T) {
	sc, err := sim.Load("meterbox-fire")
	if err != nil {
		t.Fatal(err)
	}
	for _, opts := range []smoke.Opts{
		smoke.DefaultOpts,
		{Debounce: -1},
		{Debounce: -1, AlarmActiveLow: true, FaultActiveLow: true},
	} {
		b := sim.NewBoard(sc)
		alarm, fault := b.SmokePins("smoke")
		det, err := smoke.New(alarm, fault, &opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			at   time.Duration
			want smoke.Status
		}{{time.Minute, smoke.Status{}}, {9 * time.Minute, smoke.Status{Alarm: true}}} {
			b.SetElapsed(tc.at)
			if st, err := det.Read(); st != tc.want || err != nil {
				t.Errorf("opts %+v at %v: %+v, %v; want %+v", opts, tc.at, st, err, tc.want)
			}
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSmokeEdges(t *testing.T) {
	sc, err := sim.Load("meterbox-fire")
	if err != nil {
		t.Fatal(err)
	}
	b := sim.NewBoard(sc)
	defer b.Close()
	alarm, _ := b.SmokePins("smoke")
	if _, err := smoke.New(alarm, nil, nil); err != nil {
		t.Fatal(err)
	}
	b.SetElapsed(9 * time.Minute)
	if !alarm.WaitForEdge(time.Second) {
		t.Fatal("no edge when the smoke channel went to 1")
	}
	if alarm.Read() != gpio.Low {
		t.Error("alarm line not Low under the pull-up")
	}
}

func TestMissingChannels(t *testing.T) {
	sc, err := sim.Load("testdata/custom.json")
	if err != nil {
		t.Fatal(err)
	}
	b := sim.NewBoard(sc)
	defer b.Close()
	b.AddTMP117(0x48, "busbar-l1") // not in the scenario
	b.AddTMP117(0x49, "load")      // wrong kind
	b.AddDS18B20("28-000000000001", "nope")
	b.AddADS1115(0x4A, [4]string{"t"}, [4]float64{1})
	alarm, fault := b.SmokePins("nope")
	if b.Err() == nil {
		t.Fatal("Err() = nil after five bad channels")
	}
	for _, addr := range []uint16{0x48, 0x49} {
		if _, err := tmp117New(b.Bus(), addr); !errors.Is(err, devices.ErrAbsent) {
			t.Errorf("TMP117 %#x: %v, want ErrAbsent", addr, err)
		}
	}
	if _, err := ds18b20.Open("28-000000000001", &ds18b20.Opts{Root: b.W1Root()}); !errors.Is(err, devices.ErrAbsent) {
		t.Errorf("DS18B20: %v, want ErrAbsent", err)
	}
	det, err := smoke.New(alarm, fault, &smoke.Opts{Debounce: -1, AlarmActiveLow: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := det.Read(); !errors.Is(err, devices.ErrWiring) {
		t.Errorf("smoke on a missing channel: %v, want ErrWiring (cut cable)", err)
	}
}

func TestOutputsAndClose(t *testing.T) {
	sc, err := sim.Load("normal-day")
	if err != nil {
		t.Fatal(err)
	}
	b := sim.NewBoard(sc)
	buzzer := indicator.New(b.OutputPin("buzzer"))
	if err := buzzer.Set(true); err != nil {
		t.Fatal(err)
	}
	if b.Level("buzzer") != gpio.High || b.Level("led") != gpio.Low {
		t.Errorf("levels buzzer %s led %s, want High Low", b.Level("buzzer"), b.Level("led"))
	}
	if b.OutputPin("buzzer") != b.OutputPin("buzzer") {
		t.Error("OutputPin returned two pins for one name")
	}
	b.AddDS18B20("28-000000000001", "probe-1")
	root := b.W1Root()
	if _, err := os.Stat(filepath.Join(root, "28-000000000001", "w1_slave")); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(root); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("w1 tree still there after Close: %v", err)
	}
}

func BenchmarkBoardSecond(b *testing.B) {
	// One sensord sampling round on the simulated board (2 TMP117, 1
	// DS18B20, 2 ADS1115 RMS windows, smoke). Baseline: the scenario
	// evaluations alone, which any simulation needs.
	r := newRig(b, "normal-day")
	names := r.sc.ChannelNames()
	start := time.Now()
	for n := range b.N {
		at := time.Duration(n%1440) * time.Second
		for _, name := range names {
			r.sc.At(name, at)
		}
	}
	baseline := time.Since(start)
	b.ReportAllocs()
	b.ResetTimer()
	for n := range b.N {
		r.board.SetElapsed(time.Duration(n%1440) * time.Second)
		_, _ = r.busbar.Temperature()
		_, _ = r.terminal.Temperature()
		_, _ = r.probe.Temperature()
		_, _ = r.adc.RMS(r.loadCh)
		_, _ = r.adc.RMS(r.residualCh)
		_, _ = r.smoke.Read()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed())/float64(max(baseline, 1)), "x-baseline")
}

func TestSmokeWatchOnBoard(t *testing.T) {
	sc, err := sim.Load("meterbox-fire")
	if err != nil {
		t.Fatal(err)
	}
	b := sim.NewBoard(sc)
	defer b.Close()
	alarm, fault := b.SmokePins("smoke")
	det, err := smoke.New(alarm, fault, &smoke.Opts{Poll: 10 * time.Millisecond}) // alarm active High, both PullDown/PullUp
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan smoke.Status)
	done := make(chan error, 1)
	go func() { done <- det.Watch(ctx, ch) }()
	if st := <-ch; st != (smoke.Status{}) {
		t.Fatalf("first status %+v, want idle", st)
	}
	b.SetElapsed(8*time.Minute + 30*time.Second)
	if st := <-ch; st != (smoke.Status{Alarm: true}) {
		t.Fatalf("at 8m30s: %+v, want alarm", st)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Watch() = %v", err)
	}
}
