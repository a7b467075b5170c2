package kiosk

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"linli/kiosk/ticketno"
	"linli/mqtt/contract"
)

// errorLog records the messages logged at Error.
type errorLog struct {
	mu   sync.Mutex
	msgs []string
}

func (l *errorLog) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelError }
func (l *errorLog) WithAttrs([]slog.Attr) slog.Handler            { return l }
func (l *errorLog) WithGroup(string) slog.Handler                 { return l }
func (l *errorLog) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	l.mu.Lock()
	l.msgs = append(l.msgs, b.String())
	l.mu.Unlock()
	return nil
}

// take returns the messages logged since the last take.
func (l *errorLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.msgs
	l.msgs = nil
	return m
}

// spoil writes garbage at key of bucket, as a damaged file would hold.
func spoil(t *testing.T, db *bolt.DB, bucket []byte, key string) {
	t.Helper()
	err := db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).Put([]byte(key), []byte("\x00{garbage"))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func storeErrors(t *testing.T, s *Service) uint64 {
	t.Helper()
	h, err := s.Health()
	if err != nil {
		t.Fatal(err)
	}
	return h.StoreErrors
}

// TestUnreadableCache checks that a damaged cached copy is logged at Error
// and counted, not shown silently as "nothing here", and that the records
// that can be read are still returned.
func TestUnreadableCache(t *testing.T) {
	log := &errorLog{}
	f := newFixture(t, Options{Logger: slog.New(log)})
	ctx := context.Background()
	good, err := f.s.FileReport(ctx, Draft{Category: "leak"})
	if err != nil {
		t.Fatal(err)
	}
	f.s.HandleMessage(contract.AreaAlertsTopic("hl", "3"), contract.MustEncode(&contract.AreaAlerts{Community: "hl", Building: "3",
		Alerts: []contract.Alert{{ID: "a1", Device: "mb-1", State: contract.StateAlarm, Raised: t0}}}))
	wish, err := f.s.PostWish(ctx, "修自行车", contract.Location{})
	if err != nil {
		t.Fatal(err)
	}
	spoil(t, f.db, bucketArea, "notices")
	spoil(t, f.db, bucketArea, "directory")
	spoil(t, f.db, bucketArea, "wishes")
	spoil(t, f.db, bucketArea, "alerts/5")
	spoil(t, f.db, bucketReports, "K7-261127-00099")
	spoil(t, f.db, bucketWishes, "kiosk-7-w99")
	log.take()

	cases := []struct {
		name string
		read func() any
		want any
	}{
		{"notices", func() any { return f.s.Notices() }, []contract.Notice(nil)},
		{"directory", func() any { return f.s.Directory() }, []contract.Service(nil)},
		{"alerts", func() any {
			var ids []string
			for _, a := range f.s.Alerts() {
				ids = append(ids, a.ID)
			}
			return ids
		}, []string{"a1"}},
		{"reports", func() any { return f.s.Reports() }, []string{good}},
		{"wishes", func() any {
			var ids []string
			for _, w := range f.s.Wishes() {
				ids = append(ids, w.ID)
			}
			return ids
		}, []string{wish}},
	}
	for _, c := range cases {
		before := f.s.storeErrs.Load()
		got := c.read()
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("%s with a damaged record (-want +got):\n%s", c.name, diff)
		}
		msgs := log.take()
		if len(msgs) == 0 {
			t.Errorf("%s: nothing logged at Error for a damaged record", c.name)
		}
		for _, m := range msgs {
			if !strings.Contains(m, c.name) || !strings.Contains(m, ErrCorrupt.Error()) {
				t.Errorf("%s: logged %q, want the reader and %q", c.name, m, ErrCorrupt)
			}
		}
		if n := f.s.storeErrs.Load() - before; n == 0 || n != uint64(len(msgs)) {
			t.Errorf("%s: StoreErrors grew by %d, want one per message logged (%d)", c.name, n, len(msgs))
		}
	}
	if n := storeErrors(t, f.s); n != f.s.storeErrs.Load() || n < uint64(len(cases)) {
		t.Errorf("Health.StoreErrors = %d, want the count (%d)", n, f.s.storeErrs.Load())
	}
	// Find reads keys only: the damaged report is still found by number.
	if got := f.s.Find(ticketno.Digits("K7-261127-00099")); !cmp.Equal(got, []string{"K7-261127-00099"}) {
		t.Errorf("Find = %v", got)
	}
	// A fresh copy from the hub replaces the damaged one.
	f.s.HandleMessage(contract.AreaTopic("hl", "notices"), contract.MustEncode(&contract.Notices{Community: "hl",
		Notices: []contract.Notice{{ID: "n1", Title: "停水通知"}}}))
	log.take()
	if ns := f.s.Notices(); len(ns) != 1 || len(log.take()) != 0 {
		t.Errorf("Notices after a fresh copy = %+v", ns)
	}
}

// TestReadOnClosedDB checks that a failing database is logged and counted
// by the readers that return lists, which cannot return the error.
func TestReadOnClosedDB(t *testing.T) {
	log := &errorLog{}
	f := newFixture(t, Options{Logger: slog.New(log)})
	if err := f.db.Close(); err != nil {
		t.Fatal(err)
	}
	for _, read := range []func(){
		func() { f.s.Notices() }, func() { f.s.Directory() }, func() { f.s.Alerts() },
		func() { f.s.Find("1") }, func() { f.s.Reports() }, func() { f.s.Wishes() },
	} {
		read()
	}
	if got, want := f.s.storeErrs.Load(), uint64(6); got != want {
		t.Errorf("StoreErrors = %d, want %d", got, want)
	}
	if msgs := log.take(); len(msgs) != 6 {
		t.Errorf("logged %d errors, want 6: %q", len(msgs), msgs)
	}
}

// TestRateUnreadableRating checks that a stored rating that cannot be read
// is not taken for "not rated": the resolution could be rated twice.
func TestRateUnreadableRating(t *testing.T) {
	log := &errorLog{}
	f := newFixture(t, Options{Logger: slog.New(log)})
	ctx := context.Background()
	n, err := f.s.FileReport(ctx, Draft{Category: "leak"})
	if err != nil {
		t.Fatal(err)
	}
	f.s.HandleMessage(contract.TicketTopic(n), status(n, StatusResolved, "submitted", "accepted", "resolved"))
	if err := f.s.Rate(ctx, n, contract.RatingSatisfied, ""); err != nil {
		t.Fatal(err)
	}
	spoil(t, f.db, bucketRatings, n)
	queued := len(f.outbox(t))
	log.take()

	err = f.s.Rate(ctx, n, contract.RatingUnsatisfied, "")
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("rating with an unreadable stored rating: err = %v, want %v", err, ErrCorrupt)
	}
	if got := len(f.outbox(t)); got != queued {
		t.Errorf("outbox grew from %d to %d: a second rating was sent", queued, got)
	}
	if len(log.take()) == 0 || storeErrors(t, f.s) == 0 {
		t.Error("unreadable rating not logged or not counted")
	}
	// Track still shows the ticket, without the rating it cannot read.
	if st, ok := f.s.Track(n); !ok || st.Status != StatusResolved || st.Rating != "" {
		t.Errorf("Track = %+v, %v", st, ok)
	}
	// An unreadable ticket status is refused the same way.
	spoil(t, f.db, bucketTickets, n)
	if err := f.s.Rate(ctx, n, contract.RatingSatisfied, ""); !errors.Is(err, ErrCorrupt) {
		t.Errorf("rating an unreadable ticket status: err = %v, want %v", err, ErrCorrupt)
	}
}
