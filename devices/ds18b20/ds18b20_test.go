package ds18b20

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"periph.io/x/conn/v3/physic"

	"linli/devices"
)

const id = "28-000000000001"

// fakeTree makes root/id and returns root. files maps file names to the
// testdata fixture to copy, or to literal content when it starts with "=".
func fakeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, id)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, src := range files {
		var b []byte
		if len(src) > 0 && src[0] == '=' {
			b = []byte(src[1:])
		} else {
			var err error
			if b, err = os.ReadFile(filepath.Join("testdata", src)); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestTemperature(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		want    physic.Temperature // m°C
		wantErr error
	}{
		{"good", map[string]string{"w1_slave": "good.w1_slave"}, 23125, nil},
		{"negative", map[string]string{"w1_slave": "negative.w1_slave"}, -10125, nil},
		{"125C max", map[string]string{"w1_slave": "max.w1_slave"}, 125000, nil},
		{"-55C min", map[string]string{"w1_slave": "min.w1_slave"}, -55000, nil},
		{"85.0625C is real", map[string]string{"w1_slave": "near_85.w1_slave"}, 85062, nil},
		{"crc NO", map[string]string{"w1_slave": "crc_no.w1_slave"}, 0, devices.ErrNoAnswer},
		{"power-on 85000", map[string]string{"w1_slave": "power_on.w1_slave"}, 0, devices.ErrOutOfRange},
		{"-127C", map[string]string{"w1_slave": "minus127.w1_slave"}, 0, devices.ErrOutOfRange},
		{"above 125C", map[string]string{"w1_slave": "above_max.w1_slave"}, 0, devices.ErrOutOfRange},
		{"truncated", map[string]string{"w1_slave": "truncated.w1_slave"}, 0, devices.ErrNoAnswer},
		{"empty", map[string]string{"w1_slave": "="}, 0, devices.ErrNoAnswer},
		{"garbage t=", map[string]string{"w1_slave": "=x : crc=00 YES\nx t=12a\n"}, 0, devices.ErrNoAnswer},
		{"temperature file", map[string]string{"temperature": "=31250\n"}, 31250, nil},
		{"temperature file 85000", map[string]string{"temperature": "=85000\n"}, 0, devices.ErrOutOfRange},
		{"w1_slave preferred", map[string]string{"w1_slave": "crc_no.w1_slave", "temperature": "=23125\n"}, 0, devices.ErrNoAnswer},
		{"no files", nil, 0, devices.ErrNoAnswer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Open(id, &Opts{Root: fakeTree(t, tc.files)})
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
		})
	}
}

func TestOpenAbsent(t *testing.T) {
	root := t.TempDir()
	if _, err := Open(id, &Opts{Root: root}); !errors.Is(err, devices.ErrAbsent) {
		t.Fatalf("Open(missing) error = %v, want ErrAbsent", err)
	}
	if err := os.WriteFile(filepath.Join(root, id), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(id, &Opts{Root: root}); !errors.Is(err, devices.ErrAbsent) {
		t.Fatalf("Open(file) error = %v, want ErrAbsent", err)
	}
}

func TestOpenBadID(t *testing.T) {
	for _, bad := range []string{"", "28-0000000000", "../../etc/pw", "28-00000000000G", "28_000000000001", "28-0316A2795AFF"} {
		if _, err := Open(bad, &Opts{Root: t.TempDir()}); err == nil || errors.Is(err, devices.ErrAbsent) {
			t.Errorf("Open(%q) error = %v, want an invalid id error", bad, err)
		}
	}
}

func TestProbeLeavesBus(t *testing.T) {
	root := fakeTree(t, map[string]string{"w1_slave": "good.w1_slave"})
	d, err := Open(id, &Opts{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	var e physic.Env
	if err := d.Sense(&e); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(root, id)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Temperature(); !errors.Is(err, devices.ErrNoAnswer) {
		t.Fatalf("after removal: error = %v, want ErrNoAnswer", err)
	}
	if got, want := d.String(), "DS18B20{28-000000000001}"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestDefaultRoot(t *testing.T) {
	// An id that cannot exist on this machine: the default root is used and
	// reports absence, never another error.
	if _, err := Open("28-fffffffffffe", nil); !errors.Is(err, devices.ErrAbsent) {
		t.Fatalf("Open() error = %v, want ErrAbsent", err)
	}
}

func BenchmarkTemperature(b *testing.B) {
	// Baseline: os.ReadFile of the same file, what a naive driver would do.
	root := b.TempDir()
	dir := filepath.Join(root, id)
	if err := os.Mkdir(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	src, err := os.ReadFile("testdata/good.w1_slave")
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "w1_slave"), src, 0o644); err != nil {
		b.Fatal(err)
	}
	d, err := Open(id, &Opts{Root: root})
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	path := filepath.Join(dir, "w1_slave")
	start := time.Now()
	for range b.N {
		if _, err := os.ReadFile(path); err != nil {
			b.Fatal(err)
		}
	}
	baseline := time.Since(start)
	b.ReportAllocs()
	b.ResetTimer()
	b.StartTimer()
	for range b.N {
		if _, err := d.Temperature(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed())/float64(max(baseline, 1)), "x-baseline")
}
