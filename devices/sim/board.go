package sim

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/onewire"
	"periph.io/x/conn/v3/physic"
)

// The simulated board's analog front end.
const (
	// CTBias is the DC bias of every simulated ADS1115 input, in volts
	// (VDD/2 on a 3.3 V board).
	CTBias = 1.65
	// MainsHz is the frequency of the simulated currents.
	MainsHz = 50.0
)

// Board is a simulated sensor board: fake chips on a fake I²C bus, a fake w1
// sysfs tree and fake GPIO pins, all answering with a Scenario's values at
// the time set by SetElapsed. It is safe for concurrent use.
type Board struct {
	sc  *Scenario
	bus *bus

	mu      sync.Mutex
	elapsed time.Duration
	chips   map[uint16]chip
	w1root  string
	probes  []*probe
	smoke   map[string]*smokePair
	outs    map[string]*gpiotest.Pin
	errs    []error
}

// NewBoard returns a board with no chips playing sc from time 0. It creates
// a temporary w1 tree: call Close to remove it.
func NewBoard(sc *Scenario) *Board {
	b := &Board{sc: sc, chips: map[uint16]chip{}, smoke: map[string]*smokePair{}, outs: map[string]*gpiotest.Pin{}}
	b.bus = &bus{b: b}
	dir, err := os.MkdirTemp("", "linli-sim-w1-")
	if err != nil {
		b.errs = append(b.errs, fmt.Errorf("sim: w1 tree: %w", err))
	}
	b.w1root = dir
	return b
}

// Scenario returns the scenario the board plays.
func (b *Board) Scenario() *Scenario { return b.sc }

// SetElapsed moves the board to scenario time d: chips answer with the
// values at d, the w1 files are rewritten, the smoke pins change level (with
// an edge) when the scenario says so.
func (b *Board) SetElapsed(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.elapsed = d
	for _, p := range b.probes {
		if err := p.write(b); err != nil {
			b.errs = append(b.errs, err)
		}
	}
	for _, sp := range b.smoke {
		sp.update(b)
	}
}

// Elapsed returns the scenario time last set.
func (b *Board) Elapsed() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.elapsed
}

// Err returns the setup problems so far (unknown channels, a channel of
// the wrong kind for its chip, w1 file errors), or nil.
func (b *Board) Err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return errors.Join(b.errs...)
}

// curve returns the curve of channel if it exists and has one of kinds,
// recording a setup problem otherwise. Called with b.mu held.
func (b *Board) curve(what, channel string, kinds ...Kind) *Curve {
	c := b.sc.Channels[channel]
	if c == nil {
		b.errs = append(b.errs, fmt.Errorf("sim: %s: scenario %s has no channel %q", what, b.sc.Name, channel))
		return nil
	}
	for _, k := range kinds {
		if c.Kind == k {
			return c
		}
	}
	b.errs = append(b.errs, fmt.Errorf("sim: %s: channel %q is a %s channel, want %v", what, channel, c.Kind, kinds))
	return nil
}

// Bus returns the board's I²C bus. Addresses without a chip do not
// acknowledge.
func (b *Board) Bus() i2c.Bus { return b.bus }

// AddTMP117 puts a TMP117 at addr reading channel (°C). A channel the
// scenario lacks, or that is not a temperature, leaves the address empty
// (and is reported by Err).
func (b *Board) AddTMP117(addr uint16, channel string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.curve(fmt.Sprintf("TMP117 %#x", addr), channel, KindTemperature)
	if c == nil {
		return
	}
	t := &fakeTMP117{c: c}
	t.regs[0x01] = 0x0220 // reset: continuous, 1 s, AVG 8
	t.regs[0x02] = 0x6000 // T_HIGH 192 °C
	t.regs[0x03] = 0x8000 // T_LOW −256 °C
	t.regs[0x0F] = 0x0117
	b.chips[addr] = t
}

// AddADS1115 puts an ADS1115 at addr whose input i carries the CT of
// channel inputs[i] ("" for nothing connected), scaled by ampsPerVolt[i]:
// each conversion is a sample of a 50 Hz sine around CTBias whose RMS, read
// back by the driver with the same AmpsPerVolt, is the scenario value (load
// channels in A, residual channels in mA). A channel the scenario lacks
// or of another kind reads as a bare bias (0 A) and is reported by Err.
func (b *Board) AddADS1115(addr uint16, inputs [4]string, ampsPerVolt [4]float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	a := &fakeADS1115{cfg: 0x8583, lo: 0x8000, hi: 0x7FFF}
	for i, name := range inputs {
		if name == "" {
			continue
		}
		what := fmt.Sprintf("ADS1115 %#x AIN%d", addr, i)
		if !(ampsPerVolt[i] > 0) {
			b.errs = append(b.errs, fmt.Errorf("sim: %s: ampsPerVolt %g, want > 0", what, ampsPerVolt[i]))
			continue
		}
		a.in[i] = b.curve(what, name, KindLoad, KindResidual)
		a.apv[i] = ampsPerVolt[i]
	}
	b.chips[addr] = a
}

// AddDS18B20 creates the w1 directory of probe id reading channel (°C). A
// channel the scenario lacks or of another kind creates nothing.
func (b *Board) AddDS18B20(id, channel string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.curve("DS18B20 "+id, channel, KindTemperature)
	if c == nil || b.w1root == "" {
		return
	}
	p := &probe{c: c, dir: filepath.Join(b.w1root, id)}
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		b.errs = append(b.errs, fmt.Errorf("sim: DS18B20 %s: %w", id, err))
		return
	}
	if err := p.write(b); err != nil {
		b.errs = append(b.errs, err)
	}
	b.probes = append(b.probes, p)
}

// W1Root returns the root of the fake w1 tree, for ds18b20.Opts.Root.
func (b *Board) W1Root() string { return b.w1root }

// SmokePins returns the alarm and fault lines of the detector on channel.
// They model relay contacts: the alarm contact closes when the value is ≥ 1,
// the fault contact is closed while the sensor is OK and opens when it is
// disconnected or out of range (or when the scenario lacks the channel).
// A contact switches its line to the opposite of the pull the driver asked
// for (ground under a pull-up, VDD under a pull-down), so any polarity works.
// Alarm level changes push an edge. Repeated calls return the same pins.
func (b *Board) SmokePins(channel string) (alarm, fault gpio.PinIO) {
	b.mu.Lock()
	defer b.mu.Unlock()
	sp := b.smoke[channel]
	if sp == nil {
		sp = &smokePair{c: b.curve("smoke pins", channel, KindSmoke)}
		sp.alarm = &smokePin{Pin: &gpiotest.Pin{N: channel + "-alarm", EdgesChan: make(chan gpio.Level, 16)}, b: b, pair: sp}
		sp.fault = &smokePin{Pin: &gpiotest.Pin{N: channel + "-fault", EdgesChan: make(chan gpio.Level, 16)}, b: b, pair: sp}
		sp.update(b)
		b.smoke[channel] = sp
	}
	return sp.alarm, sp.fault
}

// OutputPin returns the output pin called name (e.g. "buzzer", "led"),
// creating it Low. Repeated calls return the same pin.
func (b *Board) OutputPin(name string) gpio.PinIO {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.outs[name]
	if p == nil {
		p = &gpiotest.Pin{N: name}
		b.outs[name] = p
	}
	return p
}

// Level returns the level of output pin name; Low if it was never created.
func (b *Board) Level(name string) gpio.Level {
	b.mu.Lock()
	p := b.outs[name]
	b.mu.Unlock()
	if p == nil {
		return gpio.Low
	}
	return p.Read()
}

// Close removes the w1 tree.
func (b *Board) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.w1root == "" {
		return nil
	}
	if err := os.RemoveAll(b.w1root); err != nil {
		return fmt.Errorf("sim: remove w1 tree: %w", err)
	}
	b.probes = nil
	return nil
}

// chip is a fake I²C chip. tx runs with the board's lock held.
type chip interface {
	tx(b *Board, w, r []byte) error
}

// NACKError is what the fake bus returns when no chip acknowledges, as
// Linux's i2c-dev returns ENXIO/EREMOTEIO.
type NACKError struct{ Addr uint16 }

func (e *NACKError) Error() string { return fmt.Sprintf("sim: i2c: no ACK from %#x", e.Addr) }

type bus struct{ b *Board }

func (s *bus) String() string { return "sim-i2c" }

func (s *bus) SetSpeed(physic.Frequency) error { return nil }

// Sleep implements the drivers' Sleeper: the fake chips convert instantly,
// so conversion waits take no time.
func (s *bus) Sleep(time.Duration) {}

func (s *bus) Tx(addr uint16, w, r []byte) error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	c := s.b.chips[addr]
	if c == nil {
		return &NACKError{addr}
	}
	if err := c.tx(s.b, w, r); err != nil {
		if errors.Is(err, errNACK) {
			return &NACKError{addr}
		}
		return err
	}
	return nil
}

var errNACK = errors.New("nack")

// fakeTMP117 answers like a TMP117's register file.
type fakeTMP117 struct {
	c    *Curve
	ptr  byte
	regs [16]uint16
}

func (t *fakeTMP117) tx(b *Board, w, r []byte) error {
	v, st := t.c.At(b.elapsed)
	if st == Disconnected {
		return errNACK
	}
	if len(w) > 0 {
		t.ptr = w[0] & 0x0F
	}
	if len(w) >= 3 {
		val := uint16(w[1])<<8 | uint16(w[2])
		switch t.ptr {
		case 0x01:
			t.regs[1] = val & 0x0FFC // flags are read-only, soft reset self-clears
		case 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08:
			t.regs[t.ptr] = val
		}
	}
	if len(r) == 0 {
		return nil
	}
	val := t.regs[t.ptr]
	switch t.ptr {
	case 0x00:
		if st == OutOfRange {
			val = 0x8000
		} else {
			val = uint16(clamp16(math.Round(v / 0.0078125)))
		}
	case 0x01:
		val |= 1 << 13 // Data_Ready
	}
	for i := range r {
		switch i {
		case 0:
			r[i] = byte(val >> 8)
		case 1:
			r[i] = byte(val)
		default:
			r[i] = 0xFF
		}
	}
	return nil
}

func clamp16(x float64) int16 {
	return int16(max(math.MinInt16, min(math.MaxInt16, x)))
}

// fakeADS1115 answers like an ADS1115 sampling CTs.
type fakeADS1115 struct {
	in          [4]*Curve
	apv         [4]float64
	ptr         byte
	cfg, lo, hi uint16
	n           uint64 // conversions so far: the sample clock
	last        int16  // single-shot result
}

var adsFullScale = [8]float64{6.144, 4.096, 2.048, 1.024, 0.512, 0.256, 0.256, 0.256}
var adsRate = [8]float64{8, 16, 32, 64, 128, 250, 475, 860}

func (a *fakeADS1115) tx(b *Board, w, r []byte) error {
	if len(w) > 0 {
		a.ptr = w[0] & 0x03
	}
	if len(w) >= 3 {
		val := uint16(w[1])<<8 | uint16(w[2])
		switch a.ptr {
		case 0x01:
			a.cfg = val &^ 0x8000
			if val&0x8000 != 0 && val&0x0100 != 0 { // start a single conversion
				v, err := a.convert(b)
				if err != nil {
					return err
				}
				a.last = v
			}
		case 0x02:
			a.lo = val
		case 0x03:
			a.hi = val
		}
	}
	if len(r) == 0 {
		return nil
	}
	var val uint16
	switch a.ptr {
	case 0x00:
		if a.cfg&0x0100 == 0 { // continuous: each read is the next conversion
			v, err := a.convert(b)
			if err != nil {
				return err
			}
			a.last = v
		}
		val = uint16(a.last)
	case 0x01:
		val = a.cfg | 0x8000 // not converting
	case 0x02:
		val = a.lo
	case 0x03:
		val = a.hi
	}
	for i := range r {
		r[i] = byte(val >> (8 * (1 - i%2)))
	}
	return nil
}

// convert returns the next conversion of the configured input.
func (a *fakeADS1115) convert(b *Board) (int16, error) {
	mux := a.cfg >> 12 & 7
	fs := adsFullScale[a.cfg>>9&7]
	rate := adsRate[a.cfg>>5&7]
	k := a.n
	a.n++
	if mux < 4 {
		return 0, nil // differential inputs: all at the same bias
	}
	volts := CTBias
	if c := a.in[mux-4]; c != nil {
		v, st := c.At(b.elapsed)
		switch st {
		case Disconnected:
			return 0, errNACK
		case OutOfRange:
			return math.MaxInt16, nil
		}
		amps := max(v, 0)
		if c.Kind == KindResidual {
			amps /= 1000
		}
		vrms := amps / a.apv[mux-4]
		volts += vrms * math.Sqrt2 * math.Sin(2*math.Pi*MainsHz*float64(k)/rate)
	}
	return clamp16(math.Round(volts / fs * 32768)), nil
}

// probe is a DS18B20's directory in the w1 tree.
type probe struct {
	c    *Curve
	dir  string
	last string
}

// write rewrites w1_slave (atomically) if its content changed. Called
// with the board's lock held.
func (p *probe) write(b *Board) error {
	v, st := p.c.At(b.elapsed)
	var s string
	switch st {
	case Disconnected:
		// What the kernel shows when the probe does not answer.
		s = "ff ff ff ff ff ff ff ff ff : crc=c9 NO\nff ff ff ff ff ff ff ff ff t=-62\n"
	case OutOfRange:
		s = scratchpad(0x0550, 0x0C) // power-on 85 °C
	default:
		raw := clamp16(math.Round(v * 16))
		s = scratchpad(raw, byte(0x10-raw&0x0F))
	}
	if s == p.last {
		return nil
	}
	tmp := filepath.Join(p.dir, ".w1_slave.tmp")
	if err := os.WriteFile(tmp, []byte(s), 0o644); err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(p.dir, "w1_slave")); err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	p.last = s
	return nil
}

// scratchpad formats w1_slave for a DS18B20 holding raw (1/16 °C).
func scratchpad(raw int16, remain byte) string {
	sp := [9]byte{byte(raw), byte(uint16(raw) >> 8), 0x4B, 0x46, 0x7F, 0xFF, remain, 0x10}
	sp[8] = onewire.CalcCRC(sp[:8])
	hex := fmt.Sprintf("% x", sp[:])
	return fmt.Sprintf("%s : crc=%02x YES\n%s t=%d\n", hex, sp[8], hex, int(raw)*1000/16)
}

// smokePair is a detector's two lines.
type smokePair struct {
	c            *Curve // nil: no such channel, a cut cable
	alarm, fault *smokePin
}

// update sets both lines from the scenario. Called with the board's lock
// held.
func (sp *smokePair) update(b *Board) {
	smoke, fault := false, true
	if sp.c != nil {
		v, st := sp.c.At(b.elapsed)
		smoke, fault = st == OK && v >= 1, st != OK
	}
	sp.alarm.set(smoke, true)
	sp.fault.set(!fault, false)
}

// smokePin is a gpiotest.Pin whose level the scenario drives.
type smokePin struct {
	*gpiotest.Pin
	b      *Board
	pair   *smokePair
	pull   gpio.Pull // as the driver asked; guarded by b.mu
	closed bool      // contact state; guarded by b.mu
}

// set closes or opens the contact. Called with the board's lock held.
func (p *smokePin) set(closed, edges bool) {
	p.closed = closed
	l := p.level()
	if p.Pin.Read() == l {
		return
	}
	_ = p.Pin.Out(l)
	if edges {
		select {
		case p.EdgesChan <- l:
		default: // nobody is watching; the level is what counts
		}
	}
}

// level is the line's level: the contact pulls against the pull-up or
// pull-down; open, the line follows the pull.
func (p *smokePin) level() gpio.Level {
	down := p.pull == gpio.PullDown
	if p.closed {
		return gpio.Level(down)
	}
	return gpio.Level(!down)
}

// Sleep implements smoke.Sleeper: the level changes only on SetElapsed,
// so debounce waits take no time.
func (p *smokePin) Sleep(time.Duration) {}

// In implements gpio.PinIn, remembering the pull so the contact can work
// against it.
func (p *smokePin) In(pull gpio.Pull, edge gpio.Edge) error {
	if err := p.Pin.In(pull, edge); err != nil {
		return err
	}
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	p.pull = pull
	_ = p.Pin.Out(p.level())
	return nil
}

// WaitForEdge implements gpio.PinIn. The line then shows the scenario's
// current level, not the level of a stale queued edge.
func (p *smokePin) WaitForEdge(timeout time.Duration) bool {
	ok := p.Pin.WaitForEdge(timeout)
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	_ = p.Pin.Out(p.level())
	return ok
}
