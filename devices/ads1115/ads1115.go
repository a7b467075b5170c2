package ads1115

import (
	"fmt"
	"math"
	"sync"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"

	"linli/devices"
)

// Registers (address pointer values, datasheet §9.6).
const (
	regConversion = 0x00
	regConfig     = 0x01
)

// Config register fields (datasheet table 8).
const (
	cfgMuxSingle0  = 0b100 << 12 // AINx vs GND is 0b100+x.
	cfgModeSingle  = 1 << 8      // single-shot / power-down; 0 is continuous.
	cfgCompDisable = 0b11        // comparator off, ALERT/RDY high impedance.
)

// sleep is the time seam for the conversion waits.
var sleep = time.Sleep

// Sleeper is implemented by a bus that decides how long a conversion wait
// lasts, such as a simulated bus whose chips convert instantly
// (devices/sim). On any other bus the driver sleeps for real.
type Sleeper interface {
	Sleep(d time.Duration)
}

// PGA selects the programmable-gain amplifier's full-scale range. The zero
// value means "the default" (Opts.PGA in a Channel, ±4.096 V in Opts).
type PGA uint8

// Full-scale ranges. Inputs must stay between GND and VDD whatever the range.
const (
	PGADefault PGA = iota // Channel: Opts.PGA; Opts: PGA4V096
	PGA6V144              // ±6.144 V, 187.5 µV per count
	PGA4V096              // ±4.096 V, 125 µV per count
	PGA2V048              // ±2.048 V, 62.5 µV per count (chip reset value)
	PGA1V024              // ±1.024 V, 31.25 µV per count
	PGA0V512              // ±0.512 V, 15.625 µV per count
	PGA0V256              // ±0.256 V, 7.8125 µV per count
)

var fullScale = [...]physic.ElectricPotential{
	PGA6V144: 6144 * physic.MilliVolt,
	PGA4V096: 4096 * physic.MilliVolt,
	PGA2V048: 2048 * physic.MilliVolt,
	PGA1V024: 1024 * physic.MilliVolt,
	PGA0V512: 512 * physic.MilliVolt,
	PGA0V256: 256 * physic.MilliVolt,
}

// FullScale returns the positive full-scale voltage of p, or 0 for
// PGADefault and unknown values.
func (p PGA) FullScale() physic.ElectricPotential {
	if int(p) >= len(fullScale) {
		return 0
	}
	return fullScale[p]
}

// String returns the range, e.g. "±2.048V".
func (p PGA) String() string {
	if p == PGADefault {
		return "default"
	}
	if p.FullScale() == 0 {
		return fmt.Sprintf("PGA(%d)", uint8(p))
	}
	return "±" + p.FullScale().String()
}

// rates lists the data rates and their DR[2:0] codes.
var rates = [...]physic.Frequency{8, 16, 32, 64, 128, 250, 475, 860}

// Channel describes one CT on one input.
type Channel struct {
	// Input is the analog input, 0 to 3 (AIN0…AIN3, single-ended).
	Input int
	// AmpsPerVolt is the CT and burden scale: primary RMS amperes per RMS
	// volt at the input. It must be positive.
	AmpsPerVolt float64
	// Offset is subtracted from the RMS (the noise floor of the input with
	// no current). The result is never below zero.
	Offset physic.ElectricCurrent
	// FullScale is the PGA range for this input; PGADefault means Opts.PGA.
	FullScale PGA
}

// Opts configures sampling. The zero value of a field means its default.
type Opts struct {
	// Rate is the data rate: 8, 16, 32, 64, 128, 250, 475 or 860 Hz. 0 means
	// 860 Hz.
	Rate physic.Frequency
	// Window is the number of conversions per RMS reading, 2 to 4096. 0
	// means 86 (100 ms at 860 SPS: whole mains periods at 50 and 60 Hz).
	Window int
	// PGA is the range of channels that do not set their own. PGADefault
	// means PGA4V096, which suits a 1.65 V (VDD/2) bias on a 3.3 V board.
	PGA PGA
}

// DefaultOpts is what New uses when opts is nil.
var DefaultOpts = Opts{Rate: 860 * physic.Hertz, Window: 86, PGA: PGA4V096}

// Dev is a handle to one ADS1115. It is safe for concurrent use; RMS
// calls are serialised.
type Dev struct {
	c      i2c.Dev
	opts   Opts
	dr     uint16        // DR[2:0] bits, in place.
	period time.Duration // one conversion.

	sleeper Sleeper // nil: sleep

	mu  sync.Mutex
	buf []int16 // Window samples, reused.
	w   [3]byte
	r   [2]byte
}

// New checks that something answers at addr (0x48 to 0x4B) on b. opts nil
// means DefaultOpts. It returns an error wrapping devices.ErrAbsent when
// nothing acknowledges a read of the config register.
func New(b i2c.Bus, addr uint16, opts *Opts) (*Dev, error) {
	if addr < 0x48 || addr > 0x4B {
		return nil, fmt.Errorf("ads1115: invalid address %#x, want 0x48 to 0x4B", addr)
	}
	o := DefaultOpts
	if opts != nil {
		o = *opts
		if o.Rate == 0 {
			o.Rate = DefaultOpts.Rate
		}
		if o.Window == 0 {
			o.Window = DefaultOpts.Window
		}
		if o.PGA == PGADefault {
			o.PGA = DefaultOpts.PGA
		}
	}
	d := &Dev{c: i2c.Dev{Bus: b, Addr: addr}, opts: o}
	dr := -1
	for i, r := range rates {
		if o.Rate == r*physic.Hertz {
			dr = i
		}
	}
	if dr < 0 {
		return nil, fmt.Errorf("ads1115: invalid rate %s, want 8, 16, 32, 64, 128, 250, 475 or 860 Hz", o.Rate)
	}
	d.dr = uint16(dr) << 5
	d.period = o.Rate.Period()
	if o.Window < 2 || o.Window > 4096 {
		return nil, fmt.Errorf("ads1115: invalid window %d, want 2 to 4096", o.Window)
	}
	if o.PGA.FullScale() == 0 {
		return nil, fmt.Errorf("ads1115: invalid PGA %s", o.PGA)
	}
	d.buf = make([]int16, o.Window)
	d.sleeper, _ = b.(Sleeper)
	d.w[0] = regConfig
	if err := d.c.Tx(d.w[:1], d.r[:]); err != nil {
		return nil, fmt.Errorf("ads1115: read config at %#x: %w: %w", addr, devices.ErrAbsent, err)
	}
	return d, nil
}

// RMS measures the RMS current of ch: it takes Opts.Window conversions of
// ch.Input, removes their mean and scales the rest. It blocks for about
// Window+1.25 conversion periods.
//
// It returns an error wrapping devices.ErrNoAnswer on a bus error and
// devices.ErrOutOfRange when any conversion is at full scale.
func (d *Dev) RMS(ch Channel) (physic.ElectricCurrent, error) {
	if ch.Input < 0 || ch.Input > 3 {
		return 0, fmt.Errorf("ads1115: invalid input %d, want 0 to 3", ch.Input)
	}
	if !(ch.AmpsPerVolt > 0) || math.IsInf(ch.AmpsPerVolt, 0) {
		return 0, fmt.Errorf("ads1115: input %d: invalid AmpsPerVolt %g", ch.Input, ch.AmpsPerVolt)
	}
	pga := ch.FullScale
	if pga == PGADefault {
		pga = d.opts.PGA
	}
	fs := pga.FullScale()
	if fs == 0 {
		return 0, fmt.Errorf("ads1115: input %d: invalid PGA %s", ch.Input, pga)
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	cfg := uint16(cfgMuxSingle0|ch.Input<<12) | uint16(pga-PGA6V144)<<9 | d.dr | cfgCompDisable
	d.w[0], d.w[1], d.w[2] = regConfig, byte(cfg>>8), byte(cfg)
	if err := d.c.Tx(d.w[:], nil); err != nil {
		return 0, fmt.Errorf("ads1115: configure AIN%d: %w: %w", ch.Input, devices.ErrNoAnswer, err)
	}
	// Until the first conversion on the new input completes, the
	// conversion register holds the previous input's result.
	d.wait(d.period + d.period/4)
	d.w[0] = regConversion
	var sum int64
	for i := range d.buf {
		if i > 0 {
			d.wait(d.period)
		}
		if err := d.c.Tx(d.w[:1], d.r[:]); err != nil {
			return 0, fmt.Errorf("ads1115: read AIN%d: %w: %w", ch.Input, devices.ErrNoAnswer, err)
		}
		v := int16(uint16(d.r[0])<<8 | uint16(d.r[1]))
		if v == math.MaxInt16 || v == math.MinInt16 {
			return 0, fmt.Errorf("ads1115: AIN%d at full scale (%s): saturated or open CT: %w", ch.Input, pga, devices.ErrOutOfRange)
		}
		d.buf[i] = v
		sum += int64(v)
	}
	mean := float64(sum) / float64(len(d.buf))
	var sq float64
	for _, v := range d.buf {
		x := float64(v) - mean
		sq += x * x
	}
	volts := math.Sqrt(sq/float64(len(d.buf))) * float64(fs) / float64(physic.Volt) / 32768
	i := physic.ElectricCurrent(math.Round(volts*ch.AmpsPerVolt*float64(physic.Ampere))) - ch.Offset
	return max(i, 0), nil
}

func (d *Dev) wait(t time.Duration) {
	if d.sleeper != nil {
		d.sleeper.Sleep(t)
		return
	}
	sleep(t)
}

// String implements conn.Resource.
func (d *Dev) String() string {
	return fmt.Sprintf("ADS1115{%s}", &d.c)
}

// Halt implements conn.Resource: it stops continuous conversions, putting
// the chip in power-down until the next RMS.
func (d *Dev) Halt() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	cfg := uint16(cfgMuxSingle0) | uint16(d.opts.PGA-PGA6V144)<<9 | cfgModeSingle | d.dr | cfgCompDisable
	d.w[0], d.w[1], d.w[2] = regConfig, byte(cfg>>8), byte(cfg)
	if err := d.c.Tx(d.w[:], nil); err != nil {
		return fmt.Errorf("ads1115: power down: %w: %w", devices.ErrNoAnswer, err)
	}
	return nil
}
