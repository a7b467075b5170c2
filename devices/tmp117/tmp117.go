package tmp117

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"

	"linli/devices"
)

// Registers (datasheet §7.6).
const (
	regTemp     = 0x00
	regConfig   = 0x01
	regDeviceID = 0x0F

	deviceID     = 0x0117 // Device_ID register, DID[11:0]; REV[15:12] is ignored.
	deviceIDMask = 0x0FFF
)

// Configuration register fields (datasheet §7.6.1.2).
const (
	modeContinuous = 0b00 << 10
	modeShutdown   = 0b01 << 10
	modeOneShot    = 0b11 << 10
	conv1s         = 0b100 << 7 // 1 s cycle whatever the averaging.
)

// Physical operating range of the chip.
const (
	minTemp = -55 * physic.Celsius
	maxTemp = 150 * physic.Celsius
)

// lsb is the weight of one count of the result register: 7.8125 m°C.
const lsb = 7812500 * physic.NanoKelvin

// sleep is the time seam for one-shot conversion waits.
var sleep = time.Sleep

// Sleeper is implemented by a bus that decides how long a conversion wait
// lasts, such as a simulated bus whose chips convert instantly
// (devices/sim). On any other bus the driver sleeps for real.
type Sleeper interface {
	Sleep(d time.Duration)
}

// Opts configures the sensor. The zero value of a field means its default.
type Opts struct {
	// Averaging is the number of conversions the chip averages into one
	// result: 1, 8, 32 or 64. 0 means 8. More averaging lowers noise and
	// lengthens a conversion (15.5 ms, 125 ms, 500 ms, 1 s).
	Averaging int
	// OneShot starts a conversion on every Temperature call and waits for
	// it, leaving the chip shut down in between. false means continuous
	// conversion with a 1 s cycle: reads are instant and at most 1 s old.
	OneShot bool
}

// DefaultOpts is what New uses when opts is nil.
var DefaultOpts = Opts{Averaging: 8}

// Dev is a handle to one TMP117. It is safe for concurrent use.
type Dev struct {
	c    i2c.Dev
	opts Opts
	avg  uint16        // AVG[1:0] bits, in place.
	conv time.Duration // duration of one conversion, with margin.

	sleeper Sleeper // nil: sleep

	mu     sync.Mutex
	halted bool    // chip in shutdown: the next read restarts it.
	w      [3]byte // scratch buffers, so a read does not allocate.
	r      [2]byte

	stop chan struct{} // closes to stop SenseContinuous.
	wg   sync.WaitGroup
}

var _ physic.SenseEnv = (*Dev)(nil)

// New checks that a TMP117 answers at addr (0x48 to 0x4B) on b and
// configures it. opts nil means DefaultOpts.
//
// It returns an error wrapping devices.ErrAbsent when nothing answers at
// addr or the Device_ID register does not read 0x117.
func New(b i2c.Bus, addr uint16, opts *Opts) (*Dev, error) {
	if addr < 0x48 || addr > 0x4B {
		return nil, fmt.Errorf("tmp117: invalid address %#x, want 0x48 to 0x4B", addr)
	}
	o := DefaultOpts
	if opts != nil {
		o = *opts
	}
	d := &Dev{c: i2c.Dev{Bus: b, Addr: addr}, opts: o}
	d.sleeper, _ = b.(Sleeper)
	switch o.Averaging {
	case 0, 8:
		d.avg, d.conv = 0b01<<5, 125*time.Millisecond
	case 1:
		d.avg, d.conv = 0b00<<5, 15500*time.Microsecond
	case 32:
		d.avg, d.conv = 0b10<<5, 500*time.Millisecond
	case 64:
		d.avg, d.conv = 0b11<<5, time.Second
	default:
		return nil, fmt.Errorf("tmp117: invalid averaging %d, want 1, 8, 32 or 64", o.Averaging)
	}
	// The internal oscillator may run a few percent slow: wait 10% more.
	d.conv += d.conv / 10

	id, err := d.readReg(regDeviceID)
	if err != nil {
		return nil, fmt.Errorf("tmp117: read device id at %#x: %w: %w", addr, devices.ErrAbsent, err)
	}
	if id&deviceIDMask != deviceID {
		return nil, fmt.Errorf("tmp117: device id %#04x at %#x, want 0x0117: %w", id, addr, devices.ErrAbsent)
	}
	cfg := uint16(modeContinuous | conv1s)
	if o.OneShot {
		cfg = modeShutdown
	}
	if err := d.writeReg(regConfig, cfg|d.avg); err != nil {
		return nil, fmt.Errorf("tmp117: configure: %w: %w", devices.ErrNoAnswer, err)
	}
	return d, nil
}

// Temperature returns the latest temperature.
//
// In continuous mode it reads the result register once; in one-shot mode it
// starts a conversion and blocks for its duration. It returns an error
// wrapping devices.ErrNoAnswer on a bus error and devices.ErrOutOfRange for
// the power-on value or a value outside −55…150 °C.
func (d *Dev) Temperature() (physic.Temperature, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.temperature()
}

func (d *Dev) temperature() (physic.Temperature, error) {
	switch {
	case d.opts.OneShot:
		if err := d.writeReg(regConfig, modeOneShot|d.avg); err != nil {
			return 0, fmt.Errorf("tmp117: start conversion: %w: %w", devices.ErrNoAnswer, err)
		}
		d.wait(d.conv)
	case d.halted:
		if err := d.writeReg(regConfig, modeContinuous|conv1s|d.avg); err != nil {
			return 0, fmt.Errorf("tmp117: restart: %w: %w", devices.ErrNoAnswer, err)
		}
		d.halted = false
		d.wait(d.conv) // the result register still holds the pre-Halt value.
	}
	v, err := d.readReg(regTemp)
	if err != nil {
		return 0, fmt.Errorf("tmp117: read temperature: %w: %w", devices.ErrNoAnswer, err)
	}
	raw := int16(v)
	if raw == -0x8000 {
		return 0, fmt.Errorf("tmp117: no conversion result yet (0x8000): %w", devices.ErrOutOfRange)
	}
	t := physic.Temperature(raw)*lsb + physic.ZeroCelsius
	if t < minTemp+physic.ZeroCelsius || t > maxTemp+physic.ZeroCelsius {
		return 0, fmt.Errorf("tmp117: temperature %s outside -55..150°C: %w", t, devices.ErrOutOfRange)
	}
	return t, nil
}

// Sense implements physic.SenseEnv. It sets e.Temperature only.
func (d *Dev) Sense(e *physic.Env) error {
	t, err := d.Temperature()
	if err != nil {
		return err
	}
	e.Temperature = t
	return nil
}

// SenseContinuous implements physic.SenseEnv. It reads every interval in a
// goroutine until Halt, which closes the channel. Failed readings are
// skipped, not sent: use Temperature to see errors. A second call replaces
// the first one's goroutine.
func (d *Dev) SenseContinuous(interval time.Duration) (<-chan physic.Env, error) {
	if interval <= 0 {
		return nil, errors.New("tmp117: SenseContinuous: interval must be positive")
	}
	d.stopContinuous()
	ch := make(chan physic.Env)
	stop := make(chan struct{})
	d.mu.Lock()
	d.stop = stop
	d.mu.Unlock()
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer close(ch)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			var e physic.Env
			if err := d.Sense(&e); err == nil {
				select {
				case ch <- e:
				case <-stop:
					return
				}
			}
			select {
			case <-t.C:
			case <-stop:
				return
			}
		}
	}()
	return ch, nil
}

// Precision implements physic.SenseEnv: 7.8125 m°C per count.
func (d *Dev) Precision(e *physic.Env) {
	e.Temperature = lsb
	e.Pressure = 0
	e.Humidity = 0
}

// String implements conn.Resource.
func (d *Dev) String() string {
	return fmt.Sprintf("TMP117{%s}", &d.c)
}

// Halt implements conn.Resource. It stops SenseContinuous, waits for its
// goroutine and puts the chip in shutdown mode. A later Temperature call
// restarts conversions.
func (d *Dev) Halt() error {
	d.stopContinuous()
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.writeReg(regConfig, modeShutdown|d.avg); err != nil {
		return fmt.Errorf("tmp117: shut down: %w: %w", devices.ErrNoAnswer, err)
	}
	d.halted = !d.opts.OneShot
	return nil
}

func (d *Dev) stopContinuous() {
	d.mu.Lock()
	stop := d.stop
	d.stop = nil
	d.mu.Unlock()
	if stop != nil {
		close(stop)
	}
	d.wg.Wait()
}

func (d *Dev) wait(t time.Duration) {
	if d.sleeper != nil {
		d.sleeper.Sleep(t)
		return
	}
	sleep(t)
}

func (d *Dev) readReg(reg byte) (uint16, error) {
	d.w[0] = reg
	if err := d.c.Tx(d.w[:1], d.r[:]); err != nil {
		return 0, err
	}
	return uint16(d.r[0])<<8 | uint16(d.r[1]), nil
}

func (d *Dev) writeReg(reg byte, v uint16) error {
	d.w[0], d.w[1], d.w[2] = reg, byte(v>>8), byte(v)
	return d.c.Tx(d.w[:], nil)
}
