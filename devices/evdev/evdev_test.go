package evdev

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the recordings in testdata/")

// The recordings in testdata/ are what a kernel would write to
// /dev/input/eventN for the scenarios below (struct input_event,
// little-endian; *_64.bin with 24-byte events as on arm64/amd64, *_32.bin
// with 16-byte events as on 32-bit ARM). They are produced by the
// recorder below: `go test ./devices/evdev -run TestRecordings -update`
// rewrites them, and TestRecordings fails if they drift from it. Events
// recorded from a real panel (e.g. `cat /dev/input/event0 > x.bin` while
// touching) can be dropped in beside them.

// recorder writes events with increasing timestamps.
type recorder struct {
	word int
	t    time.Time
	b    []byte
}

func (r *recorder) ev(typ, code uint16, v int32) *recorder {
	r.b = AppendEvent(r.b, r.word, Event{Time: r.t, Type: typ, Code: code, Value: v})
	return r
}

func (r *recorder) abs(code uint16, v int32) *recorder { return r.ev(EvAbs, code, v) }

func (r *recorder) syn() *recorder {
	r.ev(EvSyn, SynReport, 0)
	r.t = r.t.Add(8 * time.Millisecond)
	return r
}

// Panel used by the recordings: 1024×600 pixels, axes 0..4092 and
// 0..2396, so that a raw value of 4·p is exactly pixel p.
var panel = Calibration{XMax: 4 * 1023, YMax: 4 * 599, Width: 1024, Height: 600}

// twoFingers: type B with two contacts, a lift, and a slot reused.
func twoFingers(word int) []byte {
	r := &recorder{word: word, t: time.Unix(1_790_000_000, 0)}
	// finger A lands in slot 0 at (100, 200); the kernel also sends the
	// single-touch emulation, which must be ignored.
	r.abs(AbsMTSlot, 0).abs(AbsMTTrackingID, 45).abs(AbsMTPositionX, 400).abs(AbsMTPositionY, 800).
		ev(EvKey, BtnTouch, 1).abs(AbsX, 400).abs(AbsY, 800).syn()
	// finger B lands in slot 1 at (750, 50)
	r.abs(AbsMTSlot, 1).abs(AbsMTTrackingID, 46).abs(AbsMTPositionX, 3000).abs(AbsMTPositionY, 200).syn()
	// both move
	r.abs(AbsMTSlot, 0).abs(AbsMTPositionX, 440).abs(AbsMTSlot, 1).abs(AbsMTPositionY, 240).syn()
	// A moves twice within one frame: one Move, to the last position
	r.abs(AbsMTSlot, 0).abs(AbsMTPositionX, 480).abs(AbsMTPositionX, 520).syn()
	// A lifts
	r.abs(AbsMTTrackingID, -1).syn()
	// B lifts
	r.abs(AbsMTSlot, 1).abs(AbsMTTrackingID, -1).ev(EvKey, BtnTouch, 0).syn()
	// a new finger reuses slot 0 at (0, 0) and lifts
	r.abs(AbsMTSlot, 0).abs(AbsMTTrackingID, 47).abs(AbsMTPositionX, 0).abs(AbsMTPositionY, 0).syn()
	r.abs(AbsMTTrackingID, -1).syn()
	return r.b
}

var twoFingersWant = []Touch{
	{Down, 0, 100, 200},
	{Down, 1, 750, 50},
	{Move, 0, 110, 200}, {Move, 1, 750, 60},
	{Move, 0, 130, 200},
	{Up, 0, 130, 200},
	{Up, 1, 750, 60},
	{Down, 0, 0, 0},
	{Up, 0, 0, 0},
}

// singleTouch: a resistive panel with BTN_TOUCH and ABS_X/ABS_Y only.
func singleTouch(word int) []byte {
	r := &recorder{word: word, t: time.Unix(1_790_000_000, 0)}
	r.ev(EvKey, BtnTouch, 1).abs(AbsX, 2000).abs(AbsY, 1000).syn()
	r.abs(AbsX, 2004).syn()
	r.syn() // nothing changed: nothing emitted
	r.ev(EvKey, BtnTouch, 0).syn()
	return r.b
}

var singleTouchWant = []Touch{{Down, 0, 500, 250}, {Move, 0, 501, 250}, {Up, 0, 501, 250}}

// corners: one contact at the panel's top-right, then bottom-left corner,
// replayed with a 90° rotation.
func corners(word int) []byte {
	r := &recorder{word: word, t: time.Unix(1_790_000_000, 0)}
	r.abs(AbsMTSlot, 0).abs(AbsMTTrackingID, 1).abs(AbsMTPositionX, 4092).abs(AbsMTPositionY, 0).syn()
	r.abs(AbsMTTrackingID, -1).syn()
	r.abs(AbsMTTrackingID, 2).abs(AbsMTPositionX, 0).abs(AbsMTPositionY, 2396).syn()
	r.abs(AbsMTTrackingID, -1).syn()
	return r.b
}

// With the picture turned 90° clockwise (a 600×1024 portrait screen), the
// panel's top-right corner is the picture's top-left.
var corners90Want = []Touch{{Down, 0, 0, 0}, {Up, 0, 0, 0}, {Down, 0, 599, 1023}, {Up, 0, 599, 1023}}

// dropped: the kernel's buffer overflows while a finger is down.
func dropped(word int) []byte {
	r := &recorder{word: word, t: time.Unix(1_790_000_000, 0)}
	r.abs(AbsMTSlot, 0).abs(AbsMTTrackingID, 9).abs(AbsMTPositionX, 40).abs(AbsMTPositionY, 40).syn()
	r.ev(EvSyn, SynDropped, 0).abs(AbsMTPositionX, 4000).syn() // discarded, lifts the finger
	r.abs(AbsMTTrackingID, 10).abs(AbsMTPositionX, 80).syn()   // a new finger
	// a tracking id replaced within one frame (lift and touch between reports)
	r.abs(AbsMTTrackingID, 11).abs(AbsMTPositionX, 120).syn()
	r.abs(AbsMTTrackingID, -1).syn()
	return r.b
}

var droppedWant = []Touch{
	{Down, 0, 10, 10}, {Up, 0, 10, 10},
	{Down, 0, 20, 10},
	{Up, 0, 30, 10}, {Down, 0, 30, 10},
	{Up, 0, 30, 10},
}

var recordings = []struct {
	file string
	gen  func(word int) []byte
	word int
}{
	{"two_fingers_64.bin", twoFingers, 8},
	{"two_fingers_32.bin", twoFingers, 4},
	{"single_touch_32.bin", singleTouch, 4},
	{"corners_64.bin", corners, 8},
	{"dropped_64.bin", dropped, 8},
}

func TestRecordings(t *testing.T) {
	for _, rec := range recordings {
		path := filepath.Join("testdata", rec.file)
		want := rec.gen(rec.word)
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from its recorder; run with -update", path)
		}
	}
}

// replay feeds a recording through Reader, Tracker and Stream.
func replay(t *testing.T, file string, word int, cal Calibration) []Touch {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := NewReader(f, word)
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan Touch, 100)
	if err := Stream(context.Background(), r, NewTracker(cal, false), out); err != nil {
		t.Fatalf("Stream: %v", err)
	}
	close(out)
	var got []Touch
	for tc := range out {
		got = append(got, tc)
	}
	return got
}

func TestReplay(t *testing.T) {
	rot90 := panel
	rot90.Rotate = 90
	tests := []struct {
		file string
		word int
		cal  Calibration
		want []Touch
	}{
		{"two_fingers_64.bin", 8, panel, twoFingersWant},
		{"two_fingers_32.bin", 4, panel, twoFingersWant},
		{"single_touch_32.bin", 4, panel, singleTouchWant},
		{"corners_64.bin", 8, rot90, corners90Want},
		{"dropped_64.bin", 8, panel, droppedWant},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got := replay(t, tt.file, tt.word, tt.cal)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("touches (-want +got):\n%s", diff)
			}
		})
	}
}

// TestReadEventLayout decodes hand-written bytes, independent of
// AppendEvent: EV_ABS ABS_MT_POSITION_X 0x1234 at 1.5 s.
func TestReadEventLayout(t *testing.T) {
	tests := []struct {
		word int
		hex  string
	}{
		{8, "0100000000000000" + "20a1070000000000" + "0300" + "3500" + "34120000"},
		{4, "01000000" + "20a10700" + "0300" + "3500" + "34120000"},
	}
	want := Event{Time: time.Unix(1, 500_000_000), Type: EvAbs, Code: AbsMTPositionX, Value: 0x1234}
	for _, tt := range tests {
		b, _ := hex.DecodeString(tt.hex)
		r, err := NewReader(bytes.NewReader(b), tt.word)
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.ReadEvent()
		if err != nil {
			t.Fatal(err)
		}
		if !got.Time.Equal(want.Time) || got.Type != want.Type || got.Code != want.Code || got.Value != want.Value {
			t.Errorf("word %d: got %+v, want %+v", tt.word, got, want)
		}
		if _, err := r.ReadEvent(); !errors.Is(err, io.EOF) {
			t.Errorf("word %d: at end: %v, want io.EOF", tt.word, err)
		}
		if enc := AppendEvent(nil, tt.word, want); !bytes.Equal(enc, b) {
			t.Errorf("word %d: AppendEvent = %x, want %x", tt.word, enc, b)
		}
	}
	// A stream cut inside an event is an error, not a clean end.
	b, _ := hex.DecodeString(tests[0].hex)
	r, _ := NewReader(bytes.NewReader(b[:20]), 8)
	if _, err := r.ReadEvent(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated event: %v, want io.ErrUnexpectedEOF", err)
	}
	if _, err := NewReader(nil, 2); !errors.Is(err, ErrWordSize) {
		t.Errorf("word size 2: %v, want ErrWordSize", err)
	}
}

func TestCalibrationMap(t *testing.T) {
	base := Calibration{XMin: 100, XMax: 1100, YMin: 0, YMax: 500, Width: 101, Height: 51}
	tests := []struct {
		name       string
		mod        func(*Calibration)
		rawX, rawY int32
		x, y       float32
	}{
		{"origin", func(*Calibration) {}, 100, 0, 0, 0},
		{"middle", func(*Calibration) {}, 600, 250, 50, 25},
		{"clamped", func(*Calibration) {}, -5000, 9000, 0, 50},
		{"invert x", func(c *Calibration) { c.InvertX = true }, 100, 0, 100, 0},
		{"invert y", func(c *Calibration) { c.InvertY = true }, 100, 0, 0, 50},
		// swapped sensor: raw X runs along the panel's height
		{"swap", func(c *Calibration) {
			c.SwapXY = true
			c.XMin, c.XMax, c.YMin, c.YMax = 0, 500, 100, 1100
		}, 500, 1100, 100, 50},
		{"rotate 180", func(c *Calibration) { c.Rotate = 180 }, 100, 0, 100, 50},
		{"rotate 270, panel bottom-left is picture top-left", func(c *Calibration) { c.Rotate = 270 }, 100, 500, 0, 0},
		{"rotate 90, panel bottom-right", func(c *Calibration) { c.Rotate = 90 }, 1100, 500, 50, 0},
		{"empty range", func(c *Calibration) { c.XMax = c.XMin }, 700, 0, 0, 0},
	}
	for _, tt := range tests {
		c := base
		tt.mod(&c)
		x, y := c.Map(tt.rawX, tt.rawY)
		if x != tt.x || y != tt.y {
			t.Errorf("%s: Map(%d, %d) = (%v, %v), want (%v, %v)", tt.name, tt.rawX, tt.rawY, x, y, tt.x, tt.y)
		}
	}
}

func TestStreamStopsOnContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r, _ := NewReader(bytes.NewReader(twoFingers(8)), 8)
	out := make(chan Touch) // nobody reads: Stream blocks on the first touch
	done := make(chan error)
	go func() { done <- Stream(ctx, r, NewTracker(panel, false), out) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Stream after cancel: %v, want context.Canceled", err)
	}
}

func BenchmarkTracker(b *testing.B) {
	events := twoFingers(8)
	for b.Loop() {
		r, _ := NewReader(bytes.NewReader(events), 8)
		tr := NewTracker(panel, false)
		var out []Touch
		for {
			e, err := r.ReadEvent()
			if err != nil {
				break
			}
			out = tr.Feed(e, out[:0])
		}
	}
}
