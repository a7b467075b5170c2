package tickets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"linli/mqtt/contract"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

var t0 = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

type env struct {
	path string
	db   *bolt.DB
	s    *Store
	clk  *clock
	opts *Options
}

func openDB(t *testing.T, path string) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func newEnv(t *testing.T, opts *Options) *env {
	t.Helper()
	e := &env{path: filepath.Join(t.TempDir(), "hub.db"), clk: &clock{t: t0}}
	if opts == nil {
		opts = &Options{}
	}
	opts.Clock = e.clk.Now
	e.opts = opts
	e.db = openDB(t, e.path)
	var err error
	if e.s, err = Open(e.db, opts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.db.View(func(tx *bolt.Tx) error {
			for err := range tx.Check() {
				return err
			}
			return nil
		}); err != nil {
			t.Errorf("bbolt check: %v", err)
		}
		if err := e.db.Close(); err != nil {
			t.Error(err)
		}
	})
	return e
}

// restart closes the bbolt file and opens a new Store on it.
func (e *env) restart(t *testing.T) {
	t.Helper()
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	e.db = openDB(t, e.path)
	var err error
	if e.s, err = Open(e.db, e.opts); err != nil {
		t.Fatal(err)
	}
}

func report(number, urgency string) *contract.Report {
	return &contract.Report{
		Header:   contract.Header{V: contract.Version, Type: contract.TypeReport},
		Number:   number,
		Device:   "kiosk-1",
		Category: "leak",
		Location: contract.Location{Community: "hl", Building: "3", Unit: "1", Door: "1204"},
		Phrases:  []string{"水管漏水"},
		Text:     "厨房水管一直滴水",
		Phone:    "13812345678",
		Consent:  true,
		Urgency:  urgency,
		Time:     contract.Stamp{At: t0.Add(-time.Minute), Synced: true, Uptime: time.Hour},
	}
}

func (e *env) file(t *testing.T, number string) Ticket {
	t.Helper()
	tk, created, err := e.s.File(report(number, contract.UrgencyNormal), "g1")
	if err != nil || !created {
		t.Fatalf("File(%s) = %v, created %v", number, err, created)
	}
	return tk
}

func rating(id, number, r string) *contract.Rating {
	return &contract.Rating{ID: id, Number: number, Device: "kiosk-1", Rating: r, Comment: "师傅态度好"}
}

// setup brings a fresh ticket into each state by legal moves.
var setup = map[State]func(e *env, n string) error{
	Submitted: func(e *env, n string) error { return nil },
	Accepted: func(e *env, n string) error {
		_, err := e.s.Accept(n, "w1")
		return err
	},
	InProgress: func(e *env, n string) error {
		if _, err := e.s.Accept(n, "w1"); err != nil {
			return err
		}
		_, err := e.s.Start(n, "w1")
		return err
	},
	Resolved: func(e *env, n string) error {
		if _, err := e.s.Accept(n, "w1"); err != nil {
			return err
		}
		_, err := e.s.Resolve(n, "w1", "fixed")
		return err
	},
	Closed: func(e *env, n string) error {
		_, err := e.s.Close(n, "admin", "spam")
		return err
	},
	Returned: func(e *env, n string) error {
		_, err := e.s.Return(n, "w1", "not our grid")
		return err
	},
	Escalated: func(e *env, n string) error {
		_, err := e.s.Escalate(n, "admin", "chase")
		return err
	},
	Reopened: func(e *env, n string) error {
		if _, err := e.s.Accept(n, "w1"); err != nil {
			return err
		}
		if _, err := e.s.Resolve(n, "w1", "fixed"); err != nil {
			return err
		}
		_, _, err := e.s.Rate(rating(n+"-r0", n, contract.RatingUnsatisfied))
		return err
	},
	Duplicate: func(e *env, n string) error {
		_, err := e.s.Duplicate(n, "ORIG", "w1")
		return err
	},
}

// legal is the specification: the state each verb leads to from each
// state. Anything missing must be refused.
var legal = map[State]map[Verb]State{
	Submitted:  {VerbAccept: Accepted, VerbReturn: Returned, VerbAssign: Submitted, VerbDuplicate: Duplicate, VerbEscalate: Escalated, VerbClose: Closed},
	Accepted:   {VerbStart: InProgress, VerbResolve: Resolved, VerbReturn: Returned, VerbDuplicate: Duplicate, VerbEscalate: Escalated},
	InProgress: {VerbResolve: Resolved, VerbReturn: Returned, VerbEscalate: Escalated},
	Resolved:   {VerbRate: Closed, VerbClose: Closed},
	Closed:     {},
	Returned:   {VerbAccept: Accepted, VerbAssign: Submitted, VerbDuplicate: Duplicate, VerbEscalate: Escalated, VerbClose: Closed},
	Escalated:  {VerbAccept: Accepted, VerbStart: InProgress, VerbResolve: Resolved, VerbReturn: Returned, VerbAssign: Submitted, VerbDuplicate: Duplicate, VerbEscalate: Escalated},
	Reopened:   {VerbAccept: Accepted, VerbStart: InProgress, VerbResolve: Resolved, VerbReturn: Returned, VerbAssign: Submitted, VerbEscalate: Escalated},
	Duplicate:  {VerbClose: Closed},
}

var allVerbs = []Verb{VerbAccept, VerbStart, VerbResolve, VerbReturn, VerbAssign, VerbDuplicate, VerbEscalate, VerbRate, VerbClose}

func do(e *env, n string, v Verb) (Ticket, error) {
	switch v {
	case VerbAccept:
		return e.s.Accept(n, "w2")
	case VerbStart:
		return e.s.Start(n, "w2")
	case VerbResolve:
		return e.s.Resolve(n, "w2", "done")
	case VerbReturn:
		return e.s.Return(n, "w2", "wrong place")
	case VerbAssign:
		return e.s.Assign(n, "g2", "admin")
	case VerbDuplicate:
		return e.s.Duplicate(n, "ORIG", "w2")
	case VerbEscalate:
		return e.s.Escalate(n, "admin", "")
	case VerbRate:
		t, _, err := e.s.Rate(rating(n+"-r1", n, contract.RatingSatisfied))
		return t, err
	case VerbClose:
		return e.s.Close(n, "admin", "")
	}
	panic(v)
}

func TestStateMachine(t *testing.T) {
	if len(setup) != len(legal) {
		t.Fatalf("setup covers %d states, legal %d", len(setup), len(legal))
	}
	for from, targets := range legal {
		for _, v := range allVerbs {
			t.Run(string(from)+"/"+string(v), func(t *testing.T) {
				e := newEnv(t, nil)
				e.file(t, "ORIG")
				n := "K7-261127-00423"
				e.file(t, n)
				if err := setup[from](e, n); err != nil {
					t.Fatalf("setup: %v", err)
				}
				before, _ := e.s.Get(n)
				if before.Status != from {
					t.Fatalf("setup reached %s, want %s", before.Status, from)
				}
				got, err := do(e, n, v)
				to, ok := targets[v]
				if !ok {
					var te *TransitionError
					if !errors.As(err, &te) || !errors.Is(err, ErrTransition) {
						t.Fatalf("%s from %s: err = %v, want a TransitionError", v, from, err)
					}
					want := "tickets: " + n + " is " + string(from) + "; cannot " + string(v)
					if err.Error() != want {
						t.Errorf("err = %q, want %q", err, want)
					}
					after, _ := e.s.Get(n)
					if diff := cmp.Diff(before, after); diff != "" {
						t.Errorf("refused move changed the ticket (-before +after):\n%s", diff)
					}
					return
				}
				if err != nil {
					t.Fatalf("%s from %s: %v", v, from, err)
				}
				if got.Status != to {
					t.Errorf("%s from %s: status %s, want %s", v, from, got.Status, to)
				}
				if len(got.Timeline) <= len(before.Timeline) {
					t.Fatalf("timeline did not grow: %+v", got.Timeline)
				}
				last := got.Timeline[len(got.Timeline)-1]
				if last.Status != string(to) || !last.At.Equal(t0) || last.By == "" {
					t.Errorf("last step = %+v, want %s by someone at %v", last, to, t0)
				}
				stored, _ := e.s.Get(n)
				if diff := cmp.Diff(got, stored); diff != "" {
					t.Errorf("returned and stored differ (-returned +stored):\n%s", diff)
				}
			})
		}
	}
}

func TestFileIdempotent(t *testing.T) {
	e := newEnv(t, nil)
	r := report("A-261127-00011", contract.UrgencyEmergency)
	t1, created, err := e.s.File(r, "g1")
	if err != nil || !created {
		t.Fatalf("File = %v, %v", err, created)
	}
	e.clk.Add(time.Hour)
	// The same report again, as decoded from a resend.
	b := contract.MustEncode(r)
	m, err := contract.Decode(contract.DeviceTopic("kiosk-1", "report"), b)
	if err != nil {
		t.Fatal(err)
	}
	t2, created, err := e.s.File(m.(*contract.Report), "g9")
	if err != nil || created {
		t.Fatalf("resend: File = %v, created %v", err, created)
	}
	if diff := cmp.Diff(t1, t2); diff != "" {
		t.Errorf("resend changed the ticket (-first +second):\n%s", diff)
	}
	if !t1.Filed().Equal(t0) || !t1.AcceptBy.Equal(t0.Add(30*time.Minute)) || !t1.ResolveBy.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("filed %v accept by %v resolve by %v", t1.Filed(), t1.AcceptBy, t1.ResolveBy)
	}
	// A different report under the same number is a conflict.
	other := report("A-261127-00011", contract.UrgencyNormal)
	other.Device = "kiosk-2"
	if _, _, err := e.s.File(other, "g1"); !errors.Is(err, ErrConflict) {
		t.Errorf("conflicting report: err = %v, want ErrConflict", err)
	}
	bad := report("", contract.UrgencyNormal)
	if _, _, err := e.s.File(bad, "g1"); !errors.Is(err, contract.ErrMissing) {
		t.Errorf("report without number: err = %v", err)
	}
}

func TestRating(t *testing.T) {
	e := newEnv(t, nil)
	n := "A-261127-00011"
	e.file(t, n)
	if err := setup[Resolved](e, n); err != nil {
		t.Fatal(err)
	}
	e.clk.Add(10 * time.Hour)
	tk, applied, err := e.s.Rate(rating("r1", n, contract.RatingUnsatisfied))
	if err != nil || !applied || tk.Status != Reopened {
		t.Fatalf("unsatisfied: %v applied %v status %s", err, applied, tk.Status)
	}
	now := t0.Add(10 * time.Hour)
	if !tk.AcceptBy.Equal(now.Add(24*time.Hour)) || !tk.ResolveBy.Equal(now.Add(72*time.Hour)) || !tk.AcceptedAt.IsZero() {
		t.Errorf("reopened limits: accept by %v, resolve by %v, accepted %v", tk.AcceptBy, tk.ResolveBy, tk.AcceptedAt)
	}
	// The same rating again changes nothing.
	again, applied, err := e.s.Rate(rating("r1", n, contract.RatingUnsatisfied))
	if err != nil || applied {
		t.Fatalf("resent rating: %v applied %v", err, applied)
	}
	if diff := cmp.Diff(tk, again); diff != "" {
		t.Errorf("resent rating changed the ticket:\n%s", diff)
	}
	if _, err := e.s.Resolve(n, "w1", "fixed properly"); err != nil {
		t.Fatal(err)
	}
	tk, applied, err = e.s.Rate(rating("r2", n, contract.RatingBasically))
	if err != nil || !applied || tk.Status != Closed || tk.Rating != contract.RatingBasically {
		t.Fatalf("basically: %v applied %v status %s rating %s", err, applied, tk.Status, tk.Rating)
	}
	var steps []string
	for _, s := range tk.Timeline {
		steps = append(steps, s.Status)
	}
	want := "submitted accepted resolved rated reopened resolved rated closed"
	if got := strings.Join(steps, " "); got != want {
		t.Errorf("timeline %q, want %q", got, want)
	}
	if len(tk.Ratings) != 2 || tk.Ratings[0].Comment == "" {
		t.Errorf("ratings kept: %+v", tk.Ratings)
	}
	// The public status keeps no comment, phone, text or door.
	st := Status(tk)
	b, _ := json.Marshal(st)
	for _, secret := range []string{"13812345678", "厨房水管", "师傅态度好", "1204"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("public status leaks %q: %s", secret, b)
		}
	}
	if st.Location.Grid != "g1" || st.Location.Building != "3" || st.Rating != contract.RatingBasically {
		t.Errorf("public status = %+v", st)
	}
	if _, _, err := e.s.Rate(rating("r3", "NOPE", contract.RatingSatisfied)); !errors.Is(err, ErrNotFound) {
		t.Errorf("rating of unknown ticket: %v", err)
	}
}

func TestDue(t *testing.T) {
	e := newEnv(t, &Options{Limits: map[string]Limit{contract.UrgencyEmergency: {Accept: 20 * time.Minute}}})
	em := report("E-261127-00019", contract.UrgencyEmergency)
	if _, _, err := e.s.File(em, "g1"); err != nil {
		t.Fatal(err)
	}
	e.file(t, "N-261127-00014")
	type want struct {
		kind   Kind
		phase  string
		number string
	}
	steps := []struct {
		at   time.Duration
		want []want
	}{
		{10 * time.Minute, nil},
		{15 * time.Minute, []want{{KindWarn, PhaseAccept, em.Number}}}, // 20 min − 5 min
		{16 * time.Minute, nil},
		{20 * time.Minute, []want{{KindEscalate, PhaseAccept, em.Number}}},
		{90 * time.Minute, []want{{KindWarn, PhaseResolve, em.Number}}}, // 2 h − 30 min
		{100 * time.Minute, nil},
		// A long outage: normal's accept limit (24 h) passed without a warning.
		{25 * time.Hour, []want{{KindEscalate, PhaseResolve, em.Number}, {KindEscalate, PhaseAccept, "N-261127-00014"}}},
		{26 * time.Hour, nil},
	}
	for i, s := range steps {
		if i == 3 {
			e.restart(t) // the flags survive a restart
		}
		acts, err := e.s.Due(t0.Add(s.at))
		if err != nil {
			t.Fatal(err)
		}
		var got []want
		for _, a := range acts {
			got = append(got, want{a.Kind, a.Phase, a.Number})
		}
		// Order: bbolt key order, E before N.
		if diff := cmp.Diff(s.want, got, cmp.AllowUnexported(want{})); diff != "" {
			t.Errorf("Due at +%v (-want +got):\n%s", s.at, diff)
		}
	}
	tk, _ := e.s.Get(em.Number)
	if tk.Status != Escalated || tk.Level != 2 {
		t.Errorf("emergency ticket: %s level %d, want escalated level 2", tk.Status, tk.Level)
	}
	pubs := Publications([]Action{{Kind: KindWarn, Number: em.Number, Ticket: tk}, {Kind: KindEscalate, Number: em.Number, Ticket: tk}})
	if len(pubs) != 1 || pubs[0].Topic != contract.TicketTopic(em.Number) || !pubs[0].Retain {
		t.Errorf("Publications = %+v", pubs)
	}
	// Accepting stops the accept timer; resolving stops all.
	if _, err := e.s.Accept("N-261127-00014", "w1"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Resolve("N-261127-00014", "w1", ""); err != nil {
		t.Fatal(err)
	}
	if acts, _ := e.s.Due(t0.Add(100 * time.Hour)); len(acts) != 0 {
		t.Errorf("Due after resolve = %+v", acts)
	}
}

func TestRestartKeepsEverything(t *testing.T) {
	e := newEnv(t, nil)
	n := "A-261127-00011"
	e.file(t, n)
	if _, err := e.s.Accept(n, "w1"); err != nil {
		t.Fatal(err)
	}
	w := &contract.Wish{ID: "w-1", Device: "kiosk-1", Text: "想学用智能手机", Location: contract.Location{Community: "hl", Building: "3", Door: "302"}}
	if _, _, err := e.s.PostWish(w); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.PublishNotice("hl", contract.Notice{ID: "n1", Title: "停水通知"}); err != nil {
		t.Fatal(err)
	}
	before, _ := e.s.Get(n)
	e.restart(t)
	after, err := e.s.Get(n)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("ticket changed across restart:\n%s", diff)
	}
	if _, err := e.s.Wish("w-1"); err != nil {
		t.Error(err)
	}
	if ns, _ := e.s.Notices("hl"); len(ns.Notices) != 1 {
		t.Errorf("notices after restart: %+v", ns)
	}
	if ts, _ := e.s.List(Filter{Status: Accepted}); len(ts) != 1 {
		t.Errorf("List(accepted) = %d tickets", len(ts))
	}
}

func TestWishes(t *testing.T) {
	e := newEnv(t, nil)
	w := &contract.Wish{ID: "w-1", Device: "kiosk-1", Text: "想学用智能手机", Location: contract.Location{Community: "hl", Building: "3", Door: "302"}}
	if _, created, err := e.s.PostWish(w); err != nil || !created {
		t.Fatalf("PostWish = %v, %v", err, created)
	}
	if _, created, err := e.s.PostWish(w); err != nil || created {
		t.Fatalf("resent PostWish = %v, %v", err, created)
	}
	if _, err := e.s.DoneWish("w-1"); !errors.Is(err, ErrTransition) {
		t.Errorf("done before claim: %v", err)
	}
	got, err := e.s.ClaimWish("w-1", "张阿姨")
	if err != nil || got.ClaimedBy != "张阿姨" || !got.ClaimedAt.Equal(t0) {
		t.Fatalf("ClaimWish = %+v, %v", got, err)
	}
	if _, err := e.s.ClaimWish("w-1", "张阿姨"); err != nil {
		t.Errorf("claim again by the same: %v", err)
	}
	if _, err := e.s.ClaimWish("w-1", "李叔"); !errors.Is(err, ErrTransition) {
		t.Errorf("claim by another: %v", err)
	}
	if got, err := e.s.DoneWish("w-1"); err != nil || !got.Done {
		t.Errorf("DoneWish = %+v, %v", got, err)
	}
	pub, _ := e.s.PublicWishes("hl")
	if len(pub.Wishes) != 1 || pub.Wishes[0].Location.Door != "" {
		t.Errorf("public wishes = %+v", pub.Wishes)
	}
	e.clk.Add(73 * time.Hour)
	if ws, _ := e.s.Wishes("hl"); len(ws) != 0 {
		t.Errorf("done wish still listed after 73 h: %+v", ws)
	}
	if _, _, err := e.s.PostWish(&contract.Wish{ID: "w-2", Text: "x"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("wish without community: %v", err)
	}
	// An unreadable record is reported, not overwritten by a resend.
	if err := e.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketWishes).Put([]byte("w-3"), []byte("{")) }); err != nil {
		t.Fatal(err)
	}
	w3 := &contract.Wish{ID: "w-3", Device: "kiosk-1", Text: "x", Location: contract.Location{Community: "hl"}}
	if _, created, err := e.s.PostWish(w3); err == nil || created {
		t.Errorf("PostWish over an unreadable record = created %v, %v; want an error", created, err)
	}
	e.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketWishes).Get([]byte("w-3")); string(v) != "{" {
			t.Errorf("unreadable record now %q, want it left as it was", v)
		}
		return nil
	})
}

func TestNotices(t *testing.T) {
	e := newEnv(t, nil)
	if _, err := e.s.PublishNotice("hl", contract.Notice{ID: "a", Title: "台风预警", Level: "typhoon", Expires: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	e.clk.Add(time.Minute)
	if _, err := e.s.PublishNotice("hl", contract.Notice{ID: "b", Title: "停水"}); err != nil {
		t.Fatal(err)
	}
	e.clk.Add(time.Minute)
	ns, err := e.s.PublishNotice("hl", contract.Notice{ID: "b", Title: "停水(更正)"})
	if err != nil {
		t.Fatal(err)
	}
	var titles []string
	for _, n := range ns.Notices {
		titles = append(titles, n.Title)
	}
	if got := strings.Join(titles, ","); got != "停水(更正),台风预警" {
		t.Errorf("notices = %s", got)
	}
	e.clk.Add(2 * time.Hour)
	ns, _ = e.s.PublishNotice("hl", contract.Notice{Title: "新通知"})
	if len(ns.Notices) != 2 || ns.Notices[0].ID == "" || ns.Notices[0].Level != "info" {
		t.Errorf("expired typhoon notice kept or defaults unset: %+v", ns.Notices)
	}
	if _, err := e.s.PublishNotice("hl", contract.Notice{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("notice without title: %v", err)
	}
}

func req(op string, args ...string) *contract.Request {
	r := &contract.Request{ID: "q1", From: "w1", Op: op, Args: map[string]string{}}
	for i := 0; i+1 < len(args); i += 2 {
		r.Args[args[i]] = args[i+1]
	}
	return r
}

// Workers of the tests: tickets are filed in community hl, grid g1.
var (
	gridOwn   = Worker{ID: "w1", Role: RoleGridWorker, Grid: "g1", Community: "hl"}
	gridOther = Worker{ID: "w2", Role: RoleGridWorker, Grid: "g2", Community: "hl"}
	gridAway  = Worker{ID: "w3", Role: RoleGridWorker, Grid: "x1", Community: "west"}
	commOwn   = Worker{ID: "c1", Role: RoleCommunity, Community: "hl"}
	commOther = Worker{ID: "c2", Role: RoleCommunity, Community: "west"}
	subd      = Worker{ID: "s1", Role: RoleSubdistrict}
	maint     = Worker{ID: "m1", Role: RoleMaintenance}
)

func TestHandleRequest(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	n := "A-261127-00011"
	e.file(t, n)
	e.file(t, "A-261127-00028")
	steps := []struct {
		req    *contract.Request
		who    Worker
		status string // of the body, for ticket ops
		pubs   int
		err    error
	}{
		{req(contract.OpTicketAccept, "number", n), gridOwn, "accepted", 1, nil},
		{req(contract.OpTicketAccept, "number", n), gridOwn, "", 0, ErrTransition},
		{req(contract.OpTicketStart, "number", n), gridOwn, "in-progress", 1, nil},
		{req(contract.OpTicketResolve, "number", n, "note", "换了阀门"), gridOwn, "resolved", 1, nil},
		{req(contract.OpTicketGet, "number", n), gridOwn, "resolved", 0, nil},
		{req(contract.OpTicketGet), gridOwn, "", 0, ErrInvalid},
		{req(contract.OpTicketGet, "number", "NOPE"), gridOwn, "", 0, ErrNotFound},
		{req(contract.OpTicketDuplicate, "number", "A-261127-00028"), gridOwn, "", 0, ErrInvalid},
		{req(contract.OpTicketReturn, "number", "A-261127-00028", "note", "不属本网格"), gridOwn, "returned", 1, nil},
		{req(contract.OpTicketDuplicate, "number", "A-261127-00028", "of", n), gridOwn, "duplicate", 1, nil},
		{req(contract.OpTicketClose, "number", "A-261127-00028", "note", "重复"), gridOwn, "closed", 1, nil},
		{req("alerts.list"), gridOwn, "", 0, ErrUnknownOp},
		{req(contract.OpNotice, "community", "hl"), gridOwn, "", 0, ErrForbidden},
	}
	for i, s := range steps {
		body, pubs, err := e.s.HandleRequest(ctx, s.who, s.req)
		if !errors.Is(err, s.err) {
			t.Fatalf("step %d %s: err = %v, want %v", i, s.req.Op, err, s.err)
		}
		if len(pubs) != s.pubs {
			t.Errorf("step %d %s: %d publications, want %d", i, s.req.Op, len(pubs), s.pubs)
		}
		if s.status != "" {
			st, ok := body.(contract.TicketStatus)
			if !ok || st.Status != s.status {
				t.Errorf("step %d %s: body %#v, want status %s", i, s.req.Op, body, s.status)
			}
		}
		for _, p := range pubs {
			if _, err := contract.Encode(p.Msg); err != nil {
				t.Errorf("step %d: publication does not encode: %v", i, err)
			}
		}
	}
	body, _, err := e.s.HandleRequest(ctx, gridOwn, req(contract.OpTicketsList, "status", "closed"))
	if list, ok := body.([]contract.TicketStatus); err != nil || !ok || len(list) != 1 || list[0].Number != "A-261127-00028" {
		t.Errorf("tickets.list closed = %#v, %v", body, err)
	}

	nreq := req(contract.OpNotice, "community", "hl")
	nreq.Body = json.RawMessage(`{"id":"n1","title":"停电通知","body":"周六 9:00-12:00","level":"warning"}`)
	body, pubs, err := e.s.HandleRequest(ctx, commOwn, nreq)
	if err != nil || len(pubs) != 1 || pubs[0].Topic != contract.AreaTopic("hl", "notices") || !pubs[0].Retain {
		t.Fatalf("notice.publish = %v, %+v", err, pubs)
	}
	if ns := body.(contract.Notices); len(ns.Notices) != 1 || ns.Notices[0].Title != "停电通知" {
		t.Errorf("notices body = %+v", ns)
	}

	if _, _, err := e.s.PostWish(&contract.Wish{ID: "w-1", Device: "kiosk-1", Text: "陪老人聊天", Location: contract.Location{Community: "hl"}}); err != nil {
		t.Fatal(err)
	}
	body, pubs, err = e.s.HandleRequest(ctx, gridOwn, req(contract.OpWishClaim, "id", "w-1"))
	if err != nil || body.(contract.Wish).ClaimedBy != "w1" || len(pubs) != 1 || pubs[0].Topic != contract.AreaTopic("hl", "wishes") {
		t.Errorf("wish.claim = %#v, %+v, %v", body, pubs, err)
	}
	body, _, err = e.s.HandleRequest(ctx, gridOwn, req(contract.OpWishDone, "id", "w-1"))
	if err != nil || !body.(contract.Wish).Done {
		t.Errorf("wish.done = %#v, %v", body, err)
	}
	body, _, err = e.s.HandleRequest(ctx, gridOwn, req(contract.OpWishesList, "community", "hl"))
	if ws, ok := body.([]contract.Wish); err != nil || !ok || len(ws) != 1 {
		t.Errorf("wishes.list = %#v, %v", body, err)
	}
}

func TestHandleDeviceMessage(t *testing.T) {
	e := newEnv(t, nil)
	grid := func(l contract.Location) string { return "grid-" + l.Building }
	r := report("A-261127-00011", contract.UrgencyUrgent)
	for i := 0; i < 2; i++ {
		pubs, err := e.s.HandleDeviceMessage("kiosk-1", r, grid)
		if err != nil {
			t.Fatal(err)
		}
		st := pubs[0].Msg.(*contract.TicketStatus)
		if len(pubs) != 1 || st.Status != "submitted" || st.Location.Grid != "grid-3" || !pubs[0].Retain {
			t.Errorf("send %d: publications %+v", i, pubs)
		}
	}
	if ts, _ := e.s.List(Filter{}); len(ts) != 1 {
		t.Errorf("%d tickets after a resend, want 1", len(ts))
	}
	if _, err := e.s.HandleDeviceMessage("kiosk-2", r, grid); !errors.Is(err, ErrInvalid) {
		t.Errorf("report from another device: %v", err)
	}
	w := &contract.Wish{ID: "w-1", Text: "修自行车", Location: contract.Location{Community: "hl"}}
	pubs, err := e.s.HandleDeviceMessage("kiosk-1", w, grid)
	if err != nil || len(pubs) != 1 || len(pubs[0].Msg.(*contract.Wishes).Wishes) != 1 {
		t.Errorf("wish: %+v, %v", pubs, err)
	}
	if _, err := e.s.HandleDeviceMessage("kiosk-1", &contract.Telemetry{}, grid); !errors.Is(err, ErrUnknownOp) {
		t.Errorf("telemetry: %v", err)
	}
	if _, err := e.s.HandleDeviceMessage("kiosk-1", rating("r1", r.Number, contract.RatingSatisfied), grid); !errors.Is(err, ErrTransition) {
		t.Errorf("rating of a submitted ticket: %v", err)
	}
}

// TestBusyCommunityStillPublishes posts more wishes and notices than one
// retained message can hold: every post must still succeed, the published
// lists must fit contract.MaxPayload, and open and newest entries win.
func TestBusyCommunityStillPublishes(t *testing.T) {
	e := newEnv(t, nil)
	text := strings.Repeat("帮忙搬米上楼", 20)
	for i := range 400 {
		e.clk.Add(time.Minute)
		w := &contract.Wish{ID: fmt.Sprintf("w-%03d", i), Device: "kiosk-1", Text: text, Location: contract.Location{Community: "hl"}}
		if _, _, err := e.s.PostWish(w); err != nil {
			t.Fatalf("PostWish %d: %v", i, err)
		}
		if i == 5 {
			if _, err := e.s.ClaimWish(w.ID, "张阿姨"); err != nil {
				t.Fatal(err)
			}
		}
	}
	pub, err := e.s.PublicWishes("hl")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := contract.Encode(pub); err != nil || len(b) > contract.MaxPayload {
		t.Fatalf("public wishes do not fit: %d bytes, %v", len(b), err)
	}
	n := len(pub.Wishes)
	if n < 50 || n >= 400 {
		t.Fatalf("published %d of 400 wishes; want the list trimmed but useful", n)
	}
	if last := pub.Wishes[n-1].ID; last != "w-399" {
		t.Errorf("newest published wish = %s, want w-399", last)
	}
	for _, w := range pub.Wishes {
		if w.ClaimedBy != "" {
			t.Errorf("claimed wish %s published while open ones were left out", w.ID)
		}
	}
	long := strings.Repeat("停水通知，", 400)
	var ns contract.Notices
	for i := range 60 {
		e.clk.Add(time.Minute)
		if ns, err = e.s.PublishNotice("hl", contract.Notice{ID: fmt.Sprintf("n-%02d", i), Title: "通知", Body: long}); err != nil {
			t.Fatalf("PublishNotice %d: %v", i, err)
		}
	}
	if b, err := contract.Encode(&ns); err != nil || len(b) > contract.MaxPayload {
		t.Fatalf("notices do not fit: %d bytes, %v", len(b), err)
	}
	if len(ns.Notices) == 0 || ns.Notices[0].ID != "n-59" {
		t.Errorf("newest notice not first: %d notices", len(ns.Notices))
	}
}

// TestLongTimelineStillPublishes reopens a ticket many times with long
// notes: its public status must still fit one message, keep the first step
// and the latest ones.
func TestLongTimelineStillPublishes(t *testing.T) {
	steps := []contract.TicketStep{{Status: "submitted", At: t0}}
	for i := range 300 {
		steps = append(steps, contract.TicketStep{Status: "resolved", By: "w1", Note: strings.Repeat("已处理", 400), At: t0.Add(time.Duration(i) * time.Minute)})
	}
	st := Status(Ticket{Number: "K1-261127-00011", Status: Resolved, Timeline: steps, Report: contract.Report{Category: "light"}})
	if b, err := contract.Encode(&st); err != nil || len(b) > contract.MaxPayload {
		t.Fatalf("status does not fit: %d bytes, %v", len(b), err)
	}
	n := len(st.Timeline)
	if n < 10 || st.Timeline[0].Status != "submitted" || !st.Timeline[n-1].At.Equal(steps[len(steps)-1].At) {
		t.Errorf("timeline kept %d steps, first %q, last at %v", n, st.Timeline[0].Status, st.Timeline[n-1].At)
	}
}
