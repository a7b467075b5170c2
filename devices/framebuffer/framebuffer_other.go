//go:build !linux

package framebuffer

// Open returns ErrUnsupported: framebuffers are a Linux interface.
func Open(path string, opts *Opts) (*Device, error) { return nil, ErrUnsupported }

// OpenFile returns ErrUnsupported outside Linux; use New with a byte
// slice instead.
func OpenFile(path string, g Geometry, opts *Opts) (*Device, error) { return nil, ErrUnsupported }
