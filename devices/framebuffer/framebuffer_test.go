package framebuffer

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"testing"
	"unsafe"
)

// openFake maps a file-backed framebuffer in a temporary directory and
// returns it with the file's path.
func openFake(t *testing.T, g Geometry, opts *Opts) (*Device, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fb0")
	d, err := OpenFile(path, g, opts)
	if err != nil {
		t.Fatalf("OpenFile: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return d, path
}

// pixelAt reads the raw pixel value at (x, y) of the panel from the file.
func pixelAt(t *testing.T, path string, g Geometry, x, y int) uint32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	bpp := g.BitsPerPixel / 8
	i := g.Offset + y*g.Stride + x*bpp
	var v uint32
	for k := bpp - 1; k >= 0; k-- {
		v = v<<8 | uint32(b[i+k])
	}
	return v
}

func TestDrawFormats(t *testing.T) {
	red := color.NRGBA{0xff, 0, 0, 0xff}
	blue := color.NRGBA{0, 0, 0xff, 0xff}
	grey := color.NRGBA{0x80, 0x40, 0x20, 0xff}
	tests := []struct {
		name string
		g    Geometry
		// raw pixel values expected for red, blue and grey
		wantRed, wantBlue, wantGrey uint32
	}{
		{"rgb565 padded stride", Geometry{Width: 10, Height: 6, BitsPerPixel: 16, Stride: 32},
			0xf800, 0x001f, 0x8000 | 0x40>>2<<5 | 0x20>>3},
		{"xrgb8888 padded stride", Geometry{Width: 10, Height: 6, BitsPerPixel: 32, Stride: 48},
			0xffff0000, 0xff0000ff, 0xff804020},
		{"xbgr8888 (red low)", Geometry{Width: 10, Height: 6, BitsPerPixel: 32,
			Red: Bitfield{0, 8}, Green: Bitfield{8, 8}, Blue: Bitfield{16, 8}},
			0x0000ff, 0xff0000, 0x204080},
		{"abgr8888 with alpha", Geometry{Width: 10, Height: 6, BitsPerPixel: 32,
			Red: Bitfield{0, 8}, Green: Bitfield{8, 8}, Blue: Bitfield{16, 8}, Transp: Bitfield{24, 8}},
			0xff0000ff, 0xffff0000, 0xff204080},
		{"rgb888 24 bpp, panned", Geometry{Width: 10, Height: 6, BitsPerPixel: 24, Stride: 31, Offset: 31 * 6},
			0xff0000, 0x0000ff, 0x804020},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, path := openFake(t, tt.g, nil)
			g := d.Geometry()
			img := image.NewNRGBA(image.Rect(0, 0, 10, 6))
			img.SetNRGBA(0, 0, red)
			img.SetNRGBA(9, 5, blue)
			img.SetNRGBA(3, 2, grey)
			if _, err := d.Draw(img); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				x, y int
				want uint32
			}{{0, 0, tt.wantRed}, {9, 5, tt.wantBlue}, {3, 2, tt.wantGrey}} {
				if got := pixelAt(t, path, g, c.x, c.y); got != c.want {
					t.Errorf("pixel (%d,%d) = %#x, want %#x", c.x, c.y, got, c.want)
				}
			}
		})
	}
}

// TestDrawOnlyChangedRows poisons the file between frames: rows that
// Draw must not touch keep the poison, and so does the stride padding.
func TestDrawOnlyChangedRows(t *testing.T) {
	for _, bpp := range []int{16, 32} {
		g := Geometry{Width: 8, Height: 5, BitsPerPixel: bpp, Stride: 8*bpp/8 + 7}
		d, path := openFake(t, g, nil)
		img := image.NewNRGBA(image.Rect(0, 0, 8, 5))
		for i := range img.Pix {
			img.Pix[i] = 0xff
		}
		if n, err := d.Draw(img); err != nil || n != 5 {
			t.Fatalf("%d bpp: first Draw = %d, %v; want 5 rows", bpp, n, err)
		}
		if n, _ := d.Draw(img); n != 0 {
			t.Errorf("%d bpp: unchanged Draw wrote %d rows, want 0", bpp, n)
		}
		poison := bytes.Repeat([]byte{0xa5}, g.Stride*g.Height)
		if err := os.WriteFile(path, poison, 0o644); err != nil {
			t.Fatal(err)
		}
		img.SetNRGBA(4, 3, color.NRGBA{0, 0, 0, 0xff})
		n, err := d.Draw(img)
		if err != nil || n != 1 {
			t.Fatalf("%d bpp: Draw after one change = %d, %v; want 1 row", bpp, n, err)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		row := 8 * bpp / 8
		for y := range g.Height {
			line := got[y*g.Stride : (y+1)*g.Stride]
			if !bytes.Equal(line[row:], poison[:g.Stride-row]) {
				t.Errorf("%d bpp: row %d: stride padding rewritten: % x", bpp, y, line[row:])
			}
			poisoned := bytes.Equal(line[:row], poison[:row])
			if y == 3 && poisoned {
				t.Errorf("%d bpp: changed row 3 not written", bpp)
			}
			if y != 3 && !poisoned {
				t.Errorf("%d bpp: unchanged row %d rewritten: % x", bpp, y, line[:row])
			}
		}
		// Invalidate forces a full redraw.
		d.Invalidate()
		if n, _ := d.Draw(img); n != 5 {
			t.Errorf("%d bpp: Draw after Invalidate wrote %d rows, want 5", bpp, n)
		}
	}
}

func TestRotate(t *testing.T) {
	// A 4×3 panel; the logical image's top-left pixel is red, its
	// top-right green. Expected physical positions per rotation.
	tests := []struct {
		rotate            int
		size              image.Point
		redAt, greenAt    image.Point
		rowsForFirstFrame int
	}{
		{0, image.Pt(4, 3), image.Pt(0, 0), image.Pt(3, 0), 3},
		{90, image.Pt(3, 4), image.Pt(3, 0), image.Pt(3, 2), 4},
		{180, image.Pt(4, 3), image.Pt(3, 2), image.Pt(0, 2), 3},
		{270, image.Pt(3, 4), image.Pt(0, 2), image.Pt(0, 0), 4},
	}
	for _, tt := range tests {
		g := Geometry{Width: 4, Height: 3, BitsPerPixel: 32, Stride: 20}
		d, path := openFake(t, g, &Opts{Rotate: tt.rotate})
		if got := d.Size(); got != tt.size {
			t.Errorf("rotate %d: Size = %v, want %v", tt.rotate, got, tt.size)
		}
		img := image.NewNRGBA(image.Rectangle{Max: d.Size()})
		img.SetNRGBA(0, 0, color.NRGBA{0xff, 0, 0, 0xff})
		img.SetNRGBA(d.Size().X-1, 0, color.NRGBA{0, 0xff, 0, 0xff})
		n, err := d.Draw(img)
		if err != nil || n != tt.rowsForFirstFrame {
			t.Errorf("rotate %d: Draw = %d, %v; want %d", tt.rotate, n, err, tt.rowsForFirstFrame)
		}
		g = d.Geometry()
		if got := pixelAt(t, path, g, tt.redAt.X, tt.redAt.Y); got != 0xffff0000 {
			t.Errorf("rotate %d: pixel at %v = %#x, want red", tt.rotate, tt.redAt, got)
		}
		if got := pixelAt(t, path, g, tt.greenAt.X, tt.greenAt.Y); got != 0xff00ff00 {
			t.Errorf("rotate %d: pixel at %v = %#x, want green", tt.rotate, tt.greenAt, got)
		}
		black := 0
		for y := range 3 {
			for x := range 4 {
				if pixelAt(t, path, g, x, y) == 0xff000000 {
					black++
				}
			}
		}
		if black != 10 {
			t.Errorf("rotate %d: %d black pixels, want 10", tt.rotate, black)
		}
	}
}

func TestDrawImageTypes(t *testing.T) {
	g := Geometry{Width: 2, Height: 1, BitsPerPixel: 32}
	half := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	half.SetNRGBA(0, 0, color.NRGBA{0xff, 0xff, 0xff, 0x80}) // over black: 0x80
	rgba := image.NewRGBA(image.Rect(0, 0, 2, 1))
	rgba.SetRGBA(0, 0, color.RGBA{0x80, 0x80, 0x80, 0x80}) // premultiplied already
	gray := image.NewGray(image.Rect(0, 0, 2, 1))
	gray.SetGray(0, 0, color.Gray{0x80})
	for name, img := range map[string]image.Image{"nrgba": half, "rgba": rgba, "gray": gray} {
		d, path := openFake(t, g, nil)
		if _, err := d.Draw(img); err != nil {
			t.Fatal(err)
		}
		if got, want := pixelAt(t, path, d.Geometry(), 0, 0), uint32(0xff808080); got != want {
			t.Errorf("%s: pixel = %#x, want %#x", name, got, want)
		}
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		g    Geometry
		opts *Opts
		want error
	}{
		{"zero size", Geometry{BitsPerPixel: 32}, nil, ErrGeometry},
		{"8 bpp", Geometry{Width: 4, Height: 4, BitsPerPixel: 8}, nil, ErrGeometry},
		{"short stride", Geometry{Width: 4, Height: 4, BitsPerPixel: 32, Stride: 15}, nil, ErrGeometry},
		{"channel outside pixel", Geometry{Width: 4, Height: 4, BitsPerPixel: 16, Red: Bitfield{12, 8}, Green: Bitfield{5, 6}, Blue: Bitfield{0, 5}}, nil, ErrGeometry},
		{"rotation 45", Geometry{Width: 4, Height: 4, BitsPerPixel: 32}, &Opts{Rotate: 45}, ErrRotation},
	}
	for _, tt := range tests {
		_, err := New(make([]byte, 1024), tt.g, tt.opts, nil)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: New error = %v, want %v", tt.name, err, tt.want)
		}
	}
	if _, err := New(make([]byte, 63), Geometry{Width: 4, Height: 4, BitsPerPixel: 32}, nil, nil); !errors.Is(err, ErrGeometry) {
		t.Errorf("short buffer: error = %v, want ErrGeometry", err)
	}
	d, err := New(make([]byte, 64), Geometry{Width: 4, Height: 4, BitsPerPixel: 32}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Draw(image.NewNRGBA(image.Rect(0, 0, 4, 4))); !errors.Is(err, ErrClosed) {
		t.Errorf("Draw after Close: %v, want ErrClosed", err)
	}
}

// TestKernelStructSizes pins the ioctl structs to the kernel's layout.
func TestKernelStructSizes(t *testing.T) {
	if got := unsafe.Sizeof(varScreeninfo{}); got != 160 {
		t.Errorf("sizeof(fb_var_screeninfo) = %d, want 160", got)
	}
	want, wantLine := uintptr(68), uintptr(44) // 32-bit: unsigned long is 4 bytes
	if unsafe.Sizeof(uintptr(0)) == 8 {
		want, wantLine = 80, 48
	}
	if got := unsafe.Sizeof(fixScreeninfo{}); got != want {
		t.Errorf("sizeof(fb_fix_screeninfo) = %d, want %d", got, want)
	}
	if got := unsafe.Offsetof(fixScreeninfo{}.LineLength); got != wantLine {
		t.Errorf("offsetof(line_length) = %d, want %d", got, wantLine)
	}
}

func TestOpenMissingDevice(t *testing.T) {
	if _, err := Open(filepath.Join(t.TempDir(), "fb9"), nil); err == nil {
		t.Error("Open of a missing device succeeded")
	}
}

func BenchmarkDraw1024x600(b *testing.B) {
	g := Geometry{Width: 1024, Height: 600, BitsPerPixel: 32}
	mem := make([]byte, g.Width*g.Height*4)
	d, err := New(mem, g, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	frames := [2]*image.NRGBA{image.NewNRGBA(image.Rect(0, 0, 1024, 600)), image.NewNRGBA(image.Rect(0, 0, 1024, 600))}
	for i := range frames[1].Pix {
		frames[1].Pix[i] = byte(i)
	}
	b.Run("full", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			_, _ = d.Draw(frames[i&1])
		}
	})
	b.Run("unchanged", func(b *testing.B) {
		for b.Loop() {
			_, _ = d.Draw(frames[0])
		}
	})
}
