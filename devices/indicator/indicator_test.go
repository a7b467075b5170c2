package indicator

import (
	"context"
	"errors"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

// step is the level the output had when a timer of d started.
type step struct {
	level gpio.Level
	d     time.Duration
}

// fakeTimers replaces the timer seam: each timer fires at once and records
// the pin level; after n timers it calls stop and never fires again.
func fakeTimers(t *testing.T, pin *gpiotest.Pin, n int, stop func()) *[]step {
	t.Helper()
	var steps []step
	old := after
	t.Cleanup(func() { after = old })
	after = func(d time.Duration) <-chan time.Time {
		steps = append(steps, step{pin.Read(), d})
		if len(steps) >= n {
			stop()
			return nil
		}
		c := make(chan time.Time, 1)
		c <- time.Time{}
		return c
	}
	return &steps
}

func TestPattern(t *testing.T) {
	const H, L = gpio.High, gpio.Low
	tests := []struct {
		name string
		p    Pattern
		want []step
	}{
		{"pre-alarm", PreAlarm, []step{{H, time.Second}, {L, time.Second}, {H, time.Second}, {L, time.Second}}},
		{"fault chirp", Fault, []step{{H, 100 * time.Millisecond}, {L, 29900 * time.Millisecond}, {H, 100 * time.Millisecond}, {L, 29900 * time.Millisecond}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pin := &gpiotest.Pin{N: "GPIO22"}
			d := New(pin)
			ctx, cancel := context.WithCancel(context.Background())
			steps := fakeTimers(t, pin, len(tc.want), cancel)
			if err := d.Pattern(ctx, tc.p); err != nil {
				t.Fatal(err)
			}
			if len(*steps) != len(tc.want) {
				t.Fatalf("steps = %v, want %v", *steps, tc.want)
			}
			for i, s := range *steps {
				if s != tc.want[i] {
					t.Errorf("step %d = %v, want %v", i, s, tc.want[i])
				}
			}
			if pin.Read() != L {
				t.Error("output left on after the pattern ended")
			}
		})
	}
}

// outPin reports every Out on a channel, so tests wait on the pin itself.
type outPin struct {
	*gpiotest.Pin
	outs chan gpio.Level
	err  error
}

func (p *outPin) Out(l gpio.Level) error {
	if p.err != nil {
		return p.err
	}
	err := p.Pin.Out(l)
	p.outs <- l
	return err
}

func newOutPin() *outPin {
	return &outPin{Pin: &gpiotest.Pin{N: "GPIO23"}, outs: make(chan gpio.Level, 16)}
}

func TestAlarmContinuousUntilHalt(t *testing.T) {
	pin := newOutPin()
	d := New(pin)
	done := make(chan error, 1)
	go func() { done <- d.Pattern(context.Background(), Alarm) }()
	if l := <-pin.outs; l != gpio.High {
		t.Fatalf("first level %s, want High", l)
	}
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("Pattern() = %v, want nil after Halt", err)
	}
	if pin.Read() != gpio.Low {
		t.Error("Halt left the output on")
	}
}

func TestPatternReplaces(t *testing.T) {
	pin := newOutPin()
	d := New(pin)
	first := make(chan error, 1)
	go func() { first <- d.Pattern(context.Background(), Alarm) }()
	<-pin.outs // alarm on
	ctx, cancel := context.WithCancel(context.Background())
	second := make(chan error, 1)
	go func() { second <- d.Pattern(ctx, Quiet) }()
	if err := <-first; err != nil {
		t.Errorf("replaced Pattern() = %v", err)
	}
	cancel()
	if err := <-second; err != nil {
		t.Errorf("second Pattern() = %v", err)
	}
	if pin.Read() != gpio.Low {
		t.Error("output on after both patterns ended")
	}
}

func TestSetAndErrors(t *testing.T) {
	pin := newOutPin()
	d := New(pin)
	if err := d.Set(true); err != nil || pin.Read() != gpio.High {
		t.Fatalf("Set(true): %v, level %s", err, pin.Read())
	}
	if err := d.Set(false); err != nil || pin.Read() != gpio.Low {
		t.Fatalf("Set(false): %v, level %s", err, pin.Read())
	}
	pin.err = errors.New("pin gone")
	if err := d.Set(true); err == nil {
		t.Error("Set on a failing pin succeeded")
	}
	if err := d.Pattern(context.Background(), PreAlarm); err == nil {
		t.Error("Pattern on a failing pin succeeded")
	}
	if got, want := d.String(), "Indicator{GPIO23(0)}"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestPatternString(t *testing.T) {
	for p, want := range map[Pattern]string{Alarm: "on", Quiet: "off", PreAlarm: "1s on/1s off"} {
		if got := p.String(); got != want {
			t.Errorf("%#v.String() = %q, want %q", p, got, want)
		}
	}
}
