package screenshot

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"math/rand"
	"os"
	"testing"
)

// ui returns a flat image with text-like anti-aliased noise, like a screen.
func ui(w, h int, noise float64, seed int64) image.Image {
	rnd := rand.New(rand.NewSource(seed))
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.NRGBA{0xF2, 0xF4, 0xF7, 0xff}
			if y < 70 {
				c = color.NRGBA{0x1E, 0x5B, 0xB8, 0xff}
			}
			if rnd.Float64() < noise {
				v := uint8(rnd.Intn(256))
				c = color.NRGBA{v, v, uint8(rnd.Intn(256)), 0xff}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

func TestEncode(t *testing.T) {
	tests := []struct {
		name      string
		img       image.Image
		max       int
		wantScale int
		wantErr   error
	}{
		{"flat", ui(1024, 600, 0.01, 1), 64 << 10, 1, nil},
		{"busy", ui(1024, 600, 0.3, 2), 64 << 10, 4, nil},
		{"tiny budget", ui(1024, 600, 0.3, 3), 2 << 10, 0, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := Encode(tt.img, tt.max)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if len(raw) > tt.max-overhead {
				t.Errorf("result is %d bytes, budget %d", len(raw), tt.max-overhead)
			}
			r, err := Decode(raw)
			if err != nil {
				t.Fatal(err)
			}
			if r.Scale != tt.wantScale {
				t.Errorf("scale = %d, want %d", r.Scale, tt.wantScale)
			}
			img, err := png.Decode(bytes.NewReader(r.PNG))
			if err != nil {
				t.Fatal(err)
			}
			if got := img.Bounds().Dx(); got != 1024/r.Scale || r.Width != got {
				t.Errorf("width = %d (result says %d), want %d", got, r.Width, 1024/r.Scale)
			}
		})
	}
}

func TestPalettedExact(t *testing.T) {
	img := ui(64, 32, 0.01, 4)
	p := Paletted(img)
	for y := 0; y < 32; y++ {
		for x := 0; x < 64; x++ {
			r1, g1, b1, _ := img.At(x, y).RGBA()
			r2, g2, b2, _ := p.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 {
				t.Fatalf("pixel %d,%d changed with %d colours", x, y, len(p.Palette))
			}
		}
	}
}

// TestKioskScreen encodes a real kiosk screen: the golden home screen.
func TestKioskScreen(t *testing.T) {
	f, err := os.Open("../testdata/home-zh-1024x600.png")
	if err != nil {
		t.Fatal(err) // the golden is in the repository: missing is a failure
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := Encode(img, 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := Decode(raw)
	t.Logf("1024×600 home screen: %d bytes PNG, %d bytes JSON, scale %d", len(r.PNG), len(raw), r.Scale)
	if r.Scale != 1 {
		t.Errorf("home screen needed scale %d, want full size", r.Scale)
	}
}
