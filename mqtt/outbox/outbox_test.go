package outbox_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"linli/mqtt/outbox"
)

// quiet discards logs unless -v.
func quiet(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.Default()
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// store is a bbolt file in a temp dir; reopen closes and opens it again,
// which is what a restart of the device does.
type store struct {
	t    testing.TB
	path string
	opts *outbox.Options
	db   *bolt.DB
	ob   *outbox.Outbox
}

func newStore(t testing.TB, opts *outbox.Options) *store {
	t.Helper()
	if opts == nil {
		opts = &outbox.Options{}
	}
	if opts.Logger == nil {
		opts.Logger = quiet(t)
	}
	s := &store{t: t, path: filepath.Join(t.TempDir(), "dev.db"), opts: opts}
	s.open()
	t.Cleanup(func() {
		if s.db == nil {
			return
		}
		// The file must be consistent whatever the test did.
		if err := s.db.View(func(tx *bolt.Tx) error {
			for err := range tx.Check() {
				return err
			}
			return nil
		}); err != nil {
			t.Errorf("bbolt check: %v", err)
		}
		if err := s.db.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func (s *store) open() {
	s.t.Helper()
	db, err := bolt.Open(s.path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		s.t.Fatal(err)
	}
	ob, err := outbox.Open(db, s.opts)
	if err != nil {
		s.t.Fatal(err)
	}
	s.db, s.ob = db, ob
}

func (s *store) reopen(opts *outbox.Options) {
	s.t.Helper()
	if err := s.db.Close(); err != nil {
		s.t.Fatal(err)
	}
	if opts != nil {
		if opts.Logger == nil {
			opts.Logger = s.opts.Logger
		}
		s.opts = opts
	}
	s.open()
}

func item(class outbox.Class, i int) outbox.Item {
	kind := "event"
	if class == outbox.Telemetry {
		kind = "telemetry"
	}
	return outbox.Item{Class: class, Topic: "linli/v1/dev/mb-1/" + kind, Payload: []byte(fmt.Sprintf("%s-%d", kind, i)), QoS: 1}
}

func (s *store) put(its ...outbox.Item) []uint64 {
	s.t.Helper()
	var seqs []uint64
	for _, it := range its {
		seq, err := s.ob.Put(it)
		if err != nil {
			s.t.Fatalf("Put(%s %q): %v", it.Class, it.Payload, err)
		}
		seqs = append(seqs, seq)
	}
	return seqs
}

// putTx puts all its in one transaction.
func (s *store) putTx(its ...outbox.Item) {
	s.t.Helper()
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, it := range its {
			if _, err := s.ob.PutTx(tx, it); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.t.Fatalf("PutTx: %v", err)
	}
	s.ob.Notify()
}

func (s *store) stats() outbox.Stats {
	s.t.Helper()
	st, err := s.ob.Stats()
	if err != nil {
		s.t.Fatal(err)
	}
	return st
}

func (s *store) peek(max int) []outbox.Item {
	s.t.Helper()
	its, err := s.ob.Peek(max)
	if err != nil {
		s.t.Fatalf("Peek(%d): %v", max, err)
	}
	return its
}

// payloads renders items as their payloads, for short diffs.
func payloads(its []outbox.Item) []string {
	out := make([]string, len(its))
	for i, it := range its {
		out[i] = string(it.Payload)
	}
	return out
}

func seqRange(prefix string, from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("%s-%d", prefix, i))
	}
	return out
}

func TestPeekOrder(t *testing.T) {
	s := newStore(t, nil)
	s.put(item(outbox.Telemetry, 1), item(outbox.Event, 1), item(outbox.Telemetry, 2))
	s.putTx(item(outbox.Event, 2), item(outbox.Telemetry, 3), item(outbox.Event, 3))
	want := []string{"event-1", "event-2", "event-3", "telemetry-1", "telemetry-2", "telemetry-3"}
	if diff := cmp.Diff(want, payloads(s.peek(0))); diff != "" {
		t.Errorf("Peek(0) (-want +got):\n%s", diff)
	}
	for _, max := range []int{1, 3, 4, 6, 100, -1} {
		n := max
		if n <= 0 || n > len(want) {
			n = len(want)
		}
		if diff := cmp.Diff(want[:n], payloads(s.peek(max))); diff != "" {
			t.Errorf("Peek(%d) (-want +got):\n%s", max, diff)
		}
	}
	// Fields survive the trip through bbolt.
	its := s.peek(1)
	want0 := outbox.Item{Class: outbox.Event, Seq: 1, Topic: "linli/v1/dev/mb-1/event", Payload: []byte("event-1"), QoS: 1}
	if diff := cmp.Diff(want0, its[0]); diff != "" {
		t.Errorf("first item (-want +got):\n%s", diff)
	}
	// Peek does not remove; a restart keeps everything and the order.
	s.reopen(nil)
	if diff := cmp.Diff(want, payloads(s.peek(0))); diff != "" {
		t.Errorf("after reopen (-want +got):\n%s", diff)
	}
	if got := s.stats(); got.Events != 3 || got.Telemetry != 3 || got.Depth() != 6 {
		t.Errorf("Stats = %+v, want 3 events, 3 telemetry", got)
	}
}

func TestSeqAssigned(t *testing.T) {
	s := newStore(t, nil)
	if got := s.put(item(outbox.Event, 1), item(outbox.Event, 2), item(outbox.Telemetry, 1)); !cmp.Equal(got, []uint64{1, 2, 1}) {
		t.Errorf("Put seqs = %v, want [1 2 1] (per class)", got)
	}
	s.reopen(nil)
	// Sequences never go back, even after deleting everything.
	if err := s.ob.Delete(s.peek(0)...); err != nil {
		t.Fatal(err)
	}
	if got := s.put(item(outbox.Event, 3)); got[0] != 3 {
		t.Errorf("seq after delete and reopen = %d, want 3", got[0])
	}
}

func TestItemFields(t *testing.T) {
	s := newStore(t, nil)
	tests := []outbox.Item{
		{Class: outbox.Event, Topic: "t/a", Payload: []byte("x"), QoS: 0},
		{Class: outbox.Event, Topic: "t/b", Payload: nil, QoS: 1, Retain: true},
		{Class: outbox.Event, Topic: strings.Repeat("t", 0xffff), Payload: bytes.Repeat([]byte{0, 0xff}, 40000), QoS: 2},
	}
	for i := range tests {
		s.put(tests[i])
		tests[i].Seq = uint64(i + 1)
	}
	if diff := cmp.Diff(tests, s.peek(0)); diff != "" {
		t.Errorf("Peek (-want +got):\n%s", diff)
	}
}

func TestPutRejects(t *testing.T) {
	s := newStore(t, nil)
	for _, it := range []outbox.Item{
		{Class: 2, Topic: "t"},
		{Class: outbox.Event, Topic: ""},
		{Class: outbox.Event, Topic: strings.Repeat("t", 0x10000)},
	} {
		if _, err := s.ob.Put(it); err == nil || !strings.HasPrefix(err.Error(), "outbox: ") {
			t.Errorf("Put(class %d, topic of %d bytes) = %v, want an outbox error", it.Class, len(it.Topic), err)
		}
	}
	if got := s.stats(); got != (outbox.Stats{}) {
		t.Errorf("Stats after refused puts = %+v, want zero", got)
	}
}

func TestDelete(t *testing.T) {
	s := newStore(t, nil)
	s.put(item(outbox.Event, 1), item(outbox.Event, 2), item(outbox.Telemetry, 1), item(outbox.Telemetry, 2))
	its := s.peek(0)
	if err := s.ob.Delete(its[0], its[2]); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"event-2", "telemetry-2"}, payloads(s.peek(0))); diff != "" {
		t.Errorf("after Delete (-want +got):\n%s", diff)
	}
	// Idempotent: a second delete of the same items (a resend acknowledged
	// twice) changes nothing, counts included.
	if err := s.ob.Delete(its[0], its[2], its[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.ob.Delete(); err != nil {
		t.Fatal(err)
	}
	if err := s.ob.Delete(outbox.Item{Class: 7, Seq: 1}, outbox.Item{Class: outbox.Event, Seq: 99}); err != nil {
		t.Fatal(err)
	}
	if got, want := s.stats(), (outbox.Stats{Events: 1, Telemetry: 1}); got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
	if err := s.ob.Delete(its...); err != nil {
		t.Fatal(err)
	}
	if got := s.stats(); got != (outbox.Stats{}) {
		t.Errorf("Stats after deleting all = %+v, want zero", got)
	}
	if got := s.peek(0); len(got) != 0 {
		t.Errorf("Peek after deleting all = %v", payloads(got))
	}
}

func TestTelemetryBound(t *testing.T) {
	s := newStore(t, &outbox.Options{MaxTelemetry: 5})
	for i := 1; i <= 8; i++ {
		s.put(item(outbox.Telemetry, i))
		if i == 4 {
			s.put(item(outbox.Event, 1))
		}
	}
	want := append([]string{"event-1"}, seqRange("telemetry", 4, 8)...)
	if diff := cmp.Diff(want, payloads(s.peek(0))); diff != "" {
		t.Errorf("Peek (-want +got):\n%s", diff)
	}
	if got, want := s.stats(), (outbox.Stats{Events: 1, Telemetry: 5, Dropped: 3}); got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
	// The counter persists and keeps counting after a restart.
	s.reopen(nil)
	s.put(item(outbox.Telemetry, 9))
	if got, want := s.stats(), (outbox.Stats{Events: 1, Telemetry: 5, Dropped: 4}); got != want {
		t.Errorf("Stats after reopen = %+v, want %+v", got, want)
	}
	if diff := cmp.Diff(seqRange("telemetry", 5, 9), payloads(s.peek(0))[1:]); diff != "" {
		t.Errorf("telemetry after reopen (-want +got):\n%s", diff)
	}
}

// TestEventsNeverDropped: a bound of one telemetry item leaves every event.
func TestEventsNeverDropped(t *testing.T) {
	s := newStore(t, &outbox.Options{MaxTelemetry: 1})
	var its []outbox.Item
	for i := 1; i <= 500; i++ {
		its = append(its, item(outbox.Event, i), item(outbox.Telemetry, i))
	}
	s.putTx(its...)
	want := append(seqRange("event", 1, 500), "telemetry-500")
	if diff := cmp.Diff(want, payloads(s.peek(0))); diff != "" {
		t.Errorf("Peek (-want +got):\n%s", diff)
	}
	if got, want := s.stats(), (outbox.Stats{Events: 500, Telemetry: 1, Dropped: 499}); got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
}

// TestLargeDrop drops many items in one PutTx: the bound lowered across a
// restart, and a transaction putting far more than the bound. What is left
// must be exactly the newest items, with the counts matching the bucket:
// a cursor that skipped keys while deleting would leave every other one.
func TestLargeDrop(t *testing.T) {
	t.Run("bound lowered", func(t *testing.T) {
		s := newStore(t, &outbox.Options{MaxTelemetry: 1000})
		var its []outbox.Item
		for i := 1; i <= 1000; i++ {
			its = append(its, item(outbox.Telemetry, i))
		}
		s.putTx(its...)
		s.reopen(&outbox.Options{MaxTelemetry: 100})
		s.put(item(outbox.Telemetry, 1001))
		if diff := cmp.Diff(seqRange("telemetry", 902, 1001), payloads(s.peek(0))); diff != "" {
			t.Errorf("Peek (-want +got):\n%s", diff)
		}
		if got, want := s.stats(), (outbox.Stats{Telemetry: 100, Dropped: 901}); got != want {
			t.Errorf("Stats = %+v, want %+v", got, want)
		}
	})
	t.Run("one transaction", func(t *testing.T) {
		s := newStore(t, &outbox.Options{MaxTelemetry: 100})
		var its []outbox.Item
		for i := 1; i <= 10_000; i++ {
			its = append(its, item(outbox.Telemetry, i))
		}
		s.putTx(its...)
		if diff := cmp.Diff(seqRange("telemetry", 9901, 10_000), payloads(s.peek(0))); diff != "" {
			t.Errorf("Peek (-want +got):\n%s", diff)
		}
		if got, want := s.stats(), (outbox.Stats{Telemetry: 100, Dropped: 9900}); got != want {
			t.Errorf("Stats = %+v, want %+v", got, want)
		}
	})
}

// TestBoundWithGaps: deletes in the middle (acknowledged items) leave holes
// that the drop must not trip on.
func TestBoundWithGaps(t *testing.T) {
	s := newStore(t, &outbox.Options{MaxTelemetry: 4})
	s.put(item(outbox.Telemetry, 1), item(outbox.Telemetry, 2), item(outbox.Telemetry, 3), item(outbox.Telemetry, 4))
	its := s.peek(0)
	if err := s.ob.Delete(its[1], its[2]); err != nil {
		t.Fatal(err)
	}
	s.put(item(outbox.Telemetry, 5), item(outbox.Telemetry, 6), item(outbox.Telemetry, 7))
	if diff := cmp.Diff(seqRange("telemetry", 4, 7), payloads(s.peek(0))); diff != "" {
		t.Errorf("Peek (-want +got):\n%s", diff)
	}
	if got, want := s.stats(), (outbox.Stats{Telemetry: 4, Dropped: 1}); got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
}

func TestConcurrentPut(t *testing.T) {
	s := newStore(t, nil)
	const writers, each = 4, 50
	var wg sync.WaitGroup
	errc := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				class := outbox.Class(i % 2)
				if _, err := s.ob.Put(outbox.Item{Class: class, Topic: "t", Payload: fmt.Appendf(nil, "%d-%d", w, i)}); err != nil {
					errc <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	its := s.peek(0)
	if len(its) != writers*each {
		t.Fatalf("Peek: %d items, want %d", len(its), writers*each)
	}
	// Each writer's items keep their order within the class; seqs are
	// unique and increasing; events come first.
	last := map[string]int{}
	var prev [2]uint64
	class := outbox.Event
	for _, it := range its {
		if it.Class < class {
			t.Fatalf("event %d after telemetry", it.Seq)
		}
		class = it.Class
		if it.Seq <= prev[it.Class] {
			t.Errorf("%s seq %d after %d", it.Class, it.Seq, prev[it.Class])
		}
		prev[it.Class] = it.Seq
		var w, i int
		if _, err := fmt.Sscanf(string(it.Payload), "%d-%d", &w, &i); err != nil {
			t.Fatal(err)
		}
		key := fmt.Sprintf("%d/%s", w, it.Class)
		if p, ok := last[key]; ok && i <= p {
			t.Errorf("writer %d: %s %d after %d", w, it.Class, i, p)
		}
		last[key] = i
	}
	if got := s.stats(); got.Events != writers*each/2 || got.Telemetry != writers*each/2 {
		t.Errorf("Stats = %+v", got)
	}
}

func TestReady(t *testing.T) {
	s := newStore(t, nil)
	r := s.ob.Ready()
	select {
	case <-r:
		t.Fatal("Ready closed before any Put")
	default:
	}
	s.put(item(outbox.Event, 1))
	select {
	case <-r:
	default:
		t.Fatal("Ready not closed by Put")
	}
	// A fresh channel for the next wake-up.
	r2 := s.ob.Ready()
	select {
	case <-r2:
		t.Fatal("the next Ready is closed already")
	default:
	}
	// PutTx does not notify: the caller does, after the commit.
	err := s.db.Update(func(tx *bolt.Tx) error {
		_, err := s.ob.PutTx(tx, item(outbox.Event, 2))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-r2:
		t.Fatal("PutTx notified before the caller did")
	default:
	}
	s.ob.Notify()
	select {
	case <-r2:
	default:
		t.Fatal("Ready not closed by Notify")
	}
	// A waiter in another goroutine wakes up.
	r3 := s.ob.Ready()
	woke := make(chan struct{})
	go func() { <-r3; close(woke) }()
	s.ob.Notify()
	<-woke
}

func TestPeekAfter(t *testing.T) {
	s := newStore(t, nil)
	for i := 1; i <= 5; i++ {
		s.put(item(outbox.Event, i), item(outbox.Telemetry, i))
	}
	var cur outbox.Cursor
	var got []string
	for {
		its, err := s.ob.PeekAfter(cur, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(its) == 0 {
			break
		}
		for _, it := range its {
			cur.Advance(it)
		}
		got = append(got, payloads(its)...)
		// An event put in the middle of the telemetry comes next.
		if len(got) == 6 {
			s.put(item(outbox.Event, 6))
		}
	}
	want := append(seqRange("event", 1, 5), "telemetry-1", "event-6")
	want = append(want, seqRange("telemetry", 2, 5)...)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reading with a cursor (-want +got):\n%s", diff)
	}
	if want := (outbox.Cursor{Event: 6, Telemetry: 5}); cur != want {
		t.Errorf("cursor = %+v, want %+v", cur, want)
	}
	// Deleting some and starting over (a reconnect) reads from the oldest
	// item not deleted.
	its := s.peek(0)
	if err := s.ob.Delete(its[:3]...); err != nil {
		t.Fatal(err)
	}
	again, err := s.ob.PeekAfter(outbox.Cursor{}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"event-4", "event-5"}, payloads(again)); diff != "" {
		t.Errorf("from the zero cursor (-want +got):\n%s", diff)
	}
	// A cursor past deleted items still finds the rest.
	rest, err := s.ob.PeekAfter(outbox.Cursor{Event: 2, Telemetry: 3}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"event-4", "event-5", "event-6", "telemetry-4", "telemetry-5"}, payloads(rest)); diff != "" {
		t.Errorf("after {2 3} (-want +got):\n%s", diff)
	}
	// A cursor at the end of the sequence space finds nothing more.
	none, err := s.ob.PeekAfter(outbox.Cursor{Event: ^uint64(0), Telemetry: ^uint64(0)}, 0)
	if err != nil || len(none) != 0 {
		t.Errorf("PeekAfter(max) = %v, %v; want nothing", payloads(none), err)
	}
	// Advance never moves back.
	c := outbox.Cursor{Event: 9}
	c.Advance(outbox.Item{Class: outbox.Event, Seq: 3})
	c.Advance(outbox.Item{Class: 5, Seq: 3})
	if want := (outbox.Cursor{Event: 9}); c != want {
		t.Errorf("Advance: %+v, want %+v", c, want)
	}
}

// TestPayloadsIndependent: items from one Peek share memory; appending to
// one payload must not change the next.
func TestPayloadsIndependent(t *testing.T) {
	s := newStore(t, nil)
	s.put(item(outbox.Event, 1), item(outbox.Event, 2))
	its := s.peek(0)
	_ = append(its[0].Payload, "XXXX"...)
	its[0].Payload[0] = 'E'
	if got := string(its[1].Payload); got != "event-2" {
		t.Errorf("second payload = %q after writing to the first", got)
	}
	if got := string(s.peek(1)[0].Payload); got != "event-1" {
		t.Errorf("stored payload = %q after writing to a peeked one", got)
	}
}

// logBuffer is a slog handler's output, safe for the test to read.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestCorruptSetAside writes garbage into the buckets: Peek must not fail
// on it forever but move it aside, count it, log it, and go on with the
// items behind it.
func TestCorruptSetAside(t *testing.T) {
	var logs logBuffer
	s := newStore(t, &outbox.Options{Prefix: "ob", Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	s.put(item(outbox.Event, 1), item(outbox.Event, 2), item(outbox.Event, 3), item(outbox.Telemetry, 1), item(outbox.Telemetry, 2))
	garbage := map[string][][2][]byte{
		"ob.event": {
			{u64(2), []byte{0}}, // too short
			{[]byte("short-key"), []byte{1, 0, 1, 't', 'x'}}, // key not 8 bytes
			{u64(50), []byte{1, 0xff, 0xff, 't'}},            // topic longer than the value
			{u64(51), []byte{0x80, 0, 1, 't', 'x'}},          // unknown flags
			{u64(52), []byte{1, 0, 0, 'x'}},                  // empty topic
		},
		"ob.telemetry": {{u64(1), nil}},
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		for bucket, kvs := range garbage {
			for _, kv := range kvs {
				if err := tx.Bucket([]byte(bucket)).Put(kv[0], kv[1]); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Event 2 and telemetry 1 were good items, overwritten; four more
	// garbage events were added behind the count's back: six in all.
	want := []string{"event-1", "event-3", "telemetry-2"}
	if diff := cmp.Diff(want, payloads(s.peek(0))); diff != "" {
		t.Errorf("Peek (-want +got):\n%s", diff)
	}
	// The counts are those of what is left, although four of the
	// garbage items were never counted.
	if got, want := s.stats(), (outbox.Stats{Events: 2, Telemetry: 1, Corrupt: 6}); got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
	if got := strings.Count(logs.String(), "level=ERROR"); got != 6 {
		t.Errorf("%d errors logged, want 6:\n%s", got, logs.String())
	}
	if !strings.Contains(logs.String(), outbox.ErrCorrupt.Error()) {
		t.Errorf("log does not name ErrCorrupt:\n%s", logs.String())
	}
	// Set aside, not lost: the bytes are kept for a post-mortem.
	err = s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("ob.corrupt"))
		if b == nil {
			return errors.New("no bucket ob.corrupt")
		}
		if n := b.Stats().KeyN; n != 6 {
			return fmt.Errorf("ob.corrupt holds %d items, want 6", n)
		}
		if v := b.Get(append([]byte{byte(outbox.Event)}, u64(50)...)); !bytes.Equal(v, []byte{1, 0xff, 0xff, 't'}) {
			return fmt.Errorf("event 50 set aside as %q", v)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	// Once aside, they are gone from the queue: no further errors, the
	// good items keep flowing, and the counter survives a restart.
	s.reopen(nil)
	if diff := cmp.Diff(want, payloads(s.peek(0))); diff != "" {
		t.Errorf("Peek after reopen (-want +got):\n%s", diff)
	}
	if got := strings.Count(logs.String(), "level=ERROR"); got != 6 {
		t.Errorf("%d errors logged after the second Peek, want still 6", got)
	}
	if err := s.ob.Delete(s.peek(0)...); err != nil {
		t.Fatal(err)
	}
	if got, want := s.stats(), (outbox.Stats{Corrupt: 6}); got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	for i := range 8 {
		b[7-i] = byte(v >> (8 * i))
	}
	return b
}

// TestPrefixes: two outboxes in one file do not see each other.
func TestPrefixes(t *testing.T) {
	s := newStore(t, nil)
	other, err := outbox.Open(s.db, &outbox.Options{Prefix: "other", Logger: quiet(t)})
	if err != nil {
		t.Fatal(err)
	}
	s.put(item(outbox.Event, 1))
	if _, err := other.Put(item(outbox.Event, 2)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"event-1"}, payloads(s.peek(0))); diff != "" {
		t.Errorf("default outbox (-want +got):\n%s", diff)
	}
	its, err := other.Peek(0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"event-2"}, payloads(its)); diff != "" {
		t.Errorf("other outbox (-want +got):\n%s", diff)
	}
}
