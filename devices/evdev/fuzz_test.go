package evdev

import (
	"bytes"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzStream reads an arbitrary byte stream as input events of either
// word size and feeds them to a tracker with an arbitrary calibration.
// Nothing may panic; the reader yields one event per whole event's bytes
// and then io.EOF, or a wrapped io.ErrUnexpectedEOF for a torn last
// event; and the touches come out well formed: a slot id below maxSlots,
// Down only for a finger that is up, Move and Up only for one that is
// down, and every position on the (rotated) screen.
//
// The seeds are the recordings in testdata, each with the calibration of
// a 800×480 panel.
func FuzzStream(f *testing.F) {
	recs, err := filepath.Glob(filepath.Join("testdata", "*.bin"))
	if err != nil || len(recs) == 0 {
		f.Fatalf("no recordings: %v", err)
	}
	for _, p := range recs {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		word8 := strings.HasSuffix(p, "_64.bin")
		f.Add(b, word8, false, int32(0), int32(4095), int32(0), int32(4095), uint8(0))
		f.Add(b, !word8, true, int32(-100), int32(100), int32(50), int32(50), uint8(0xff))
	}
	f.Add([]byte{}, true, false, int32(0), int32(1), int32(0), int32(1), uint8(0))
	f.Add(bytes.Repeat([]byte{0xff}, 23), true, true, int32(math.MinInt32), int32(math.MaxInt32), int32(0), int32(1), uint8(1))
	f.Add([]byte{}, false, false, int32(math.MinInt32), int32(math.MaxInt32), int32(-5), int32(5), uint8(0))
	f.Fuzz(func(t *testing.T, b []byte, word8, multi bool, xmin, xmax, ymin, ymax int32, flags uint8) {
		word := 4
		if word8 {
			word = 8
		}
		cal := Calibration{XMin: xmin, XMax: xmax, YMin: ymin, YMax: ymax, Width: 800, Height: 480,
			SwapXY: flags&1 != 0, InvertX: flags&2 != 0, InvertY: flags&4 != 0, Rotate: 90 * int(flags>>3&3)}
		w, h := float32(cal.Width-1), float32(cal.Height-1)
		if cal.Rotate == 90 || cal.Rotate == 270 {
			w, h = h, w
		}
		r, err := NewReader(bytes.NewReader(b), word)
		if err != nil {
			t.Fatal(err)
		}
		tr := NewTracker(cal, multi)
		down := map[int]bool{}
		var touches []Touch
		n := 0
		for {
			e, err := r.ReadEvent()
			if err != nil {
				whole := len(b) / EventSize(word)
				switch {
				case n != whole:
					t.Fatalf("read %d events of %d bytes, want %d", n, len(b), whole)
				case len(b)%EventSize(word) == 0 && !errors.Is(err, io.EOF):
					t.Fatalf("end of a whole stream: %v, want io.EOF", err)
				case len(b)%EventSize(word) != 0 && !errors.Is(err, io.ErrUnexpectedEOF):
					t.Fatalf("end of a torn stream: %v, want io.ErrUnexpectedEOF", err)
				}
				break
			}
			n++
			touches = tr.Feed(e, touches[:0])
			for _, tc := range touches {
				switch {
				case tc.ID < 0 || tc.ID >= maxSlots:
					t.Fatalf("touch %v: id out of range", tc)
				case tc.Kind == Down && down[tc.ID]:
					t.Fatalf("touch %v: finger already down", tc)
				case (tc.Kind == Move || tc.Kind == Up) && !down[tc.ID]:
					t.Fatalf("touch %v: finger not down", tc)
				case !(tc.X >= 0 && tc.X <= w && tc.Y >= 0 && tc.Y <= h):
					t.Fatalf("touch %v: off the %g×%g screen", tc, w+1, h+1)
				}
				down[tc.ID] = tc.Kind != Up
			}
		}
		// The raw range's ends map to the screen's edges, its middle to the
		// middle.
		if xmax > xmin && !cal.SwapXY && !cal.InvertX && cal.Rotate == 0 {
			if x0, _ := cal.Map(xmin, ymin); x0 != 0 {
				t.Fatalf("Map(XMin %d) = %g, want 0", xmin, x0)
			}
			if x1, _ := cal.Map(xmax, ymin); x1 != w {
				t.Fatalf("Map(XMax %d) = %g, want %g", xmax, x1, w)
			}
			mid := int32((int64(xmin) + int64(xmax)) / 2)
			want := float64(w) * (float64(mid) - float64(xmin)) / (float64(xmax) - float64(xmin))
			if xm, _ := cal.Map(mid, ymin); math.Abs(float64(xm)-want) > 0.01 {
				t.Fatalf("Map(%d in %d..%d) = %g, want %g", mid, xmin, xmax, xm, want)
			}
		}
	})
}
