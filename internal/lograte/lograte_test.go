package lograte

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// lines is a goroutine-safe log buffer.
type lines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lines) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lines) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := strings.TrimSpace(b.buf.String())
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func newTest(o *Options) (*Limiter, *lines) {
	var b lines
	return New(slog.New(slog.NewTextHandler(&b, nil)), o), &b
}

func TestFloodIsBounded(t *testing.T) {
	l, out := newTest(&Options{Burst: 3, Period: time.Hour})
	ctx := context.Background()
	const n = 10000
	written := 0
	for range n {
		if l.Log(ctx, slog.LevelWarn, "mb-0002", "malformed", "message dropped", "topic", "x") {
			written++
		}
	}
	// Another source and another reason have their own budget.
	l.Log(ctx, slog.LevelWarn, "mb-0003", "malformed", "message dropped")
	l.Log(ctx, slog.LevelWarn, "mb-0002", "too-large", "message dropped")
	if written != 3 {
		t.Errorf("wrote %d lines of the flood, want 3", written)
	}
	if got, want := l.Suppressed(), uint64(n-3); got != want {
		t.Errorf("Suppressed = %d, want %d", got, want)
	}
	l.Flush()
	got := out.lines()
	if len(got) != 3+2+1 {
		t.Fatalf("got %d lines, want 6:\n%s", len(got), strings.Join(got, "\n"))
	}
	sum := got[len(got)-1]
	for _, want := range []string{"level=WARN", "message dropped … 9997 more like this from mb-0002 in the last 1h0m0s", "suppressed=9997", "reason=malformed"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary %q lacks %q", sum, want)
		}
	}
}

// TestWindowEnds checks that a period's summary is written at its end and
// that the pair then logs again.
func TestWindowEnds(t *testing.T) {
	l, out := newTest(&Options{Burst: 1, Period: 20 * time.Millisecond})
	defer l.Flush()
	ctx := context.Background()
	for range 5 {
		l.Log(ctx, slog.LevelInfo, "k1", "r", "seen")
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(out.lines()) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := out.lines(); len(got) != 2 || !strings.Contains(got[1], "4 more like this from k1") {
		t.Fatalf("lines = %q, want the first and a summary of 4", got)
	}
	// The window is gone once summarised: the next line is written.
	for l.winCount() != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if !l.Log(ctx, slog.LevelInfo, "k1", "r", "seen") {
		t.Error("first line of a new period suppressed")
	}
}

func (l *Limiter) winCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.win)
}

func TestSourcesBounded(t *testing.T) {
	l, out := newTest(&Options{Burst: 1, Period: time.Hour, MaxSources: 4})
	ctx := context.Background()
	for i := range 1000 {
		l.Log(ctx, slog.LevelWarn, fmt.Sprintf("dev-%d", i), "r", "x")
	}
	if got := l.winCount(); got != 5 {
		t.Errorf("%d windows, want 4 + %s", got, Others)
	}
	l.Flush()
	got := out.lines()
	if len(got) != 5+1 || !strings.Contains(got[5], "995 more like this from "+Others) {
		t.Errorf("lines = %q", got)
	}
	// After Flush, a new window.
	if !l.Log(ctx, slog.LevelWarn, "dev-1", "r", "x") || l.Log(ctx, slog.LevelWarn, "dev-1", "r", "x") {
		t.Error("after Flush: want the first line written, the second suppressed")
	}
}

func TestDisabledLevelNotCounted(t *testing.T) {
	var b lines
	l := New(slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelError})), nil)
	defer l.Flush()
	for range 10 {
		l.Log(context.Background(), slog.LevelWarn, "a", "b", "c")
	}
	if l.Suppressed() != 0 || len(b.lines()) != 0 {
		t.Errorf("suppressed %d, lines %q", l.Suppressed(), b.lines())
	}
}
