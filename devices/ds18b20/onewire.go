package ds18b20

import (
	"fmt"
	"time"

	"periph.io/x/conn/v3/onewire"

	"linli/devices"
)

// DS18B20 function commands (datasheet, "DS18B20 function commands").
const (
	cmdConvertT       = 0x44
	cmdReadScratchpad = 0xBE
	familyDS18B20     = 0x28
)

// sleep is the time seam for conversions on a periph 1-Wire bus.
var sleep = time.Sleep

// Sleeper is implemented by a bus that decides how long a conversion wait
// lasts, such as a simulated bus. On any other bus the driver sleeps for
// real.
type Sleeper interface {
	Sleep(d time.Duration)
}

// oneWire is the state of a probe read through a periph onewire.Bus.
type oneWire struct {
	dev     onewire.Dev
	conv    time.Duration // conversion time at the probe's resolution
	sleeper Sleeper
	sp      [9]byte
}

// NewOneWire returns the probe at addr on a periph 1-Wire bus (a DS2482
// bridge, a bit-banged GPIO), for boards where the kernel's w1 driver is
// not used. It reads the scratchpad once to check the probe answers.
//
// It returns an error wrapping devices.ErrAbsent when addr is not a DS18B20
// address (family 0x28, valid ROM CRC) or the probe does not answer with a
// valid scratchpad.
func NewOneWire(b onewire.Bus, addr onewire.Address) (*Dev, error) {
	var rom [8]byte
	for i := range rom {
		rom[i] = byte(addr >> (8 * i))
	}
	id := fmt.Sprintf("%02x-%012x", rom[0], uint64(addr)>>8&0xFFFFFFFFFFFF)
	if rom[0] != familyDS18B20 {
		return nil, fmt.Errorf("ds18b20: %s: family %#02x, want 0x28: %w", id, rom[0], devices.ErrAbsent)
	}
	if onewire.CalcCRC(rom[:7]) != rom[7] {
		return nil, fmt.Errorf("ds18b20: %s: address %#016x has a bad ROM CRC: %w", id, uint64(addr), devices.ErrAbsent)
	}
	ow := &oneWire{dev: onewire.Dev{Bus: b, Addr: addr}}
	ow.sleeper, _ = b.(Sleeper)
	d := &Dev{id: id, ow: ow}
	if err := ow.readScratchpad(); err != nil {
		return nil, fmt.Errorf("ds18b20: %s: %w: %w", id, devices.ErrAbsent, err)
	}
	// 9 to 12 bits: 93.75 ms to 750 ms; 10 % margin for the oscillator.
	ow.conv = (93750 * time.Microsecond << (ow.sp[4] >> 5 & 3)) * 11 / 10
	return d, nil
}

// readScratchpad reads and checks the 9 scratchpad bytes.
func (o *oneWire) readScratchpad() error {
	if err := o.dev.Tx([]byte{cmdReadScratchpad}, o.sp[:]); err != nil {
		return fmt.Errorf("read scratchpad: %w", err)
	}
	if c := onewire.CalcCRC(o.sp[:8]); c != o.sp[8] {
		return fmt.Errorf("scratchpad crc %#02x, want %#02x: % x", c, o.sp[8], o.sp[:])
	}
	// The configuration byte is 0 R1 R0 1 1 1 1 1: this catches an
	// all-zero answer, whose CRC is valid.
	if o.sp[4]&0x9F != 0x1F {
		return fmt.Errorf("scratchpad config byte %#02x is not a DS18B20's: % x", o.sp[4], o.sp[:])
	}
	return nil
}

// temperature converts and reads, returning the raw 1/16 °C count.
func (o *oneWire) temperature() (int16, error) {
	if err := o.dev.TxPower([]byte{cmdConvertT}, nil); err != nil {
		return 0, fmt.Errorf("convert: %w", err)
	}
	if o.sleeper != nil {
		o.sleeper.Sleep(o.conv)
	} else {
		sleep(o.conv)
	}
	if err := o.readScratchpad(); err != nil {
		return 0, err
	}
	raw := int16(uint16(o.sp[0]) | uint16(o.sp[1])<<8)
	// Below 12 bits the low bits are undefined.
	return raw &^ (1<<(3-(o.sp[4]>>5&3)) - 1), nil
}
