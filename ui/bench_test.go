package ui_test

import (
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"testing"
	"time"

	"fyne.io/fyne/v2"

	"linli/ui/i18n"
	"linli/ui/screenshot"
)

// BenchmarkFrame measures one full software render of the report category
// screen at 1024×600 — what the embedded driver does after every touch —
// against the baseline, timed in the same loop, of filling a frame of that
// size (the memory traffic any frame costs).
func BenchmarkFrame(b *testing.B) {
	newApp(b)
	r := newRig(b, nil, fyne.NewSize(1024, 600), i18n.ZH)
	r.tap("home.report")
	c := r.w.Canvas()
	c.Capture() // warm the font caches
	fill := image.NewUniform(color.NRGBA{0xF2, 0xF4, 0xF7, 0xff})
	var base, frame time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		img := image.NewNRGBA(image.Rect(0, 0, 1024, 600))
		draw.Draw(img, img.Bounds(), fill, image.Point{}, draw.Src)
		t1 := time.Now()
		c.Capture()
		frame += time.Since(t1)
		base += t1.Sub(t0)
	}
	b.ReportMetric(float64(frame.Milliseconds())/float64(b.N), "ms/frame")
	b.ReportMetric(float64(frame)/float64(base), "x-baseline")
}

// BenchmarkScreenshot measures the remote screenshot's encoding (paletted,
// best compression) of the home screen against a plain PNG encoding of the
// same frame timed in the same loop, and reports both sizes.
func BenchmarkScreenshot(b *testing.B) {
	newApp(b)
	r := newRig(b, nil, fyne.NewSize(1024, 600), i18n.ZH)
	frame := r.w.Canvas().Capture()
	var base, enc time.Duration
	var plain countWriter
	var raw []byte
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		plain = 0
		if err := png.Encode(&plain, frame); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		var err error
		if raw, err = screenshot.Encode(frame, 64<<10); err != nil {
			b.Fatal(err)
		}
		enc += time.Since(t1)
		base += t1.Sub(t0)
	}
	b.ReportMetric(float64(len(raw)), "result-bytes")
	b.ReportMetric(float64(plain), "plain-png-bytes")
	b.ReportMetric(float64(enc)/float64(base), "x-baseline")
}

type countWriter int

func (w *countWriter) Write(p []byte) (int, error) { *w += countWriter(len(p)); return len(p), nil }
