package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"linli/cmd/internal/bintest"
	"linli/mqtt/mqtttest"
)

// Issue 2's budgets for sensord on the board.
const (
	rssBudget  = 20e6 // bytes of resident memory
	cpuBudget  = 1.0  // per cent of one core
	sizeBudget = 12e6 // bytes of the static armv7 binary
)

// BenchmarkSensordFootprint runs the release-built sensord sampling 8
// channels at 1 Hz (testdata/bench8.json over the simulated board playing
// testdata/bench8-day.json in real time) and publishing to a broker, for
// about 20 s, and reads its /proc/PID/status and /proc/PID/stat. It reports:
//
//   - MB-rss: the peak resident set (VmHWM), in 10^6 bytes, and
//     x-rss-budget, that over the 20 MB budget;
//   - %-core: user+system CPU time over wall time after a 2 s warm-up, and
//     x-cpu-budget, that over the 1 % budget;
//   - MB-armv7: the size of the static armv7 binary (CGO_ENABLED=0, -s -w,
//     -trimpath), and x-size-budget, that over 12 MB;
//   - idle-MB-rss and idle-%-core: the same figures of a Go program that
//     only sleeps, built the same way and measured in the same run: the Go
//     runtime's floor on this machine, for scale.
//
// The figures are of this amd64 machine; an armv7 board's RSS is smaller
// (4-byte pointers) and its CPU per sample larger.
func BenchmarkSensordFootprint(b *testing.B) {
	if testing.Short() {
		b.Skip("builds and runs binaries for about 45 s")
	}
	dir := b.TempDir()
	build := func(out string, env []string, args ...string) {
		b.Helper()
		if err := bintest.GoBuild(env, append([]string{"-trimpath", "-ldflags", "-s -w", "-o", out}, args...)...); err != nil {
			b.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "sensord")
	build(bin, nil, ".")
	arm := filepath.Join(dir, "sensord-armv7")
	build(arm, []string{"GOOS=linux", "GOARCH=arm", "GOARM=7"}, ".")
	idleSrc := filepath.Join(dir, "idle", "main.go")
	if err := os.MkdirAll(filepath.Dir(idleSrc), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(idleSrc, []byte("package main\n\nimport \"time\"\n\nfunc main() { time.Sleep(time.Hour) }\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	idle := filepath.Join(dir, "idle-go")
	build(idle, nil, idleSrc)

	url := mqtttest.Embedded(b)
	const warm, span = 2 * time.Second, 20 * time.Second
	b.ResetTimer()
	var rss, cpu, idleRSS, idleCPU float64
	for range b.N {
		rss, cpu = footprint(b, warm, span, bin, "run", "--config", "testdata/bench8.json",
			"--sim", "testdata/bench8-day.json", "--speed", "1", "--exit-at-end=false",
			"--data", b.TempDir(), "--broker", url, "--user", "mb-bench8", "--pass", "x", "uplink: connected")
		idleRSS, idleCPU = footprint(b, warm, 5*time.Second, idle, "")
	}
	b.StopTimer()
	fi, err := os.Stat(arm)
	if err != nil {
		b.Fatal(err)
	}
	size := float64(fi.Size())
	b.Logf("sensord: %.1f MB rss, %.2f %% of a core; idle Go: %.1f MB, %.2f %%; armv7 binary %.1f MB",
		rss/1e6, cpu, idleRSS/1e6, idleCPU, size/1e6)
	b.ReportMetric(rss/1e6, "MB-rss")
	b.ReportMetric(rss/rssBudget, "x-rss-budget")
	b.ReportMetric(cpu, "%-core")
	b.ReportMetric(cpu/cpuBudget, "x-cpu-budget")
	b.ReportMetric(size/1e6, "MB-armv7")
	b.ReportMetric(size/sizeBudget, "x-size-budget")
	b.ReportMetric(idleRSS/1e6, "idle-MB-rss")
	b.ReportMetric(idleCPU, "idle-%-core")
	b.ReportMetric(0, "ns/op")
}

// footprint runs bin with args but the last, lets it warm up, and returns
// its peak resident set in bytes and its CPU use over span in per cent of
// one core. The last argument is a string its output must hold by the end
// ("" for none). CPU time comes in ticks of 10 ms: over 20 s the
// resolution is 0.05 % of a core.
func footprint(b *testing.B, warm, span time.Duration, bin string, args ...string) (rss, cpu float64) {
	b.Helper()
	want := args[len(args)-1]
	cmd := exec.Command(bin, args[:len(args)-1]...)
	var out bintest.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	pid := cmd.Process.Pid
	alive := func() {
		select {
		case <-exited:
			b.Fatalf("%s exited early:\n%s", filepath.Base(bin), out.String())
		default:
		}
	}
	time.Sleep(warm) // measuring a process in real time
	alive()
	t0, w0 := bintest.CPUTicks(b, pid), time.Now()
	time.Sleep(span)
	alive()
	t1, w1 := bintest.CPUTicks(b, pid), time.Now()
	rss = bintest.StatusBytes(b, pid, "VmHWM")
	if !strings.Contains(out.String(), want) {
		b.Fatalf("%s: no %q in its output:\n%s", filepath.Base(bin), want, out.String())
	}
	// Linux reports utime and stime in clock ticks of 1/100 s (USER_HZ).
	cpu = float64(t1-t0) / 100 / w1.Sub(w0).Seconds() * 100
	return rss, cpu
}
