package ds18b20

import (
	"errors"
	"testing"
	"time"

	"periph.io/x/conn/v3/onewire"
	"periph.io/x/conn/v3/onewire/onewiretest"
	"periph.io/x/conn/v3/physic"

	"linli/devices"
)

// addr is family 0x28, serial 0316a2795aff, ROM CRC 0x46: the kernel names
// it 28-0316a2795aff.
const addr onewire.Address = 0x460316a2795aff28

// match is the Match ROM prefix onewire.Dev sends before each command.
var match = []byte{0x55, 0x28, 0xff, 0x5a, 0x79, 0xa2, 0x16, 0x03, 0x46}

func cmd(c byte) []byte { return append(append([]byte{}, match...), c) }

// Scratchpads from the datasheet's layout: temperature LSB, MSB, TH, TL,
// config, FFh, reserved, 10h, CRC.
var (
	sp23125   = []byte{0x72, 0x01, 0x4b, 0x46, 0x7f, 0xff, 0x0e, 0x10, 0x57} // 23.125 °C, 12 bit
	spPowerOn = []byte{0x50, 0x05, 0x4b, 0x46, 0x7f, 0xff, 0x0c, 0x10, 0x1c} // 85 °C
	spBadCRC  = []byte{0x72, 0x01, 0x4b, 0x46, 0x7f, 0xff, 0x0e, 0x10, 0x58}
	spZeros   = make([]byte, 9)                                              // CRC 0 is valid
	spOnes    = []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff} // nobody pulls the bus low
)

func opRead(sp []byte) onewiretest.IO {
	return onewiretest.IO{W: cmd(0xBE), R: sp, Pull: onewire.WeakPullup}
}

var opConvert = onewiretest.IO{W: cmd(0x44), Pull: onewire.StrongPullup}

func TestOneWire(t *testing.T) {
	var slept []time.Duration
	defer func(f func(time.Duration)) { sleep = f }(sleep)
	sleep = func(d time.Duration) { slept = append(slept, d) }

	tests := []struct {
		name    string
		sp      []byte
		want    physic.Temperature // m°C
		wantErr error
	}{
		{"good", sp23125, 23125, nil},
		{"power-on 85C", spPowerOn, 0, devices.ErrOutOfRange},
		{"bad crc", spBadCRC, 0, devices.ErrNoAnswer},
		{"all zeros", spZeros, 0, devices.ErrNoAnswer},
		{"all ones", spOnes, 0, devices.ErrNoAnswer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			slept = nil
			bus := &onewiretest.Playback{Ops: []onewiretest.IO{opRead(sp23125), opConvert, opRead(tc.sp)}}
			d, err := NewOneWire(bus, addr)
			if err != nil {
				t.Fatal(err)
			}
			got, err := d.Temperature()
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Temperature() error = %v, want %v", err, tc.wantErr)
			}
			if want := tc.want*physic.MilliCelsius + physic.ZeroCelsius; tc.wantErr == nil && got != want {
				t.Errorf("Temperature() = %s, want %s", got, want)
			}
			if len(slept) != 1 || slept[0] < 750*time.Millisecond {
				t.Errorf("slept %v, want one 12-bit conversion wait (>= 750 ms)", slept)
			}
			if err := bus.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestOneWireResolution(t *testing.T) {
	var slept time.Duration
	defer func(f func(time.Duration)) { sleep = f }(sleep)
	sleep = func(d time.Duration) { slept += d }
	// 9-bit config (0x1f, 0.5 °C steps); 0x0173 (23.1875 °C) reads as 23.0 with the
	// three undefined low bits cleared.
	sp9 := []byte{0x73, 0x01, 0x4b, 0x46, 0x1f, 0xff, 0x0d, 0x10, 0}
	sp9[8] = onewire.CalcCRC(sp9[:8])
	bus := &onewiretest.Playback{Ops: []onewiretest.IO{opRead(sp9), opConvert, opRead(sp9)}}
	d, err := NewOneWire(bus, addr)
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.Temperature()
	if err != nil {
		t.Fatal(err)
	}
	if want := 23*physic.Celsius + physic.ZeroCelsius; got != want {
		t.Errorf("Temperature() = %s, want %s", got, want)
	}
	if slept < 93750*time.Microsecond || slept > 110*time.Millisecond {
		t.Errorf("slept %v, want the 9-bit 93.75 ms (+10%%)", slept)
	}
	if d.String() != "DS18B20{28-0316a2795aff}" {
		t.Errorf("String() = %q", d.String())
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOneWireAbsent(t *testing.T) {
	tests := []struct {
		name string
		addr onewire.Address
		ops  []onewiretest.IO
	}{
		{"DS18S20 family", 0x000316a2795aff10, nil},
		{"bad ROM CRC", addr ^ 1<<56, nil},
		{"no answer", addr, nil},
		{"bus floats high", addr, []onewiretest.IO{opRead(spOnes)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bus := &onewiretest.Playback{Ops: tc.ops, DontPanic: true}
			if _, err := NewOneWire(bus, tc.addr); !errors.Is(err, devices.ErrAbsent) {
				t.Fatalf("NewOneWire() error = %v, want ErrAbsent", err)
			}
			if err := bus.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestOneWireNoAnswerMidRun(t *testing.T) {
	defer func(f func(time.Duration)) { sleep = f }(sleep)
	sleep = func(time.Duration) {}
	bus := &onewiretest.Playback{Ops: []onewiretest.IO{opRead(sp23125), opConvert, opRead(sp23125)}, DontPanic: true}
	d, err := NewOneWire(bus, addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Temperature(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Temperature(); !errors.Is(err, devices.ErrNoAnswer) {
		t.Fatalf("after the probe left: %v, want ErrNoAnswer", err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}
