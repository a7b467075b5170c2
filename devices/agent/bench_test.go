//go:build unix

package agent

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"linli/devices/hazard"
	"linli/devices/store"
)

// BenchmarkStepEightChannels measures the agent's work per sampling round
// with 8 channels and nothing happening, over 20 simulated minutes at 1 Hz
// (readings flushed every 10 s, telemetry on the heartbeat), against one
// bare fsync'd bbolt transaction on the same disk: a ratio well below 1
// shows there is no per-sample fsync (one readings batch and one heartbeat
// telemetry message per 10 s: 0.2 fsync per round). It also reports the
// CPU time per round and what that is of one core at 1 Hz.
func BenchmarkStepEightChannels(b *testing.B) {
	dir := b.TempDir()
	bare, err := bolt.Open(filepath.Join(dir, "bare.db"), 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	const nBare = 30
	start := time.Now()
	for i := 0; i < nBare; i++ {
		bare.Update(func(tx *bolt.Tx) error {
			bk, _ := tx.CreateBucketIfNotExists([]byte("b"))
			return bk.Put([]byte{byte(i)}, []byte{1})
		})
	}
	fsync := time.Since(start) / nBare
	bare.Close()

	clk := &clock{time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)}
	db, err := store.Open(filepath.Join(dir, "s.db"), &store.Options{Device: "mb-1", Now: clk.Now, Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var chans []Channel
	kinds := []hazard.Kind{hazard.Temperature, hazard.Temperature, hazard.Temperature, hazard.Temperature,
		hazard.Residual, hazard.Load, hazard.Load, hazard.Smoke}
	for i, k := range kinds {
		c := hazard.Config{Name: string(k) + "-" + string(rune('a'+i)), Kind: k}
		v := 30.0
		switch k {
		case hazard.Load:
			c.Rated, v = 40, 12
		case hazard.Residual:
			v = 90
		case hazard.Smoke:
			v = 0
		}
		chans = append(chans, Channel{Config: c, Sensor: &fakeSensor{v: v}})
	}
	a, err := New(db, chans, &Options{Device: "mb-1", Now: clk.Now, Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	const steps = 1200
	b.ResetTimer()
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	start = time.Now()
	for i := 0; i < steps; i++ {
		a.Step(context.Background())
		clk.t = clk.t.Add(time.Second)
	}
	per := time.Since(start) / steps
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) / steps
	b.StopTimer()
	if kept, _, _ := db.ReadingStats(); kept < 8*(steps-10) {
		b.Fatalf("only %d readings stored", kept)
	}
	b.ReportMetric(float64(per.Microseconds()), "µs-wall/step")
	b.ReportMetric(float64(cpu.Microseconds()), "µs-cpu/step")
	b.ReportMetric(float64(per)/float64(fsync), "x-bare-fsync")
	b.ReportMetric(float64(cpu)/float64(time.Second)*100, "%cpu-at-1Hz")
}
