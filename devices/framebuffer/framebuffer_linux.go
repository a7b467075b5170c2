package framebuffer

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ioctl numbers from include/uapi/linux/fb.h and kd.h.
const (
	fbiogetVscreeninfo = 0x4600
	fbiogetFscreeninfo = 0x4602
	kdSetMode          = 0x4B3A
	kdText             = 0x00
	kdGraphics         = 0x01
)

// fbBitfield is struct fb_bitfield.
type fbBitfield struct {
	Offset, Length, MsbRight uint32
}

// varScreeninfo is struct fb_var_screeninfo (160 bytes on every arch).
type varScreeninfo struct {
	Xres, Yres, XresVirtual, YresVirtual, Xoffset, Yoffset uint32
	BitsPerPixel, Grayscale                                uint32
	Red, Green, Blue, Transp                               fbBitfield
	Nonstd, Activate, Height, Width, AccelFlags, Pixclock  uint32
	LeftMargin, RightMargin, UpperMargin, LowerMargin      uint32
	HsyncLen, VsyncLen, Sync, Vmode, Rotate, Colorspace    uint32
	Reserved                                               [4]uint32
}

// fixScreeninfo is struct fb_fix_screeninfo; unsigned long is uintptr, so
// the layout matches the kernel's on 32- and 64-bit ARM alike.
type fixScreeninfo struct {
	ID                             [16]byte
	SmemStart                      uintptr
	SmemLen, Type, TypeAux, Visual uint32
	Xpanstep, Ypanstep, Ywrapstep  uint16
	LineLength                     uint32
	MmioStart                      uintptr
	MmioLen, Accel                 uint32
	Capabilities                   uint16
	Reserved                       [2]uint16
}

func ioctl(fd uintptr, req uintptr, arg unsafe.Pointer) error {
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, fd, req, uintptr(arg)); e != 0 {
		return e
	}
	return nil
}

// Open opens a framebuffer device such as /dev/fb0, reads its geometry
// and maps its visible area. Close the Device to unmap it. A nil opts
// means DefaultOpts.
func Open(path string, opts *Opts) (*Device, error) {
	if opts == nil {
		opts = &DefaultOpts
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("framebuffer: %w", err)
	}
	defer f.Close() // the mapping outlives the descriptor
	var v varScreeninfo
	var x fixScreeninfo
	if err := ioctl(f.Fd(), fbiogetVscreeninfo, unsafe.Pointer(&v)); err != nil {
		return nil, fmt.Errorf("framebuffer: %s: FBIOGET_VSCREENINFO: %w", path, err)
	}
	if err := ioctl(f.Fd(), fbiogetFscreeninfo, unsafe.Pointer(&x)); err != nil {
		return nil, fmt.Errorf("framebuffer: %s: FBIOGET_FSCREENINFO: %w", path, err)
	}
	g := Geometry{
		Width: int(v.Xres), Height: int(v.Yres), BitsPerPixel: int(v.BitsPerPixel),
		Stride: int(x.LineLength),
		Offset: int(v.Yoffset)*int(x.LineLength) + int(v.Xoffset)*int(v.BitsPerPixel)/8,
		Red:    Bitfield{v.Red.Offset, v.Red.Length}, Green: Bitfield{v.Green.Offset, v.Green.Length},
		Blue: Bitfield{v.Blue.Offset, v.Blue.Length}, Transp: Bitfield{v.Transp.Offset, v.Transp.Length},
	}
	length := int(x.SmemLen)
	if gd, err := g.withDefaults(); err == nil && length < gd.Size() {
		return nil, fmt.Errorf("%w: %s: smem_len %d < %d", ErrGeometry, path, length, gd.Size())
	}
	return mapDevice(f, length, g, opts)
}

// OpenFile opens (creating it if needed) a regular file laid out as g and
// maps it, so that Draw writes into the file as it would into a
// framebuffer. The file is grown to g's size if it is shorter. Tests and
// headless runs use it; opts.Console is ignored.
func OpenFile(path string, g Geometry, opts *Opts) (*Device, error) {
	if opts == nil {
		opts = &DefaultOpts
	}
	gd, err := g.withDefaults()
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("framebuffer: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("framebuffer: %w", err)
	}
	if st.Size() < int64(gd.Size()) {
		if err := f.Truncate(int64(gd.Size())); err != nil {
			return nil, fmt.Errorf("framebuffer: grow %s: %w", path, err)
		}
	}
	o := *opts
	o.Console = ""
	return mapDevice(f, gd.Size(), g, &o)
}

func mapDevice(f *os.File, length int, g Geometry, opts *Opts) (*Device, error) {
	mem, err := unix.Mmap(int(f.Fd()), 0, length, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("framebuffer: mmap %s: %w", f.Name(), err)
	}
	restore := func() error { return nil }
	if opts.Console != "" {
		if restore, err = graphicsMode(opts.Console); err != nil {
			_ = unix.Munmap(mem)
			return nil, err
		}
	}
	d, err := New(mem, g, opts, func() error {
		return errors.Join(restore(), unix.Munmap(mem))
	})
	if err != nil {
		_ = restore()
		_ = unix.Munmap(mem)
		return nil, err
	}
	return d, nil
}

// graphicsMode switches the console tty to KD_GRAPHICS and returns the
// function that switches it back.
func graphicsMode(tty string) (func() error, error) {
	t, err := os.OpenFile(tty, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("framebuffer: console: %w", err)
	}
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, t.Fd(), kdSetMode, kdGraphics); e != 0 {
		t.Close()
		return nil, fmt.Errorf("framebuffer: console %s: KDSETMODE: %w", tty, e)
	}
	return func() error {
		defer t.Close()
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, t.Fd(), kdSetMode, kdText); e != 0 {
			return fmt.Errorf("framebuffer: console %s: KDSETMODE text: %w", tty, e)
		}
		return nil
	}, nil
}
