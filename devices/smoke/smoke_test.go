package smoke

import (
	"context"
	"errors"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"linli/devices"
)

// change sets pin to level at time at (from the first sleep of a Read).
type change struct {
	at    time.Duration
	pin   *gpiotest.Pin
	level gpio.Level
}

// fakeTime replaces the sleep seam with a clock that jumps and applies the
// scripted level changes as it passes them. It returns a func reporting the
// total time slept.
func fakeTime(t *testing.T, script ...change) func() time.Duration {
	t.Helper()
	var now time.Duration
	old := sleep
	t.Cleanup(func() { sleep = old })
	sleep = func(d time.Duration) {
		now += d
		for len(script) > 0 && script[0].at <= now {
			if err := script[0].pin.Out(script[0].level); err != nil {
				t.Error(err)
			}
			script = script[1:]
		}
	}
	return func() time.Duration { return now }
}

func newPins() (alarm, fault *gpiotest.Pin) {
	alarm = &gpiotest.Pin{N: "GPIO17", Num: 17, EdgesChan: make(chan gpio.Level, 8)}
	fault = &gpiotest.Pin{N: "GPIO27", Num: 27}
	return alarm, fault
}

// newDev configures the pins with DefaultOpts (alarm active Low, fault
// active High) and puts both lines in their idle state: alarm contact open
// (pulled High), fault contact closed (Low).
func newDev(t *testing.T) (*Dev, *gpiotest.Pin, *gpiotest.Pin) {
	t.Helper()
	alarm, fault := newPins()
	d, err := New(alarm, fault, nil)
	if err != nil {
		t.Fatal(err)
	}
	if alarm.P != gpio.PullUp || fault.P != gpio.PullUp {
		t.Fatalf("pulls: alarm %s fault %s, want PullUp for both", alarm.P, fault.P)
	}
	if err := fault.Out(gpio.Low); err != nil {
		t.Fatal(err)
	}
	return d, alarm, fault
}

func TestReadDebounce(t *testing.T) {
	tests := []struct {
		name   string
		script func(alarm *gpiotest.Pin) []change // the contact closes (Low) at t=0
		want   bool
	}{
		{"held 100 ms counts", func(*gpiotest.Pin) []change { return nil }, true},
		{"10 ms bounce does not count", func(a *gpiotest.Pin) []change {
			return []change{{10 * time.Millisecond, a, gpio.High}}
		}, false},
		{"40 ms pulse does not count", func(a *gpiotest.Pin) []change {
			return []change{{40 * time.Millisecond, a, gpio.High}}
		}, false},
		{"chatter does not count", func(a *gpiotest.Pin) []change {
			return []change{{20 * time.Millisecond, a, gpio.High}, {30 * time.Millisecond, a, gpio.Low}}
		}, false},
		{"release after debounce counts", func(a *gpiotest.Pin) []change {
			return []change{{60 * time.Millisecond, a, gpio.High}}
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, alarm, _ := newDev(t)
			elapsed := fakeTime(t, tc.script(alarm)...)
			if err := alarm.Out(gpio.Low); err != nil {
				t.Fatal(err)
			}
			st, err := d.Read()
			if err != nil {
				t.Fatal(err)
			}
			if st.Alarm != tc.want || st.Fault {
				t.Errorf("Read() = %+v, want Alarm %v", st, tc.want)
			}
			if elapsed() > 50*time.Millisecond {
				t.Errorf("Read blocked %v, want at most the 50 ms debounce", elapsed())
			}
		})
	}
}

func TestReadSteadyDoesNotBlock(t *testing.T) {
	d, _, _ := newDev(t)
	elapsed := fakeTime(t)
	for range 3 {
		st, err := d.Read()
		if err != nil || st != (Status{}) {
			t.Fatalf("Read() = %+v, %v; want idle", st, err)
		}
	}
	if elapsed() != 0 {
		t.Errorf("steady lines slept %v, want 0", elapsed())
	}
}

func TestReadAlarmThenClear(t *testing.T) {
	d, alarm, _ := newDev(t)
	fakeTime(t)
	if err := alarm.Out(gpio.Low); err != nil {
		t.Fatal(err)
	}
	if st, _ := d.Read(); !st.Alarm {
		t.Fatalf("held Low: Alarm false, want true")
	}
	// A 10 ms drop-out while in alarm does not clear it either.
	fakeTime(t, change{10 * time.Millisecond, alarm, gpio.Low})
	if err := alarm.Out(gpio.High); err != nil {
		t.Fatal(err)
	}
	if st, _ := d.Read(); !st.Alarm {
		t.Fatalf("10 ms drop-out cleared the alarm")
	}
	if err := alarm.Out(gpio.High); err != nil {
		t.Fatal(err)
	}
	if st, _ := d.Read(); st.Alarm {
		t.Fatalf("released: Alarm true, want false")
	}
}

func TestFault(t *testing.T) {
	d, _, fault := newDev(t)
	fakeTime(t)
	if err := fault.Out(gpio.High); err != nil { // contact opens or wire cut
		t.Fatal(err)
	}
	st, err := d.Read()
	if !errors.Is(err, devices.ErrWiring) {
		t.Fatalf("Read() error = %v, want ErrWiring", err)
	}
	if !st.Fault || st.Alarm {
		t.Errorf("Read() = %+v, want Fault only", st)
	}
	if err := fault.Out(gpio.Low); err != nil {
		t.Fatal(err)
	}
	if st, err := d.Read(); err != nil || st.Fault {
		t.Errorf("restored: Read() = %+v, %v; want no fault", st, err)
	}
}

func TestPolarityAndPulls(t *testing.T) {
	tests := []struct {
		name                 string
		opts                 Opts
		alarmPull, faultPull gpio.Pull
		alarmOn, faultOn     gpio.Level
	}{
		{"defaults", DefaultOpts, gpio.PullUp, gpio.PullUp, gpio.Low, gpio.High},
		{"active high alarm, active low fault", Opts{}, gpio.PullDown, gpio.PullUp, gpio.High, gpio.High},
		{"both active low", Opts{AlarmActiveLow: true, FaultActiveLow: true}, gpio.PullUp, gpio.PullDown, gpio.Low, gpio.Low},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fakeTime(t)
			alarm, fault := newPins()
			d, err := New(alarm, fault, &tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if alarm.P != tc.alarmPull || fault.P != tc.faultPull {
				t.Errorf("pulls = %s, %s; want %s, %s", alarm.P, fault.P, tc.alarmPull, tc.faultPull)
			}
			// Right after New the lines are at their pulls: no alarm, and a
			// fault when the fault wire is open.
			st, _ := d.Read()
			if st.Alarm || !st.Fault {
				t.Errorf("open wires: %+v, want fault and no alarm", st)
			}
			_ = alarm.Out(tc.alarmOn)
			_ = fault.Out(!tc.faultOn)
			if st, err := d.Read(); !st.Alarm || st.Fault || err != nil {
				t.Errorf("alarm: %+v, %v; want alarm only", st, err)
			}
		})
	}
}

func TestNoFaultPin(t *testing.T) {
	alarm, _ := newPins()
	d, err := New(alarm, nil, &Opts{Debounce: -1, AlarmActiveLow: true})
	if err != nil {
		t.Fatal(err)
	}
	_ = alarm.Out(gpio.Low)
	if st, err := d.Read(); err != nil || st != (Status{Alarm: true}) {
		t.Errorf("Read() = %+v, %v; want alarm without debounce", st, err)
	}
	if got, want := d.String(), "Smoke{alarm:GPIO17(17)}"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if _, err := New(nil, nil, nil); err == nil {
		t.Error("New(nil) succeeded")
	}
}

func TestNoEdgeFallback(t *testing.T) {
	// A pin without EdgesChan refuses BothEdges in gpiotest: New falls back.
	alarm := &gpiotest.Pin{N: "GPIO5"}
	d, err := New(alarm, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.edges {
		t.Error("edges = true on a pin without edge detection")
	}
}

func TestWatch(t *testing.T) {
	fakeTime(t)
	alarm, fault := newPins()
	d, err := New(alarm, fault, &Opts{AlarmActiveLow: true, Poll: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_ = fault.Out(gpio.Low)
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan Status)
	done := make(chan error, 1)
	go func() { done <- d.Watch(ctx, ch) }()

	if st := <-ch; st != (Status{}) {
		t.Fatalf("first status = %+v, want idle", st)
	}
	alarm.EdgesChan <- gpio.Low // WaitForEdge sets the level
	if st := <-ch; st != (Status{Alarm: true}) {
		t.Fatalf("after edge: %+v, want alarm", st)
	}
	_ = fault.Out(gpio.High) // seen by polling
	if st := <-ch; st != (Status{Alarm: true, Fault: true}) {
		t.Fatalf("after fault: %+v, want alarm and fault", st)
	}
	alarm.EdgesChan <- gpio.High
	if st := <-ch; st != (Status{Fault: true}) {
		t.Fatalf("after release: %+v, want fault only", st)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Watch() = %v, want context.Canceled", err)
	}
}

// sleeperPin decides the debounce waits, as devices/sim's pins do.
type sleeperPin struct {
	*gpiotest.Pin
	slept time.Duration
}

func (s *sleeperPin) Sleep(d time.Duration) { s.slept += d }

func TestSleeperPin(t *testing.T) {
	old := sleep
	t.Cleanup(func() { sleep = old })
	sleep = func(time.Duration) { t.Error("driver slept itself on a Sleeper pin") }
	alarm := &sleeperPin{Pin: &gpiotest.Pin{N: "sim", EdgesChan: make(chan gpio.Level, 1)}}
	d, err := New(alarm, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = alarm.Out(gpio.Low)
	if st, _ := d.Read(); !st.Alarm {
		t.Error("held level not accepted")
	}
	if alarm.slept != 50*time.Millisecond {
		t.Errorf("pin asked to wait %v, want the 50 ms debounce", alarm.slept)
	}
}
