package framebuffer

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/draw"
)

// Errors returned by Open, OpenFile and New.
var (
	// ErrGeometry means the geometry is unusable: a size of zero, a depth
	// other than 16, 24 or 32 bits, a stride shorter than a row, or a
	// buffer too small for the visible area.
	ErrGeometry = errors.New("framebuffer: unusable geometry")
	// ErrRotation means Opts.Rotate is not 0, 90, 180 or 270.
	ErrRotation = errors.New("framebuffer: rotation must be 0, 90, 180 or 270")
	// ErrUnsupported means the platform has no framebuffer (not Linux).
	ErrUnsupported = errors.New("framebuffer: not supported on this platform")
	// ErrClosed is returned by Draw after Close.
	ErrClosed = errors.New("framebuffer: closed")
)

// Bitfield places one colour channel inside a pixel, as struct
// fb_bitfield does: Offset bits from the least significant bit, Length bits
// wide.
type Bitfield struct {
	Offset, Length uint32
}

// Geometry describes the memory layout of a framebuffer's visible area.
type Geometry struct {
	// Width and Height are the visible size in pixels, as mounted (before
	// rotation).
	Width, Height int
	// BitsPerPixel is 16, 24 or 32.
	BitsPerPixel int
	// Stride is the length of one row in bytes (line_length). Zero means
	// Width*BitsPerPixel/8.
	Stride int
	// Offset is the byte offset of the visible area's first pixel in the
	// buffer (yoffset*Stride + xoffset*BitsPerPixel/8 for a panned
	// framebuffer). Zero for most devices.
	Offset int
	// Red, Green and Blue place the channels in a pixel. All zero means
	// the usual layout for the depth: RGB565 for 16 bits, XRGB8888 (bytes
	// B, G, R, X in memory) for 24 and 32 bits.
	Red, Green, Blue Bitfield
	// Transp is the alpha channel, if the device has one; its bits are
	// written as all ones (opaque). Zero length means none.
	Transp Bitfield
}

// withDefaults fills zero fields and checks the result.
func (g Geometry) withDefaults() (Geometry, error) {
	if g.Width <= 0 || g.Height <= 0 {
		return g, fmt.Errorf("%w: size %dx%d", ErrGeometry, g.Width, g.Height)
	}
	switch g.BitsPerPixel {
	case 16, 24, 32:
	default:
		return g, fmt.Errorf("%w: %d bits per pixel", ErrGeometry, g.BitsPerPixel)
	}
	row := g.Width * g.BitsPerPixel / 8
	if g.Stride == 0 {
		g.Stride = row
	}
	if g.Stride < row {
		return g, fmt.Errorf("%w: stride %d < row %d", ErrGeometry, g.Stride, row)
	}
	if g.Offset < 0 {
		return g, fmt.Errorf("%w: offset %d", ErrGeometry, g.Offset)
	}
	if g.Red.Length == 0 && g.Green.Length == 0 && g.Blue.Length == 0 {
		if g.BitsPerPixel == 16 {
			g.Red, g.Green, g.Blue = Bitfield{11, 5}, Bitfield{5, 6}, Bitfield{0, 5}
		} else {
			g.Red, g.Green, g.Blue = Bitfield{16, 8}, Bitfield{8, 8}, Bitfield{0, 8}
		}
	}
	for _, f := range []Bitfield{g.Red, g.Green, g.Blue, g.Transp} {
		if f.Length > 8 || f.Offset+f.Length > uint32(g.BitsPerPixel) {
			return g, fmt.Errorf("%w: channel %+v in %d bits", ErrGeometry, f, g.BitsPerPixel)
		}
	}
	return g, nil
}

// Size returns the number of bytes the visible area spans from the start
// of the buffer, Offset included.
func (g Geometry) Size() int {
	return g.Offset + g.Stride*(g.Height-1) + g.Width*g.BitsPerPixel/8
}

// Opts configures a Device. The nil *Opts means DefaultOpts.
type Opts struct {
	// Rotate turns the picture clockwise by 0, 90, 180 or 270 degrees, for
	// panels mounted in portrait. With 90 or 270 the Device's Size is the
	// panel's height by its width.
	Rotate int
	// Console, if set, is a virtual terminal (e.g. "/dev/tty1") that Open
	// switches to graphics mode (KDSETMODE KD_GRAPHICS) so that the text
	// console and its cursor do not draw over the picture; Close switches
	// it back. Linux only; OpenFile ignores it.
	Console string
}

// DefaultOpts is the configuration used for a nil *Opts.
var DefaultOpts = Opts{}

// Device is a framebuffer, real or file-backed. Its methods must not be
// called concurrently.
type Device struct {
	geom   Geometry
	rotate int
	mem    []byte
	closer func() error

	lw, lh int    // logical size (after rotation)
	shadow []byte // previous frame, lw*4 bytes a row, as given to Draw
	valid  bool   // shadow holds what the framebuffer shows
	scrap  *image.NRGBA

	bpp    int    // bytes per pixel
	fast   bool   // 32 bpp, B G R X bytes: write bytes directly
	rs, rl uint32 // red shift right (8-length), offset
	gs, gl uint32
	bs, bl uint32
	xbits  uint32 // transparency bits, all ones
}

// New returns a Device that draws into mem, laid out as g. It is what Open
// and OpenFile use once they have mapped the memory; tests and callers with
// their own buffer may use it directly. Close calls closer if it is not
// nil.
func New(mem []byte, g Geometry, opts *Opts, closer func() error) (*Device, error) {
	if opts == nil {
		opts = &DefaultOpts
	}
	g, err := g.withDefaults()
	if err != nil {
		return nil, err
	}
	if len(mem) < g.Size() {
		return nil, fmt.Errorf("%w: buffer of %d bytes, need %d", ErrGeometry, len(mem), g.Size())
	}
	d := &Device{geom: g, rotate: opts.Rotate, mem: mem, closer: closer, bpp: g.BitsPerPixel / 8}
	switch opts.Rotate {
	case 0, 180:
		d.lw, d.lh = g.Width, g.Height
	case 90, 270:
		d.lw, d.lh = g.Height, g.Width
	default:
		return nil, fmt.Errorf("%w: got %d", ErrRotation, opts.Rotate)
	}
	d.shadow = make([]byte, d.lw*4*d.lh)
	d.rs, d.rl = 8-g.Red.Length, g.Red.Offset
	d.gs, d.gl = 8-g.Green.Length, g.Green.Offset
	d.bs, d.bl = 8-g.Blue.Length, g.Blue.Offset
	d.xbits = (1<<g.Transp.Length - 1) << g.Transp.Offset
	d.fast = d.bpp == 4 && g.Red == (Bitfield{16, 8}) && g.Green == (Bitfield{8, 8}) && g.Blue == (Bitfield{0, 8})
	return d, nil
}

// Geometry returns the layout of the framebuffer memory, defaults filled.
func (d *Device) Geometry() Geometry { return d.geom }

// Size returns the size in pixels of the images Draw expects: the panel's
// size, with width and height swapped when rotated by 90 or 270 degrees.
func (d *Device) Size() image.Point { return image.Pt(d.lw, d.lh) }

// Invalidate makes the next Draw write every row, e.g. after another
// program (a console switch) drew on the framebuffer.
func (d *Device) Invalidate() { d.valid = false }

// Close unmaps the memory (and restores the console's text mode). The
// Device must not be used afterwards; Close is safe to call twice.
func (d *Device) Close() error {
	if d.mem == nil {
		return nil
	}
	d.mem = nil
	if d.closer != nil {
		return d.closer()
	}
	return nil
}

// Draw shows img, whose top-left corner lands on the screen's top-left
// corner; pixels of img outside Size are ignored and screen rows img does
// not cover are left alone. Only the rows that differ from the previous
// Draw are converted and written (all of them on the first call and after
// Invalidate). It returns the number of rows (of img, in its orientation)
// written.
//
// Semi-transparent pixels of an *image.NRGBA are shown over black.
// Images other than *image.NRGBA and *image.RGBA are converted first,
// which costs an extra copy.
func (d *Device) Draw(img image.Image) (int, error) {
	if d.mem == nil {
		return 0, ErrClosed
	}
	var pix []byte
	var stride int
	premul := true
	b := img.Bounds()
	switch m := img.(type) {
	case *image.NRGBA:
		pix, stride, premul = m.Pix, m.Stride, false
	case *image.RGBA:
		pix, stride = m.Pix, m.Stride
	default:
		if d.scrap == nil || d.scrap.Bounds() != b {
			d.scrap = image.NewNRGBA(b)
		}
		draw.Draw(d.scrap, b, img, b.Min, draw.Src)
		pix, stride, premul = d.scrap.Pix, d.scrap.Stride, false
	}
	w, h := min(b.Dx(), d.lw), min(b.Dy(), d.lh)
	if w <= 0 || h <= 0 {
		return 0, nil
	}
	n := 0
	for y := range h {
		src := pix[y*stride : y*stride+w*4]
		sh := d.shadow[y*d.lw*4 : y*d.lw*4+w*4]
		if d.valid && bytes.Equal(src, sh) {
			continue
		}
		copy(sh, src)
		d.writeRow(y, src, premul)
		n++
	}
	// Rows and columns outside img keep whatever they had; the shadow
	// still describes the covered part correctly only if img covered it
	// all, so a partial image leaves the shadow invalid for the rest.
	d.valid = w == d.lw && h == d.lh
	return n, nil
}

// writeRow converts logical row y (w pixels of 8-bit R, G, B, A) into the
// framebuffer, walking the destination according to the rotation.
func (d *Device) writeRow(y int, src []byte, premul bool) {
	g := d.geom
	var i, step int
	switch d.rotate {
	case 0: // (x, y) → (x, y)
		i, step = g.Offset+y*g.Stride, d.bpp
	case 90: // (x, y) → (W-1-y, x)
		i, step = g.Offset+(g.Width-1-y)*d.bpp, g.Stride
	case 180: // (x, y) → (W-1-x, H-1-y)
		i, step = g.Offset+(g.Height-1-y)*g.Stride+(g.Width-1)*d.bpp, -d.bpp
	case 270: // (x, y) → (y, H-1-x)
		i, step = g.Offset+(g.Height-1)*g.Stride+y*d.bpp, -g.Stride
	}
	mem := d.mem
	for p := 0; p+3 < len(src); p += 4 {
		r, gr, bl, a := src[p], src[p+1], src[p+2], src[p+3]
		if !premul && a != 0xff {
			r = uint8(uint16(r) * uint16(a) / 0xff)
			gr = uint8(uint16(gr) * uint16(a) / 0xff)
			bl = uint8(uint16(bl) * uint16(a) / 0xff)
		}
		if d.fast {
			// One 32-bit store; the compiler merges it.
			binary.LittleEndian.PutUint32(mem[i:i+4], uint32(bl)|uint32(gr)<<8|uint32(r)<<16|0xff000000)
		} else {
			v := uint32(r)>>d.rs<<d.rl | uint32(gr)>>d.gs<<d.gl | uint32(bl)>>d.bs<<d.bl | d.xbits
			switch d.bpp {
			case 2:
				binary.LittleEndian.PutUint16(mem[i:i+2], uint16(v))
			case 3:
				mem[i], mem[i+1], mem[i+2] = byte(v), byte(v>>8), byte(v>>16)
			case 4:
				binary.LittleEndian.PutUint32(mem[i:i+4], v)
			}
		}
		i += step
	}
}
