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

// Issue 4's budgets for an idle kiosk.
const (
	kioskRSSBudget = 80e6 // bytes of resident memory
	kioskCPUBudget = 1.0  // per cent of one core
)

// BenchmarkKioskFootprint runs the release-built kiosk (-tags noos, the
// embedded Fyne driver the boards use, CGO_ENABLED=0, -trimpath, -s -w)
// drawing to a PNG file at 800×480 with a configuration file, connected to
// an in-process broker, idle on its home screen for 20 s after a 3 s
// warm-up, and reads its /proc/PID/status and /proc/PID/stat. It reports:
//
//   - MB-rss: the resident set (VmRSS) at the end, and MB-rss-peak, the
//     peak (VmHWM), in 10^6 bytes; x-rss-budget is the peak over the 80 MB
//     budget;
//   - %-core: user+system CPU time over the idle span in per cent of one
//     core (ticks of 10 ms: over 20 s the resolution is 0.05 %), and
//     x-cpu-budget, that over the 1 % budget;
//   - MB-armv7: the size of the same build for linux/arm GOARM=7.
//
// The figures are of this amd64 machine; an armv7 board's RSS is smaller
// (4-byte pointers) and its CPU per frame larger.
func BenchmarkKioskFootprint(b *testing.B) {
	if testing.Short() {
		b.Skip("builds the kiosk twice and runs it for about 25 s")
	}
	dir := b.TempDir()
	build := func(out string, env ...string) {
		b.Helper()
		if err := bintest.GoBuild(env, "-tags", "noos", "-trimpath", "-ldflags", "-s -w", "-o", out, "."); err != nil {
			b.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "kiosk")
	build(bin)
	arm := filepath.Join(dir, "kiosk-armv7")
	build(arm, "GOOS=linux", "GOARCH=arm", "GOARM=7")
	cfg := filepath.Join(dir, "kiosk.json")
	if err := os.WriteFile(cfg, []byte(`{"device":"kiosk-bench","code":"KB","location":{"community":"c1","building":"3"},"buildings":["3"],"lang":"zh","idle_timeout":"90s"}`), 0o644); err != nil {
		b.Fatal(err)
	}
	url := mqtttest.Embedded(b)

	const warm, span = 3 * time.Second, 20 * time.Second
	b.ResetTimer()
	var rss, peak, cpu float64
	for range b.N {
		cmd := exec.Command(bin, "run", "--config", cfg, "--data", b.TempDir(), "--display", "png:"+filepath.Join(dir, "screen.png"),
			"--size", "800x480", "--broker", url, "--usb-dirs", "")
		cmd.Env = append(os.Environ(), "HOME="+dir, "LANG=zh_CN.UTF-8")
		var out bintest.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		stop := func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
		}
		alive := func() {
			b.Helper()
			select {
			case <-exited:
				b.Fatalf("the kiosk exited early:\n%s", out.String())
			default:
			}
		}
		pid := cmd.Process.Pid
		time.Sleep(warm) // measuring a process in real time
		alive()
		if !strings.Contains(out.String(), "uplink: connected") {
			stop()
			b.Fatalf("the kiosk did not connect within %s:\n%s", warm, out.String())
		}
		if _, err := os.Stat(filepath.Join(dir, "screen.png")); err != nil {
			stop()
			b.Fatalf("the kiosk drew nothing: %v\n%s", err, out.String())
		}
		t0, w0 := bintest.CPUTicks(b, pid), time.Now()
		time.Sleep(span)
		alive()
		t1, w1 := bintest.CPUTicks(b, pid), time.Now()
		rss, peak = bintest.StatusBytes(b, pid, "VmRSS"), bintest.StatusBytes(b, pid, "VmHWM")
		stop()
		// Linux reports utime and stime in clock ticks of 1/100 s (USER_HZ).
		cpu = float64(t1-t0) / 100 / w1.Sub(w0).Seconds() * 100
	}
	b.StopTimer()
	fi, err := os.Stat(arm)
	if err != nil {
		b.Fatal(err)
	}
	size := float64(fi.Size())
	b.Logf("idle kiosk: %.1f MB rss (peak %.1f MB), %.2f %% of a core; armv7 noos binary %.1f MB", rss/1e6, peak/1e6, cpu, size/1e6)
	b.ReportMetric(rss/1e6, "MB-rss")
	b.ReportMetric(peak/1e6, "MB-rss-peak")
	b.ReportMetric(peak/kioskRSSBudget, "x-rss-budget")
	b.ReportMetric(cpu, "%-core")
	b.ReportMetric(cpu/kioskCPUBudget, "x-cpu-budget")
	b.ReportMetric(size/1e6, "MB-armv7")
	b.ReportMetric(0, "ns/op")
}
