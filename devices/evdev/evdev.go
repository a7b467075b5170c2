package evdev

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Event types and codes used here, from include/uapi/linux/input-event-codes.h.
const (
	EvSyn = 0x00
	EvKey = 0x01
	EvAbs = 0x03

	SynReport  = 0
	SynDropped = 3

	BtnTouch = 0x14a

	AbsX               = 0x00
	AbsY               = 0x01
	AbsMTSlot          = 0x2f
	AbsMTPositionX     = 0x35
	AbsMTPositionY     = 0x36
	AbsMTTrackingID    = 0x39
	maxSlots           = 64 // more than any touch panel reports
	defaultBufferedEvs = 64
)

// ErrWordSize means a word size other than 4 or 8 bytes was asked for.
var ErrWordSize = errors.New("evdev: word size must be 4 or 8")

// Event is one struct input_event.
type Event struct {
	Time  time.Time // kernel timestamp
	Type  uint16
	Code  uint16
	Value int32
}

// Reader decodes input events from a byte stream: the device node, or a
// recording.
type Reader struct {
	r    *bufio.Reader
	word int
	buf  [24]byte
}

// NewReader returns a Reader of events laid out for a kernel with the given
// word size: 8 on 64-bit kernels (24-byte events), 4 on 32-bit ones
// (16-byte events, also what a 32-bit program sees on a 64-bit kernel). Zero
// means this program's word size. Bytes are little-endian, as on every
// ARM and x86 Linux.
func NewReader(r io.Reader, wordSize int) (*Reader, error) {
	if wordSize == 0 {
		wordSize = strconv.IntSize / 8
	}
	if wordSize != 4 && wordSize != 8 {
		return nil, fmt.Errorf("%w: got %d", ErrWordSize, wordSize)
	}
	return &Reader{r: bufio.NewReaderSize(r, defaultBufferedEvs*(2*wordSize+8)), word: wordSize}, nil
}

// EventSize returns the size in bytes of one event for a word size.
func EventSize(wordSize int) int { return 2*wordSize + 8 }

// ReadEvent blocks until a whole event is read. At the end of the stream
// it returns io.EOF (io.ErrUnexpectedEOF, wrapped, if the stream ends
// inside an event).
func (r *Reader) ReadEvent() (Event, error) {
	b := r.buf[:EventSize(r.word)]
	if _, err := io.ReadFull(r.r, b); err != nil {
		if errors.Is(err, io.EOF) {
			return Event{}, io.EOF
		}
		return Event{}, fmt.Errorf("evdev: read event: %w", err)
	}
	le := binary.LittleEndian
	var sec, usec int64
	if r.word == 8 {
		sec, usec = int64(le.Uint64(b[0:])), int64(le.Uint64(b[8:]))
	} else {
		sec, usec = int64(int32(le.Uint32(b[0:]))), int64(int32(le.Uint32(b[4:])))
	}
	t := 2 * r.word
	return Event{
		Time:  time.Unix(sec, usec*1000),
		Type:  le.Uint16(b[t:]),
		Code:  le.Uint16(b[t+2:]),
		Value: int32(le.Uint32(b[t+4:])),
	}, nil
}

// AppendEvent appends the encoding of e for a word size (4 or 8) to b. It
// is how recordings are made in tests and tools.
func AppendEvent(b []byte, wordSize int, e Event) []byte {
	le := binary.LittleEndian
	sec, usec := e.Time.Unix(), int64(e.Time.Nanosecond()/1000)
	if e.Time.IsZero() {
		sec, usec = 0, 0
	}
	if wordSize == 8 {
		b = le.AppendUint64(b, uint64(sec))
		b = le.AppendUint64(b, uint64(usec))
	} else {
		b = le.AppendUint32(b, uint32(sec))
		b = le.AppendUint32(b, uint32(usec))
	}
	b = le.AppendUint16(b, e.Type)
	b = le.AppendUint16(b, e.Code)
	return le.AppendUint32(b, uint32(e.Value))
}

// Kind says what happened to a contact.
type Kind uint8

// Kinds of Touch.
const (
	Down Kind = iota + 1 // a finger touched the screen
	Move                 // a finger moved while down
	Up                   // a finger was lifted (at its last position)
)

func (k Kind) String() string {
	switch k {
	case Down:
		return "down"
	case Move:
		return "move"
	case Up:
		return "up"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Touch is one change of one contact, in screen pixels of the (rotated)
// picture. ID is the multi-touch slot (0 for single-touch panels): it is
// stable from Down to Up and reused afterwards.
type Touch struct {
	Kind Kind
	ID   int
	X, Y float32
}

func (t Touch) String() string {
	return fmt.Sprintf("%s#%d(%.1f,%.1f)", t.Kind, t.ID, t.X, t.Y)
}

// Calibration maps raw axis values to screen pixels.
type Calibration struct {
	// XMin, XMax, YMin and YMax are the raw range of the axes, as EVIOCGABS
	// reports them (input_absinfo minimum and maximum), before any swap.
	XMin, XMax, YMin, YMax int32
	// Width and Height are the panel's size in pixels as mounted, before
	// rotation: the framebuffer's visible resolution.
	Width, Height int
	// SwapXY exchanges the raw axes, for touch sensors mounted turned
	// against their display; InvertX and InvertY mirror the axes (after the
	// swap). They describe the hardware, not the wanted orientation.
	SwapXY, InvertX, InvertY bool
	// Rotate is the clockwise rotation of the picture in degrees (0, 90,
	// 180 or 270), the same value as framebuffer.Opts.Rotate. With 90 and
	// 270 the screen coordinates run over Height×Width.
	Rotate int
}

// Map converts raw axis values to a position on the rotated screen, in
// pixels from its top-left corner, clamped to the screen.
func (c Calibration) Map(rawX, rawY int32) (x, y float32) {
	xmin, xmax, ymin, ymax := c.XMin, c.XMax, c.YMin, c.YMax
	if c.SwapXY {
		rawX, rawY = rawY, rawX
		xmin, xmax, ymin, ymax = ymin, ymax, xmin, xmax
	}
	u, v := norm(rawX, xmin, xmax), norm(rawY, ymin, ymax)
	if c.InvertX {
		u = 1 - u
	}
	if c.InvertY {
		v = 1 - v
	}
	w, h := c.Width, c.Height
	switch c.Rotate {
	case 90: // picture (x, y) is shown at panel (W-1-y, x)
		u, v, w, h = v, 1-u, h, w
	case 180:
		u, v = 1-u, 1-v
	case 270: // picture (x, y) is shown at panel (y, H-1-x)
		u, v, w, h = 1-v, u, h, w
	}
	return float32(u * float64(max(w-1, 0))), float32(v * float64(max(h-1, 0)))
}

// norm maps v in [lo, hi] to [0, 1], clamped.
func norm(v, lo, hi int32) float64 {
	if hi <= lo {
		return 0
	}
	f := (float64(v) - float64(lo)) / (float64(hi) - float64(lo)) // int32 v-lo overflows for ranges past 2^31
	return min(max(f, 0), 1)
}

// slot is the state of one multi-touch slot.
type slot struct {
	id       int32 // tracking id, -1 when empty
	restart  bool  // a new tracking id replaced another within one frame
	reported bool  // Down was emitted and Up not yet
	x, y     int32 // raw position
	moved    bool  // position changed in this frame
}

// Tracker assembles touches from events. The zero value is not usable;
// call NewTracker. A Tracker is not safe for concurrent use.
type Tracker struct {
	cal      Calibration
	slots    []slot
	cur      int
	mt       bool // the device speaks multi-touch: single-touch events are ignored
	dropping bool

	// single-touch state
	stDown, stReported, stMoved bool
	stX, stY                    int32
}

// NewTracker returns a Tracker that maps positions with c. Devices that
// send any ABS_MT_* event are treated as multi-touch from then on, and
// their single-touch emulation (BTN_TOUCH, ABS_X/Y) is ignored; multiTouch
// says so from the start (as Device does when the axis ranges show it).
func NewTracker(c Calibration, multiTouch bool) *Tracker {
	return &Tracker{cal: c, mt: multiTouch}
}

func (t *Tracker) slot() *slot {
	for len(t.slots) <= t.cur {
		t.slots = append(t.slots, slot{id: -1})
	}
	return &t.slots[t.cur]
}

// Feed processes one event and appends to out the touches that a
// SYN_REPORT completes, in slot order.
func (t *Tracker) Feed(e Event, out []Touch) []Touch {
	if t.dropping {
		if e.Type == EvSyn && e.Code == SynReport {
			t.dropping = false
			out = t.liftAll(out)
		}
		return out
	}
	switch e.Type {
	case EvSyn:
		switch e.Code {
		case SynReport:
			return t.report(out)
		case SynDropped:
			t.dropping = true
		}
	case EvKey:
		if e.Code == BtnTouch {
			t.stDown = e.Value != 0
		}
	case EvAbs:
		switch e.Code {
		case AbsX:
			t.stX, t.stMoved = e.Value, true
		case AbsY:
			t.stY, t.stMoved = e.Value, true
		case AbsMTSlot:
			t.mt = true
			if e.Value >= 0 && e.Value < maxSlots {
				t.cur = int(e.Value)
			}
		case AbsMTTrackingID:
			t.mt = true
			s := t.slot()
			if e.Value >= 0 && s.id >= 0 && s.id != e.Value && s.reported {
				s.restart = true
			}
			s.id = e.Value
		case AbsMTPositionX:
			t.mt = true
			s := t.slot()
			s.x, s.moved = e.Value, true
		case AbsMTPositionY:
			t.mt = true
			s := t.slot()
			s.y, s.moved = e.Value, true
		}
	}
	return out
}

func (t *Tracker) touch(k Kind, id int, rx, ry int32) Touch {
	x, y := t.cal.Map(rx, ry)
	return Touch{Kind: k, ID: id, X: x, Y: y}
}

func (t *Tracker) report(out []Touch) []Touch {
	if !t.mt {
		switch {
		case t.stDown && !t.stReported:
			out = append(out, t.touch(Down, 0, t.stX, t.stY))
			t.stReported = true
		case !t.stDown && t.stReported:
			out = append(out, t.touch(Up, 0, t.stX, t.stY))
			t.stReported = false
		case t.stDown && t.stMoved:
			out = append(out, t.touch(Move, 0, t.stX, t.stY))
		}
		t.stMoved = false
		return out
	}
	if t.stReported { // multi-touch events began while a single-touch contact was down
		out = append(out, t.touch(Up, 0, t.stX, t.stY))
		t.stReported = false
	}
	for i := range t.slots {
		s := &t.slots[i]
		switch {
		case s.restart:
			out = append(out, t.touch(Up, i, s.x, s.y), t.touch(Down, i, s.x, s.y))
			s.reported = true
		case s.id >= 0 && !s.reported:
			out = append(out, t.touch(Down, i, s.x, s.y))
			s.reported = true
		case s.id < 0 && s.reported:
			out = append(out, t.touch(Up, i, s.x, s.y))
			s.reported = false
		case s.reported && s.moved:
			out = append(out, t.touch(Move, i, s.x, s.y))
		}
		s.moved, s.restart = false, false
	}
	return out
}

// liftAll ends every contact after the kernel dropped events.
func (t *Tracker) liftAll(out []Touch) []Touch {
	for i := range t.slots {
		s := &t.slots[i]
		if s.reported {
			out = append(out, t.touch(Up, i, s.x, s.y))
		}
		*s = slot{id: -1, x: s.x, y: s.y}
	}
	if t.stReported {
		out = append(out, t.touch(Up, 0, t.stX, t.stY))
	}
	t.stReported, t.stDown, t.stMoved = false, false, false
	return out
}

// Stream reads events from r, feeds them to t and sends each touch to out,
// until the stream ends (it then returns nil), a read fails, or ctx is
// done (it returns ctx.Err()). A blocked read is not interrupted by ctx:
// Device.Run arranges that with a read deadline.
func Stream(ctx context.Context, r *Reader, t *Tracker, out chan<- Touch) error {
	var touches []Touch
	for {
		e, err := r.ReadEvent()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		touches = t.Feed(e, touches[:0])
		for _, tc := range touches {
			select {
			case out <- tc:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
}
