package display

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"linli/devices/framebuffer"
)

// ErrSpec means a --display value OpenSink does not understand.
var ErrSpec = errors.New("display: unknown display (want fb, fb:DEVICE or png:PATH)")

// SinkOptions configures OpenSink. The nil *SinkOptions means defaults.
type SinkOptions struct {
	// Rotate turns the picture on a framebuffer clockwise by 0, 90, 180 or
	// 270 degrees (framebuffer.Opts.Rotate). PNG sinks ignore it.
	Rotate int
	// Console is the virtual terminal put in graphics mode while the
	// framebuffer is open, e.g. "/dev/tty1"; empty leaves it alone.
	Console string
	// Size is the size of PNG frames. Zero means 1024×600.
	Size image.Point
	// Numbered makes a PNG sink also keep every frame as frame-N.png in
	// the directory of its path.
	Numbered bool
}

// OpenSink opens the sink a --display value names: "fb" (/dev/fb0),
// "fb:/dev/fbN", or "png:PATH".
func OpenSink(spec string, opts *SinkOptions) (Sink, error) {
	var o SinkOptions
	if opts != nil {
		o = *opts
	}
	kind, arg, _ := strings.Cut(spec, ":")
	switch kind {
	case "fb":
		if arg == "" {
			arg = "/dev/fb0"
		}
		dev, err := framebuffer.Open(arg, &framebuffer.Opts{Rotate: o.Rotate, Console: o.Console})
		if err != nil {
			return nil, fmt.Errorf("display: %w", err)
		}
		return NewFramebuffer(dev), nil
	case "png":
		if arg == "" {
			return nil, fmt.Errorf("%w: png needs a path", ErrSpec)
		}
		return NewPNG(arg, o.Size, o.Numbered)
	}
	return nil, fmt.Errorf("%w: %q", ErrSpec, spec)
}

// Framebuffer is a Sink over a framebuffer device, real or file-backed.
type Framebuffer struct {
	dev  *framebuffer.Device
	mu   sync.Mutex
	rows uint64
}

// NewFramebuffer returns a Sink that draws on dev; Close closes dev.
func NewFramebuffer(dev *framebuffer.Device) *Framebuffer { return &Framebuffer{dev: dev} }

// Device returns the framebuffer, e.g. for its Geometry: the panel size
// that evdev.Opts needs for the touch calibration.
func (f *Framebuffer) Device() *framebuffer.Device { return f.dev }

// Size implements Sink.
func (f *Framebuffer) Size() image.Point { return f.dev.Size() }

// Draw implements Sink: only the rows that changed are written.
func (f *Framebuffer) Draw(img image.Image) error {
	n, err := f.dev.Draw(img)
	f.mu.Lock()
	f.rows += uint64(n)
	f.mu.Unlock()
	if err != nil {
		return fmt.Errorf("display: %w", err)
	}
	return nil
}

// RowsWritten returns how many rows Draw has written since the start.
func (f *Framebuffer) RowsWritten() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rows
}

// Invalidate makes the next frame rewrite the whole screen (after a
// console switch or anything else that drew on the framebuffer).
func (f *Framebuffer) Invalidate() { f.dev.Invalidate() }

// Close implements Sink.
func (f *Framebuffer) Close() error { return f.dev.Close() }

// PNG is a headless Sink: each new frame is written to a PNG file.
type PNG struct {
	path     string
	size     image.Point
	numbered bool
	enc      png.Encoder
	buf      bytes.Buffer
	prev     []byte // pixels of the last frame written
	n        int
}

// NewPNG returns a Sink that writes each frame of the given size (zero
// means 1024×600) to path, atomically (a temporary file renamed over it,
// so a reader never sees half a frame). A frame identical to the previous
// one is not written again. With numbered, every frame is also kept as
// frame-000001.png, … in path's directory. Frames are previews, not
// state: they are not fsynced.
func NewPNG(path string, size image.Point, numbered bool) (*PNG, error) {
	if size == (image.Point{}) {
		size = image.Pt(1024, 600)
	}
	if size.X <= 0 || size.Y <= 0 {
		return nil, fmt.Errorf("display: png size %v", size)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("display: %w", err)
	}
	return &PNG{path: path, size: size, numbered: numbered, enc: png.Encoder{CompressionLevel: png.BestSpeed}}, nil
}

// Size implements Sink.
func (p *PNG) Size() image.Point { return p.size }

// Draw implements Sink.
func (p *PNG) Draw(img image.Image) error {
	if pix := pixels(img); pix != nil {
		if bytes.Equal(pix, p.prev) {
			return nil
		}
		p.prev = append(p.prev[:0], pix...)
	}
	p.buf.Reset()
	if err := p.enc.Encode(&p.buf, img); err != nil {
		return fmt.Errorf("display: png: %w", err)
	}
	p.n++
	if err := writeAtomic(p.path, p.buf.Bytes()); err != nil {
		return err
	}
	if p.numbered {
		name := filepath.Join(filepath.Dir(p.path), fmt.Sprintf("frame-%06d.png", p.n))
		if err := writeAtomic(name, p.buf.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

// Close implements Sink; there is nothing to release.
func (p *PNG) Close() error { return nil }

func pixels(img image.Image) []byte {
	switch m := img.(type) {
	case *image.NRGBA:
		return m.Pix
	case *image.RGBA:
		return m.Pix
	}
	return nil
}

func writeAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("display: %w", err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("display: write %s: %w", path, err)
	}
	return nil
}
