package display

import (
	"image"
	"log/slog"
	"math"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/embedded"

	"linli/devices/evdev"
)

// Sink shows frames: a framebuffer, PNG files, or a test's recorder.
type Sink interface {
	// Size is the size of the picture in pixels (after any rotation).
	Size() image.Point
	// Draw shows img. It is called on Fyne's UI goroutine, one frame at a
	// time, with a new image each time.
	Draw(img image.Image) error
	// Close releases the device.
	Close() error
}

// Options configures a Driver. The nil *Options means the defaults.
type Options struct {
	// Logger receives draw errors, scoped with component=display. Nil
	// discards them.
	Logger *slog.Logger `yaml:"-"`
	// AfterDrag is how long the driver keeps rendering after a drag ends,
	// so that kinetic scrolling, which Fyne runs through fyne.Do, is seen.
	// Zero means 1 s; negative disables.
	AfterDrag time.Duration
	// FrameInterval is the time between those renders. Zero means 33 ms
	// (30 frames a second).
	FrameInterval time.Duration
	// LateRefresh is the delay after a lift at which the driver renders
	// once more, to show taps that Fyne delivers late (widgets that also
	// take double taps get their tap 500 ms after the lift). Zero means
	// 600 ms; negative disables.
	LateRefresh time.Duration
}

func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	if r.AfterDrag == 0 {
		r.AfterDrag = time.Second
	}
	if r.FrameInterval <= 0 {
		r.FrameInterval = 33 * time.Millisecond
	}
	if r.LateRefresh == 0 {
		r.LateRefresh = 600 * time.Millisecond
	}
	return r
}

// Driver is a fyne.io/fyne/v2/driver/embedded.Driver over a Sink and a
// stream of touches. Hand it to app.SetDriverDetails.
type Driver struct {
	sink    Sink
	input   <-chan evdev.Touch
	opts    Options
	log     *slog.Logger
	queue   chan embedded.Event
	refresh chan struct{}
	quit    chan struct{}
	quitOne sync.Once

	mu      sync.Mutex
	last    image.Image
	frames  uint64
	next    chan struct{} // closed at the next frame
	drawErr string        // last draw error logged, to log each new one once
	errs    uint64
}

var _ embedded.Driver = (*Driver)(nil)

// noopID is the touch id of the events Refresh injects when no finger is
// down: Fyne's handler finds no movement for it and only renders.
const noopID = -1

// tapMoveThreshold is Fyne's distance (in pixels) under which a touch is
// a tap rather than a drag (internal/driver/embedded/touchscreen.go).
const tapMoveThreshold = 4

// New returns a Driver that draws on sink and reads touches from input
// (nil means no touch screen). Nothing runs until Fyne calls Run.
func New(sink Sink, input <-chan evdev.Touch, opts *Options) *Driver {
	o := opts.withDefaults()
	return &Driver{
		sink: sink, input: input, opts: o,
		log:     o.Logger.With("component", "display"),
		queue:   make(chan embedded.Event),
		refresh: make(chan struct{}, 1),
		quit:    make(chan struct{}),
		next:    make(chan struct{}),
	}
}

// Render implements embedded.Driver: Fyne calls it on its UI goroutine
// with each new frame.
func (d *Driver) Render(img image.Image) {
	err := d.sink.Draw(img)
	d.mu.Lock()
	d.last = img
	d.frames++
	close(d.next)
	d.next = make(chan struct{})
	logIt := false
	if err != nil {
		d.errs++
		logIt = err.Error() != d.drawErr
		d.drawErr = err.Error()
	} else {
		d.drawErr = ""
	}
	d.mu.Unlock()
	if logIt {
		d.log.Error("draw frame", "err", err)
	}
}

// ScreenSize implements embedded.Driver: the sink's size (Fyne's scale is
// 1 under the embedded driver, so one unit is one pixel).
func (d *Driver) ScreenSize() fyne.Size {
	s := d.sink.Size()
	return fyne.NewSize(float32(s.X), float32(s.Y))
}

// Queue implements embedded.Driver: the channel Fyne reads input events
// from. Others may send key and character events on it (an on-screen
// keypad); touches come from the input channel given to New.
func (d *Driver) Queue() chan embedded.Event { return d.queue }

// Run implements embedded.Driver: it runs Fyne's main loop on the calling
// goroutine, with the goroutine that feeds it touches and refreshes, and
// returns when the loop ends (after Quit).
func (d *Driver) Run(mainLoop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { d.pump(done) })
	defer wg.Wait()
	defer close(done)
	mainLoop()
}

// Refresh asks for a render of the current canvas, for changes made with
// fyne.Do that no input event accompanies. It never blocks, and calls made
// while a render is pending are merged into it. Safe from any goroutine.
func (d *Driver) Refresh() {
	select {
	case d.refresh <- struct{}{}:
	default:
	}
}

// Quit ends Fyne's main loop (and so app.Run) after the events already
// queued. Unlike fyne.App.Quit it is safe from any goroutine. Calls after
// the first do nothing.
func (d *Driver) Quit() {
	d.quitOne.Do(func() { close(d.quit) })
}

// LastFrame returns the last frame drawn, or nil before the first. The
// image must not be modified. Safe from any goroutine, e.g. to serve a
// remote screenshot.
func (d *Driver) LastFrame() image.Image {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.last
}

// Frames returns the number of frames drawn so far and a channel that is
// closed when the next one has been drawn.
func (d *Driver) Frames() (n uint64, next <-chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.frames, d.next
}

// DrawErrors returns the number of frames the sink failed to draw.
func (d *Driver) DrawErrors() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.errs
}

// contact is a finger the pump has seen go down.
type contact struct {
	pos, start fyne.Position
	dragged    bool // moved far enough for Fyne to treat it as a drag
}

// pump is the only goroutine that sends on d.queue for touches and
// refreshes. It keeps the events Fyne has not taken yet, merging moves, so
// it never blocks on a slow render.
func (d *Driver) pump(done <-chan struct{}) {
	var (
		pending  []embedded.Event
		contacts = map[int]*contact{}
		input    = d.input
		quit     = d.quit
		// renders after a drag and after a lift
		frameTick  <-chan time.Time
		ticker     *time.Ticker
		tickUntil  time.Time
		late       *time.Timer
		lateC      <-chan time.Time
		wantRender bool
	)
	defer func() {
		if ticker != nil {
			ticker.Stop()
		}
		if late != nil {
			late.Stop()
		}
	}()
	for {
		if wantRender && len(pending) == 0 {
			pending = append(pending, d.noop(contacts))
		}
		wantRender = false
		var send chan embedded.Event
		var next embedded.Event
		if len(pending) > 0 {
			send, next = d.queue, pending[0]
		}
		select {
		case <-done:
			return
		case send <- next:
			pending[0] = nil
			pending = pending[1:]
		case <-d.refresh:
			wantRender = true
		case now := <-frameTick:
			wantRender = true
			if now.After(tickUntil) {
				ticker.Stop()
				frameTick = nil
			}
		case <-lateC:
			wantRender = true
			lateC = nil
		case <-quit:
			quit = nil
			input = nil
			pending = append(pending, nil) // Fyne's loop quits on a nil event
		case t, ok := <-input:
			if !ok {
				d.log.Warn("touch input closed")
				input = nil
				continue
			}
			pos := fyne.NewPos(t.X, t.Y)
			switch t.Kind {
			case evdev.Down:
				contacts[t.ID] = &contact{pos: pos, start: pos}
				pending = append(pending, &embedded.TouchDownEvent{Position: pos, ID: t.ID})
			case evdev.Move:
				c := contacts[t.ID]
				if c == nil {
					continue // a move without a down: the kernel dropped events
				}
				c.pos = pos
				if math.Abs(float64(pos.X-c.start.X)) >= tapMoveThreshold || math.Abs(float64(pos.Y-c.start.Y)) >= tapMoveThreshold {
					c.dragged = true
				}
				if n := len(pending); n > 0 {
					if m, ok := pending[n-1].(*embedded.TouchMoveEvent); ok && m.ID == t.ID {
						m.Position = pos // merge with the move Fyne has not taken yet
						continue
					}
				}
				pending = append(pending, &embedded.TouchMoveEvent{Position: pos, ID: t.ID})
			case evdev.Up:
				c := contacts[t.ID]
				delete(contacts, t.ID)
				pending = append(pending, &embedded.TouchUpEvent{Position: pos, ID: t.ID})
				if c != nil && c.dragged && d.opts.AfterDrag > 0 {
					tickUntil = time.Now().Add(d.opts.AfterDrag)
					if frameTick == nil {
						ticker = time.NewTicker(d.opts.FrameInterval)
						frameTick = ticker.C
					}
				}
				if d.opts.LateRefresh > 0 {
					if late == nil {
						late = time.NewTimer(d.opts.LateRefresh)
					} else {
						late.Reset(d.opts.LateRefresh)
					}
					lateC = late.C
				}
			}
		}
	}
}

// noop returns an event that makes Fyne render and do nothing else: a
// move of a finger that is down to where it already is (Fyne ignores moves
// under its drag threshold, and a drag continues with a zero delta), or,
// with no finger down, a move of a finger that does not exist.
func (d *Driver) noop(contacts map[int]*contact) embedded.Event {
	var ev *embedded.TouchMoveEvent
	for id, c := range contacts {
		if ev == nil || c.dragged { // the dragging finger, if any
			ev = &embedded.TouchMoveEvent{Position: c.pos, ID: id}
		}
	}
	if ev != nil {
		return ev
	}
	return &embedded.TouchMoveEvent{Position: fyne.NewPos(0, 0), ID: noopID}
}
