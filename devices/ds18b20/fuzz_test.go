package ds18b20

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"periph.io/x/conn/v3/physic"

	"linli/devices"
)

// FuzzTemperature writes arbitrary bytes as a probe's w1_slave (or, on
// kernels without it, its temperature file) in a fake sysfs tree and
// reads the probe. It must never panic; a refusal wraps ErrNoAnswer or
// ErrOutOfRange; a reading is never made up: it needs the kernel's CRC
// "YES" (for w1_slave), lies within -55..125 °C, is not the power-on
// 85 °C, and is the number the file holds.
func FuzzTemperature(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.w1_slave"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no testdata: %v", err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false)
	}
	f.Add([]byte("23125\n"), true)
	f.Add([]byte("-55000"), true)
	f.Add([]byte("85000\n"), true)
	f.Add([]byte("-"), true)
	f.Add([]byte("72 01 : crc=57 YES\nt=-0"), false)
	f.Add([]byte("YES\nt=1"), false)

	root := f.TempDir()
	const id = "28-000000000001"
	dir := filepath.Join(root, id)
	if err := os.Mkdir(dir, 0o755); err != nil {
		f.Fatal(err)
	}
	d, err := Open(id, &Opts{Root: root})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte, tempFile bool) {
		name, other := "w1_slave", "temperature"
		if tempFile {
			name, other = other, name
		}
		os.Remove(filepath.Join(dir, other))
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		temp, err := d.Temperature()
		if err != nil {
			if !errors.Is(err, devices.ErrNoAnswer) && !errors.Is(err, devices.ErrOutOfRange) {
				t.Fatalf("Temperature of %s %q: error %v wraps neither ErrNoAnswer nor ErrOutOfRange", name, b, err)
			}
			return
		}
		c := temp.Celsius()
		if c < -55 || c > 125 || temp == 85*physic.Celsius+physic.ZeroCelsius {
			t.Fatalf("Temperature of %s %q = %s", name, b, temp)
		}
		b = b[:min(len(b), len(d.buf))] // what the driver reads of it
		text := bytes.TrimSpace(b)
		if !tempFile {
			line1, line2, ok := bytes.Cut(b, []byte("\n"))
			if !ok || !bytes.HasSuffix(bytes.TrimSpace(line1), []byte(" YES")) {
				t.Fatalf("w1_slave %q without the CRC YES read as %s", b, temp)
			}
			_, text, _ = bytes.Cut(line2, []byte("t="))
			text = bytes.TrimSpace(text)
		}
		milli, err := parseMilli(text)
		if err != nil || physic.Temperature(milli)*physic.MilliCelsius+physic.ZeroCelsius != temp {
			t.Fatalf("%s %q read as %s, but holds %q", name, b, temp, text)
		}
	})
}
