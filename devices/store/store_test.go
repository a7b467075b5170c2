package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"linli/mqtt/contract"
	"linli/mqtt/outbox"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// openDB opens a store at path and checks the file's consistency when the
// test ends.
func openDB(t testing.TB, path string, o *Options) *DB {
	t.Helper()
	opts := Options{Device: "mb-1", Logger: quiet()}
	if o != nil {
		opts = *o
		if opts.Device == "" {
			opts.Device = "mb-1"
		}
		opts.Logger = quiet()
	}
	d, err := Open(path, &opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		check(t, d)
		d.Close()
	})
	return d
}

func check(t testing.TB, d *DB) {
	t.Helper()
	err := d.db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	})
	if err != nil && !errors.Is(err, berrors.ErrDatabaseNotOpen) {
		t.Errorf("consistency: %v", err)
	}
}

func ev(ch string, from, to contract.State) contract.Event {
	return contract.Event{Device: "mb-1", Channel: ch, Kind: "residual", From: from, To: to, Cause: "threshold", Value: 350, Unit: "mA", SetPoint: 300,
		Time: contract.Stamp{At: time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC), Synced: true}}
}

func TestCommitAssignsGaplessSeqAndQueues(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	d := openDB(t, path, nil)
	first := d.Boot()
	got, err := d.Commit([]contract.Event{ev("r", contract.StateNormal, contract.StatePreAlarm), ev("r", contract.StatePreAlarm, contract.StateAlarm)})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Seq != 1 || got[1].Seq != 2 || got[0].ID == "" || got[0].ID == got[1].ID {
		t.Fatalf("seq/id: %d %q, %d %q", got[0].Seq, got[0].ID, got[1].Seq, got[1].ID)
	}
	items, err := d.Outbox().Peek(0)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[0].Topic != "linli/v1/dev/mb-1/event" || items[0].QoS != 1 || items[0].Class != outbox.Event {
		t.Fatalf("outbox %+v", items)
	}
	m, err := contract.Decode(items[1].Topic, items[1].Payload)
	if err != nil {
		t.Fatal(err)
	}
	if e := m.(*contract.Event); e.ID != got[1].ID || e.Seq != 2 {
		t.Errorf("outbox payload %+v, want the committed event", e)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopen: the log and the sequence continue.
	d = openDB(t, path, nil)
	more, err := d.Commit([]contract.Event{ev("t", contract.StateNormal, contract.StateFault)})
	if err != nil {
		t.Fatal(err)
	}
	if more[0].Seq != 3 {
		t.Errorf("seq after reopen %d, want 3", more[0].Seq)
	}
	all, err := d.Events(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 || all[0].ID != got[0].ID || all[2].ID != more[0].ID {
		t.Fatalf("events after reopen: %+v", all)
	}
	if tail, _ := d.Events(2, 10); len(tail) != 1 || tail[0].Seq != 3 {
		t.Errorf("Events(2): %+v", tail)
	}
	if d.Boot() != first+1 {
		t.Errorf("boot %d after reopen, want %d", d.Boot(), first+1)
	}
}

// A kill -9 leaves the file as the last fsync left it: a copy of the file
// taken while the DB is open and in use is what a restart finds.
func TestKillSafety(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.db")
	d := openDB(t, path, nil)
	var ids []string
	for i := 0; i < 20; i++ {
		got, err := d.Commit([]contract.Event{ev(fmt.Sprint("c", i%3), contract.StateNormal, contract.StateAlarm)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, got[0].ID)
		if err := d.AddReadings([]Reading{{Channel: "c0", Value: float64(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	crash := filepath.Join(dir, "crash.db")
	if err := os.WriteFile(crash, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	c := openDB(t, crash, nil)
	if a, _ := c.Recovered(); a != "" {
		t.Fatalf("crash copy seen as corrupt")
	}
	all, err := c.Events(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(ids) {
		t.Fatalf("%d events after crash, want %d", len(all), len(ids))
	}
	for i, e := range all {
		if e.ID != ids[i] || e.Seq != uint64(i+1) {
			t.Errorf("event %d: %s seq %d, want %s seq %d", i, e.ID, e.Seq, ids[i], i+1)
		}
	}
	if s, _ := c.Outbox().Stats(); s.Events != 20 {
		t.Errorf("outbox events %d, want 20", s.Events)
	}
}

func TestCorruptFileMovedAside(t *testing.T) {
	tests := []struct {
		name    string
		corrupt func(t *testing.T, path string)
	}{
		{"garbage", func(t *testing.T, path string) {
			if err := os.WriteFile(path, bytes.Repeat([]byte("not a database "), 2000), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"meta pages smashed", func(t *testing.T, path string) {
			d := openDB(t, path, nil)
			d.Commit([]contract.Event{ev("r", contract.StateNormal, contract.StateAlarm)})
			d.Close()
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt(bytes.Repeat([]byte{0xa5}, 8192), 0); err != nil {
				t.Fatal(err)
			}
		}},
		{"data pages smashed", func(t *testing.T, path string) {
			d := openDB(t, path, nil)
			for i := 0; i < 50; i++ {
				d.Commit([]contract.Event{ev("r", contract.StateNormal, contract.StateAlarm)})
			}
			d.Close()
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			st, _ := f.Stat()
			junk := bytes.Repeat([]byte{0xff, 0x13, 0x77, 0x01}, int(st.Size()-8192)/4)
			if _, err := f.WriteAt(junk, 8192); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "s.db")
			tt.corrupt(t, path)
			before, _ := os.ReadFile(path)
			d := openDB(t, path, &Options{Now: func() time.Time { return time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC) }})
			aside, cause := d.Recovered()
			if want := path + ".corrupt-20261127T080000.000Z"; aside != want || cause == nil {
				t.Fatalf("recovered %q (%v), want %q", aside, cause, want)
			}
			kept, err := os.ReadFile(aside)
			if err != nil || !bytes.Equal(kept, before) {
				t.Fatalf("corrupt file not kept as it was: %v", err)
			}
			// The fresh database works.
			got, err := d.Commit([]contract.Event{ev("storage", contract.StateNormal, contract.StateFault)})
			if err != nil || got[0].Seq != 1 {
				t.Fatalf("commit on fresh db: %v %+v", err, got)
			}
		})
	}
}

func TestLockedIsNotCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	openDB(t, path, nil)
	_, err := Open(path, &Options{Device: "mb-1", Timeout: 50 * time.Millisecond, Logger: quiet()})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
	if _, err := Open(path, &Options{ReadOnly: true, Timeout: 50 * time.Millisecond}); !errors.Is(err, ErrLocked) {
		t.Errorf("read-only open while a writer runs: %v, want ErrLocked", err)
	}
	if m, _ := filepath.Glob(path + ".corrupt-*"); len(m) != 0 {
		t.Fatalf("a locked file was moved aside: %v", m)
	}
}

func TestLatchedSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	d := openDB(t, path, nil)
	d.Commit([]contract.Event{ev("r", contract.StateNormal, contract.StateAlarm), ev("t", contract.StateNormal, contract.StateFault)})
	// An annotation (sensor fault while latched) keeps the latch.
	d.Commit([]contract.Event{ev("r", contract.StateAlarm, contract.StateAlarm)})
	d.Close()
	ro, err := Open(path, &Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if evs, err := ro.Events(0, 0); err != nil || len(evs) != 3 {
		t.Fatalf("read-only events: %d, %v", len(evs), err)
	}
	ro.Close()
	d = openDB(t, path, nil)
	chs, err := d.Channels()
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(chs)
	if !strings.Contains(got, "{r residual alarm 3 350}") || !strings.Contains(got, "{t residual fault 2 350}") {
		t.Fatalf("channels %s", got)
	}
	d.Commit([]contract.Event{ev("r", contract.StateAlarm, contract.StateNormal)})
	chs, _ = d.Channels()
	if chs[0].State != contract.StateNormal {
		t.Errorf("after reset: %+v", chs[0])
	}
}

func TestReadingBounds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	now := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	opts := &Options{MaxReadings: 100, MaxReadingAge: time.Hour, Now: func() time.Time { return now }}
	d := openDB(t, path, opts)
	for i := 0; i < 25; i++ {
		var rs []Reading
		for j := 0; j < 10; j++ {
			rs = append(rs, Reading{Channel: "t", Value: float64(i*10 + j)})
		}
		if err := d.AddReadings(rs); err != nil {
			t.Fatal(err)
		}
	}
	kept, dropped, _ := d.ReadingStats()
	if kept != 100 || dropped != 150 {
		t.Fatalf("kept %d dropped %d, want 100 150", kept, dropped)
	}
	rs, _ := d.Readings(0)
	if len(rs) != 100 || rs[0].Value != 150 || rs[99].Value != 249 {
		t.Fatalf("kept %d readings, %g..%g, want the newest 150..249", len(rs), rs[0].Value, rs[len(rs)-1].Value)
	}
	if last, _ := d.Readings(2); len(last) != 2 || last[1].Value != 249 {
		t.Errorf("Readings(2) = %+v", last)
	}
	d.Close()
	// Age: an hour later, one more reading pushes all the old ones out.
	now = now.Add(61 * time.Minute)
	d = openDB(t, path, opts)
	d.AddReadings([]Reading{{Channel: "t", Value: 1, Err: "tmp117: no answer"}})
	kept, dropped, _ = d.ReadingStats()
	if kept != 1 || dropped != 250 {
		t.Fatalf("after ageing: kept %d dropped %d, want 1 250 (the count survives reopen)", kept, dropped)
	}
	rs, _ = d.Readings(0)
	if rs[0].Err != "tmp117: no answer" || !rs[0].At.Equal(now) {
		t.Errorf("reading %+v", rs[0])
	}
}

func TestTelemetrySeqAndConfigPersist(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	d := openDB(t, path, nil)
	tm := &contract.Telemetry{Readings: []contract.Reading{{Channel: "t", Value: 30}}}
	if err := d.PutTelemetry(tm); err != nil || tm.Seq != 1 {
		t.Fatalf("telemetry: %v seq %d", err, tm.Seq)
	}
	d.PutConfig("thresholds", []byte(`{"t":[60,80]}`))
	d.Close()
	d = openDB(t, path, nil)
	tm = &contract.Telemetry{}
	if err := d.PutTelemetry(tm); err != nil || tm.Seq != 2 {
		t.Fatalf("telemetry after reopen: %v seq %d", err, tm.Seq)
	}
	if v, _ := d.Config("thresholds"); string(v) != `{"t":[60,80]}` {
		t.Errorf("config %q", v)
	}
	if v, _ := d.Config("nothing"); v != nil {
		t.Errorf("missing config %q", v)
	}
	items, _ := d.Outbox().Peek(0)
	if len(items) != 2 || items[0].Class != outbox.Telemetry || items[0].Topic != "linli/v1/dev/mb-1/telemetry" {
		t.Errorf("outbox %+v", items)
	}
}

func TestBatchDelayApplied(t *testing.T) {
	dir := t.TempDir()
	d := openDB(t, filepath.Join(dir, "default.db"), nil)
	if got, want := d.Bolt().MaxBatchDelay, time.Millisecond; got != want {
		t.Errorf("default MaxBatchDelay = %v, want %v", got, want)
	}
	d = openDB(t, filepath.Join(dir, "custom.db"), &Options{BatchDelay: 5 * time.Millisecond})
	if got, want := d.Bolt().MaxBatchDelay, 5*time.Millisecond; got != want {
		t.Errorf("MaxBatchDelay = %v, want %v", got, want)
	}
}

func TestConcurrentCommitsGapless(t *testing.T) {
	d := openDB(t, filepath.Join(t.TempDir(), "s.db"), nil)
	const writers, each = 4, 10
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Go(func() {
			for i := 0; i < each; i++ {
				if _, err := d.Commit([]contract.Event{ev(fmt.Sprint("c", w), contract.StateNormal, contract.StateAlarm)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	all, err := d.Events(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != writers*each {
		t.Fatalf("%d events, want %d", len(all), writers*each)
	}
	ids := map[string]bool{}
	for i, e := range all {
		if e.Seq != uint64(i+1) || ids[e.ID] {
			t.Fatalf("event %d: seq %d id %s, want seq %d and a new id", i, e.Seq, e.ID, i+1)
		}
		ids[e.ID] = true
	}
}

func TestReadErrorsNameThePackage(t *testing.T) {
	d := openDB(t, filepath.Join(t.TempDir(), "s.db"), nil)
	d.Close()
	_, cerr := d.Config("thresholds")
	_, _, serr := d.ReadingStats()
	_, rerr := d.Readings(0)
	_, eerr := d.Events(0, 0)
	for name, err := range map[string]error{"Config": cerr, "ReadingStats": serr, "Readings": rerr, "Events": eerr} {
		if err == nil || !strings.HasPrefix(err.Error(), "store: ") || !errors.Is(err, berrors.ErrDatabaseNotOpen) {
			t.Errorf("%s on a closed store: %v, want a store: error wrapping ErrDatabaseNotOpen", name, err)
		}
	}
}

func TestMissingDirIsNotCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "s.db")
	_, err := Open(path, &Options{Device: "mb-1", Logger: quiet()})
	if err == nil || errors.Is(err, ErrCorrupt) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open in a missing directory: %v, want a not-exist error, not ErrCorrupt", err)
	}
}

func TestFileFault(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{errors.New("invalid database"), true},
		{fmt.Errorf("panic reading the file: %v", "page 7 out of range"), true},
		{&fs.PathError{Op: "open", Path: "/data/s.db", Err: syscall.ENOENT}, false},
		{&fs.PathError{Op: "open", Path: "/data/s.db", Err: syscall.EACCES}, false},
		{fmt.Errorf("commit: %w", &fs.PathError{Op: "write", Path: "/data/s.db", Err: syscall.ENOSPC}), false},
		{&fs.PathError{Op: "open", Path: "/data/s.db", Err: syscall.EROFS}, false},
	}
	for _, tt := range tests {
		if got := fileFault(tt.err); got != tt.want {
			t.Errorf("fileFault(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// TestBootCountStartsAtTheClock: a new file counts boots from the clock's
// seconds, so a device whose file was lost numbers its events' sessions
// above the old file's (the hub tells them from stale copies); with the
// clock not set it counts from 1.
func TestBootCountStartsAtTheClock(t *testing.T) {
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		now  time.Time
		want uint32
	}{
		{at, uint32(at.Unix()) + 1},
		{time.Unix(0, 0), 1}, // a board whose clock is not set yet
	} {
		path := filepath.Join(t.TempDir(), "s.db")
		d := openDB(t, path, &Options{Now: func() time.Time { return c.now }})
		if d.Boot() != c.want {
			t.Errorf("new file at %v: boot %d, want %d", c.now, d.Boot(), c.want)
		}
		d.Close()
		d = openDB(t, path, &Options{Now: func() time.Time { return c.now.Add(time.Hour) }})
		if d.Boot() != c.want+1 {
			t.Errorf("reopened: boot %d, want %d (the count goes on, not the clock)", d.Boot(), c.want+1)
		}
		d.Close()
	}
}

// TestResend: the events after a seq go into the outbox again, as they
// were committed (same payload, so the same id), oldest first; after the
// last one, nothing.
func TestResend(t *testing.T) {
	d := openDB(t, filepath.Join(t.TempDir(), "s.db"), nil)
	got, err := d.Commit([]contract.Event{ev("r", contract.StateNormal, contract.StatePreAlarm),
		ev("r", contract.StatePreAlarm, contract.StateAlarm), ev("t", contract.StateNormal, contract.StateFault)})
	if err != nil {
		t.Fatal(err)
	}
	sent, err := d.Outbox().Peek(0)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Outbox().Delete(sent...); err != nil { // the broker took them
		t.Fatal(err)
	}
	n, err := d.Resend(1)
	if err != nil || n != 2 {
		t.Fatalf("Resend(1) = %d, %v; want 2", n, err)
	}
	items, err := d.Outbox().Peek(0)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || !bytes.Equal(items[0].Payload, sent[1].Payload) || !bytes.Equal(items[1].Payload, sent[2].Payload) ||
		items[0].Topic != "linli/v1/dev/mb-1/event" || items[0].QoS != 1 {
		t.Fatalf("outbox after Resend(1): %+v", items)
	}
	m, _ := contract.Decode(items[0].Topic, items[0].Payload)
	if e := m.(*contract.Event); e.ID != got[1].ID {
		t.Errorf("resent %s, want %s", e.ID, got[1].ID)
	}
	if n, err := d.Resend(3); err != nil || n != 0 {
		t.Errorf("Resend(3) = %d, %v; want nothing", n, err)
	}
}
