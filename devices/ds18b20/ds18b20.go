package ds18b20

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"periph.io/x/conn/v3/physic"

	"linli/devices"
)

// DefaultRoot is where the kernel lists 1-Wire devices.
const DefaultRoot = "/sys/bus/w1/devices"

// Opts configures where probes are found. The zero value of a field means
// its default.
type Opts struct {
	// Root is the w1 devices directory. "" means DefaultRoot.
	Root string
}

// DefaultOpts is what Open uses when opts is nil.
var DefaultOpts = Opts{Root: DefaultRoot}

// powerOn is the scratchpad's reset value, +85 °C, in m°C.
const powerOn = 85000

// Physical range of the probe, m°C.
const (
	minMilli = -55000
	maxMilli = 125000
)

// Dev is one probe. It is safe for concurrent use; reads are serialised.
type Dev struct {
	id    string
	slave string   // path of w1_slave
	temp  string   // path of temperature
	ow    *oneWire // set for a probe on a periph onewire.Bus

	mu  sync.Mutex
	buf [256]byte
}

var _ physic.SenseEnv = (*Dev)(nil)

// Open finds probe id (e.g. "28-0316a2795aff") under opts.Root. opts nil
// means DefaultOpts. It does not touch the bus.
//
// It returns an error wrapping devices.ErrAbsent when the probe's directory
// does not exist.
func Open(id string, opts *Opts) (*Dev, error) {
	o := DefaultOpts
	if opts != nil && opts.Root != "" {
		o.Root = opts.Root
	}
	if !validID(id) {
		return nil, fmt.Errorf("ds18b20: invalid id %q, want ff-xxxxxxxxxxxx in lower-case hex", id)
	}
	dir := filepath.Join(o.Root, id)
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("ds18b20: %s not on the bus: %w", id, devices.ErrAbsent)
	}
	if err != nil {
		return nil, fmt.Errorf("ds18b20: %s: %w: %w", id, devices.ErrAbsent, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("ds18b20: %s is not a directory: %w", dir, devices.ErrAbsent)
	}
	return &Dev{id: id, slave: filepath.Join(dir, "w1_slave"), temp: filepath.Join(dir, "temperature")}, nil
}

// validID reports whether id looks like a w1 device name: a family byte, a
// dash and a 48-bit serial, all lower-case hex.
func validID(id string) bool {
	if len(id) != 15 || id[2] != '-' {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if i != 2 && !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Temperature reads the probe. On a board it blocks for a conversion
// (≈750 ms at 12 bits). See the package doc for the errors.
func (d *Dev) Temperature() (physic.Temperature, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ow != nil {
		raw, err := d.ow.temperature()
		if err != nil {
			return 0, fmt.Errorf("ds18b20: %s: %w: %w", d.id, devices.ErrNoAnswer, err)
		}
		return check(d.id, int64(raw)*1000/16)
	}
	b, err := d.read(d.slave)
	var milli int64
	switch {
	case err == nil:
		milli, err = parseSlave(b)
	case errors.Is(err, fs.ErrNotExist):
		if b, err = d.read(d.temp); err == nil {
			milli, err = parseMilli(bytes.TrimSpace(b))
		}
	}
	if err != nil {
		return 0, fmt.Errorf("ds18b20: %s: %w: %w", d.id, devices.ErrNoAnswer, err)
	}
	return check(d.id, milli)
}

// check turns a reading in m°C into a temperature, or an out-of-range
// error.
func check(id string, milli int64) (physic.Temperature, error) {
	if milli == powerOn {
		return 0, fmt.Errorf("ds18b20: %s: power-on value 85°C, no conversion: %w", id, devices.ErrOutOfRange)
	}
	if milli < minMilli || milli > maxMilli {
		return 0, fmt.Errorf("ds18b20: %s: %d m°C outside -55..125°C: %w", id, milli, devices.ErrOutOfRange)
	}
	return physic.Temperature(milli)*physic.MilliCelsius + physic.ZeroCelsius, nil
}

// read reads path into d.buf without allocating a buffer.
func (d *Dev) read(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	n, err := io.ReadFull(f, d.buf[:])
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		err = nil
	}
	return d.buf[:n], err
}

var (
	errCRC   = errors.New("kernel reports crc NO")
	errParse = errors.New("cannot parse w1_slave")
)

// parseSlave parses the two lines of w1_slave.
func parseSlave(b []byte) (int64, error) {
	line1, line2, ok := bytes.Cut(b, []byte("\n"))
	if !ok {
		return 0, errParse
	}
	line1 = bytes.TrimSpace(line1)
	switch {
	case bytes.HasSuffix(line1, []byte(" YES")):
	case bytes.HasSuffix(line1, []byte(" NO")):
		return 0, errCRC
	default:
		return 0, errParse
	}
	_, t, ok := bytes.Cut(line2, []byte("t="))
	if !ok {
		return 0, errParse
	}
	return parseMilli(bytes.TrimSpace(t))
}

func parseMilli(b []byte) (int64, error) {
	if len(b) == 0 {
		return 0, errParse
	}
	var v int64
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 7 {
		return 0, errParse
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: %q", errParse, b)
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, nil
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

// SenseContinuous implements physic.SenseEnv. It is not supported: the
// kernel converts on each read, so poll Sense instead.
func (d *Dev) SenseContinuous(interval time.Duration) (<-chan physic.Env, error) {
	return nil, errors.New("ds18b20: SenseContinuous not supported, poll Sense")
}

// Precision implements physic.SenseEnv: 0.0625 °C at 12-bit resolution.
func (d *Dev) Precision(e *physic.Env) {
	e.Temperature = 62500 * physic.MicroKelvin
	e.Pressure = 0
	e.Humidity = 0
}

// String implements conn.Resource.
func (d *Dev) String() string {
	return "DS18B20{" + d.id + "}"
}

// Halt implements conn.Resource. It has nothing to stop.
func (d *Dev) Halt() error {
	return nil
}
