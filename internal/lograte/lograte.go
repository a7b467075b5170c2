package lograte

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Options configures a Limiter. The zero value of a field means its default.
type Options struct {
	// Burst is how many lines of one (source, reason) pair are written in
	// each period before they are only counted. Default 5.
	Burst int
	// Period is the length of a window; the summary of a window is written
	// at its end. Default one minute.
	Period time.Duration
	// MaxSources bounds the pairs tracked at once (see the package doc).
	// Default 1024.
	MaxSources int
}

// DefaultOptions holds the defaults applied to zero fields.
var DefaultOptions = Options{Burst: 5, Period: time.Minute, MaxSources: 1024}

func (o *Options) ensureDefaults() {
	d := DefaultOptions
	if o.Burst <= 0 {
		o.Burst = d.Burst
	}
	if o.Period <= 0 {
		o.Period = d.Period
	}
	if o.MaxSources <= 0 {
		o.MaxSources = d.MaxSources
	}
}

// Others is the source of the pairs past Options.MaxSources.
const Others = "(others)"

type key struct{ source, reason string }

// window is one pair's current period.
type window struct {
	logged     int
	suppressed uint64
	level      slog.Level
	msg        string
	timer      *time.Timer // the summary, once a line was suppressed
}

// Limiter writes rate-limited lines to a slog.Logger. Its methods are safe
// for concurrent use. Flush writes the pending summaries; call it when the
// owner stops, or they are written at the end of their period.
type Limiter struct {
	log  *slog.Logger
	opts Options

	mu         sync.Mutex
	win        map[key]*window
	suppressed uint64
	wg         sync.WaitGroup // summary timers running their function
}

// New returns a Limiter writing to log; nil opts means DefaultOptions.
func New(log *slog.Logger, opts *Options) *Limiter {
	var o Options
	if opts != nil {
		o = *opts
	}
	o.ensureDefaults()
	return &Limiter{log: log, opts: o, win: map[key]*window{}}
}

// Log writes msg with args at level, unless the pair (source, reason) has
// already written Options.Burst lines in this period: then it counts the
// line for the period's summary. It reports whether it wrote the line.
// The line carries "source" and "reason" attributes besides args.
func (l *Limiter) Log(ctx context.Context, level slog.Level, source, reason, msg string, args ...any) bool {
	if !l.log.Enabled(ctx, level) {
		return false
	}
	l.mu.Lock()
	k := key{source, reason}
	w := l.win[k]
	if w == nil {
		if len(l.win) >= l.opts.MaxSources {
			k.source = Others
			w = l.win[k]
		}
		if w == nil {
			w = &window{level: level, msg: msg}
			l.win[k] = w
			// The window ends after one period whether or not a line is
			// suppressed, so that a quiet pair starts afresh.
			l.wg.Add(1)
			w.timer = time.AfterFunc(l.opts.Period, func() { defer l.wg.Done(); l.flush(k, w) })
		}
	}
	if w.logged < l.opts.Burst {
		w.logged++
		l.mu.Unlock()
		l.log.Log(ctx, level, msg, append(args, "source", source, "reason", reason)...)
		return true
	}
	w.suppressed++
	l.suppressed++
	l.mu.Unlock()
	return false
}

// flush ends the window w of k and writes its summary.
func (l *Limiter) flush(k key, w *window) {
	l.mu.Lock()
	if l.win[k] != w {
		l.mu.Unlock()
		return
	}
	delete(l.win, k)
	n := w.suppressed
	l.mu.Unlock()
	l.summary(k, w, n)
}

func (l *Limiter) summary(k key, w *window, n uint64) {
	if n == 0 {
		return
	}
	l.log.Log(context.Background(), w.level,
		fmt.Sprintf("%s … %d more like this from %s in the last %v", w.msg, n, k.source, l.opts.Period),
		"source", k.source, "reason", k.reason, "suppressed", n)
}

// Suppressed returns how many lines were counted instead of written since
// New.
func (l *Limiter) Suppressed() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.suppressed
}

// Flush ends every open window: it stops their timers and writes their
// summaries, and waits for a summary a timer is writing. Log then starts
// new windows.
func (l *Limiter) Flush() {
	l.mu.Lock()
	type pending struct {
		k key
		w *window
		n uint64
	}
	var ps []pending
	for k, w := range l.win {
		if w.timer != nil && w.timer.Stop() {
			l.wg.Done() // its function will not run
		}
		ps = append(ps, pending{k, w, w.suppressed})
		delete(l.win, k)
	}
	l.mu.Unlock()
	for _, p := range ps {
		l.summary(p.k, p.w, p.n)
	}
	l.wg.Wait()
}
