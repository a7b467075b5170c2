package tickets

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"linli/grid/replica"
	"linli/mqtt/contract"
)

// State is a ticket's state.
type State string

// Ticket states.
const (
	Submitted  State = "submitted"   // 待受理
	Accepted   State = "accepted"    // 已签收
	InProgress State = "in-progress" // 处理中
	Resolved   State = "resolved"    // 已办结
	Rated      State = "rated"       // 已评价
	Closed     State = "closed"      // 归档
	Returned   State = "returned"    // 退单
	Escalated  State = "escalated"   // 督办
	Reopened   State = "reopened"    // 重办
	Duplicate  State = "duplicate"   // 重复
)

// Final reports whether no more work is due on a ticket in s.
func (s State) Final() bool {
	return s == Resolved || s == Rated || s == Closed || s == Duplicate
}

// Verb names a move of the state machine.
type Verb string

// Verbs.
const (
	VerbAccept    Verb = "accept"
	VerbStart     Verb = "start"
	VerbResolve   Verb = "resolve"
	VerbReturn    Verb = "return"
	VerbAssign    Verb = "assign"
	VerbDuplicate Verb = "duplicate"
	VerbEscalate  Verb = "escalate"
	VerbRate      Verb = "rate"
	VerbClose     Verb = "close"
)

type move struct {
	from []State
	to   State
}

// moves is the state machine; see the package documentation. Rate's target
// depends on the rating and is decided in Rate.
var moves = map[Verb]move{
	VerbAccept:    {[]State{Submitted, Returned, Escalated, Reopened}, Accepted},
	VerbStart:     {[]State{Accepted, Escalated, Reopened}, InProgress},
	VerbResolve:   {[]State{Accepted, InProgress, Escalated, Reopened}, Resolved},
	VerbReturn:    {[]State{Submitted, Accepted, InProgress, Escalated, Reopened}, Returned},
	VerbAssign:    {[]State{Submitted, Returned, Escalated, Reopened}, Submitted},
	VerbDuplicate: {[]State{Submitted, Accepted, Returned, Escalated}, Duplicate},
	VerbEscalate:  {[]State{Submitted, Accepted, InProgress, Returned, Escalated, Reopened}, Escalated},
	VerbRate:      {[]State{Resolved}, Rated},
	VerbClose:     {[]State{Submitted, Returned, Resolved, Duplicate}, Closed},
}

// Allowed reports whether v may be applied to a ticket in state s.
func Allowed(s State, v Verb) bool {
	m, ok := moves[v]
	return ok && slices.Contains(m.from, s)
}

// Errors.
var (
	// ErrNotFound means there is no ticket (or wish) by that number (id).
	ErrNotFound = errors.New("tickets: not found")
	// ErrTransition is matched by every *TransitionError.
	ErrTransition = errors.New("tickets: illegal transition")
	// ErrConflict means a report arrived with a number the hub already holds
	// for a different report: two kiosks share a code, or a kiosk lost its
	// storage and reissued numbers.
	ErrConflict = errors.New("tickets: number already used by another report")
	// ErrInvalid means an argument is missing or malformed.
	ErrInvalid = errors.New("tickets: invalid argument")
	// ErrUnknownOp means HandleRequest does not implement the operation, or
	// HandleDeviceMessage does not take the message: the hub should try
	// its other handlers.
	ErrUnknownOp = errors.New("tickets: unknown operation")
	// ErrForbidden means Options.Authorize refused the operation; the
	// message says who may do it.
	ErrForbidden = errors.New("tickets: forbidden")
)

// TransitionError is an illegal move: Verb applied to a ticket in Status.
type TransitionError struct {
	Number string
	Status State
	Verb   Verb
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("tickets: %s is %s; cannot %s", e.Number, e.Status, e.Verb)
}

// Is makes errors.Is(err, ErrTransition) true.
func (e *TransitionError) Is(target error) bool { return target == ErrTransition }

// Limit is the time allowed for one urgency.
type Limit struct {
	Accept  time.Duration // from arrival (or return, or reopening) to accepted
	Resolve time.Duration // from arrival (or reopening) to resolved
}

// DefaultLimits are the time limits per urgency; see the package
// documentation for their source.
func DefaultLimits() map[string]Limit {
	return map[string]Limit{
		contract.UrgencyEmergency: {Accept: 30 * time.Minute, Resolve: 2 * time.Hour},
		contract.UrgencyUrgent:    {Accept: 4 * time.Hour, Resolve: 24 * time.Hour},
		contract.UrgencyNormal:    {Accept: 24 * time.Hour, Resolve: 72 * time.Hour},
	}
}

// Options configures a Store. The zero value of a field means its default.
type Options struct {
	// Limits are the time limits per urgency (contract.Urgency*). Missing
	// urgencies take DefaultLimits' value; a missing or zero duration
	// within one too.
	Limits map[string]Limit
	// WarnBefore is how long before a limit Due warns. Zero means a quarter
	// of that limit (7.5 min before an emergency's accept limit).
	WarnBefore time.Duration
	// WishDoneKeep is how long a done wish stays on the public list.
	// Default 72 h.
	WishDoneKeep time.Duration
	// Clock returns the hub's time. Default time.Now.
	Clock func() time.Time
	// Authorize is asked before each HandleRequest operation, with the
	// ticket it acts on read in the transaction that changes it; an error
	// refuses the operation (HandleRequest makes it wrap ErrForbidden).
	// tickets.list shows only the tickets Authorize lets the worker
	// ticket.get. Default Permit.
	Authorize func(w Worker, a Access) error
	// PublishTx, if set, queues a publication inside the writable
	// transaction that made the change it announces, so that the change
	// and its announcement are committed together or not at all (the
	// hub's PublishTx, on the same bbolt file); an error rolls the change
	// back. Every change publishes: a ticket's new Status (File, each move,
	// Rate, Due's escalations), a community's wishes, its notices.
	// HandleRequest and HandleDeviceMessage then return no publications.
	// Nil: nothing is queued, and the caller publishes what they return.
	PublishTx func(tx *bolt.Tx, p Publication) error
	// AssignTarget, when set, checks where ticket.assign sends a ticket
	// of community: grid must be a grid of that community, and worker, when
	// not "", a grid worker of it (of grid, when grid is not ""). It
	// returns the grid the ticket goes to (worker's, when grid is "") or an
	// error saying what is wrong. Nil: grid is required and taken as it
	// is, and worker is taken as a worker of grid.
	AssignTarget func(community, grid, worker string) (string, error)
	// Logger receives notes on conflicts and escalations. Default: discard.
	Logger *slog.Logger
}

func (o *Options) ensureDefaults() {
	lim := DefaultLimits()
	for u, l := range o.Limits {
		d := lim[u]
		if d == (Limit{}) {
			d = lim[contract.UrgencyNormal]
		}
		if l.Accept > 0 {
			d.Accept = l.Accept
		}
		if l.Resolve > 0 {
			d.Resolve = l.Resolve
		}
		lim[u] = d
	}
	o.Limits = lim
	if o.WishDoneKeep <= 0 {
		o.WishDoneKeep = 72 * time.Hour
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Authorize == nil {
		o.Authorize = Permit
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// RatingRecord is a resident's rating as kept with the ticket.
type RatingRecord struct {
	ID      string    `json:"id"`
	Rating  string    `json:"rating"`
	Comment string    `json:"comment,omitempty"` // private
	Device  string    `json:"device"`
	At      time.Time `json:"at"` // hub time
}

// Ticket is the hub's full record of a ticket. It holds personal data (the
// report's phone and text): show it only to grid workers; publish Status.
type Ticket struct {
	Number      string                `json:"number"`
	Report      contract.Report       `json:"report"` // as filed; Report.Filed is the hub's arrival time
	Grid        string                `json:"grid"`
	Status      State                 `json:"status"`
	Assigned    string                `json:"assigned,omitempty"`
	Level       int                   `json:"level,omitempty"` // escalations so far
	DuplicateOf string                `json:"duplicate_of,omitempty"`
	Rating      string                `json:"rating,omitempty"` // the latest
	Ratings     []RatingRecord        `json:"ratings,omitempty"`
	Updated     time.Time             `json:"updated"`
	AcceptBy    time.Time             `json:"accept_by"`
	ResolveBy   time.Time             `json:"resolve_by"`
	AcceptedAt  time.Time             `json:"accepted_at,omitzero"` // zero while waiting to be (re)accepted
	Flags       DueFlags              `json:"flags"`
	Timeline    []contract.TicketStep `json:"timeline"`
}

// DueFlags record which warnings and escalations Due emitted for the
// current limits.
type DueFlags struct {
	WarnedAccept     bool `json:"warned_accept,omitempty"`
	EscalatedAccept  bool `json:"escalated_accept,omitempty"`
	WarnedResolve    bool `json:"warned_resolve,omitempty"`
	EscalatedResolve bool `json:"escalated_resolve,omitempty"`
}

// Filed is the hub's time of arrival.
func (t *Ticket) Filed() time.Time { return t.Report.Filed }

// Store keeps the tickets, wishes and notices in bbolt. Its methods are
// safe for concurrent use.
type Store struct {
	db   *bolt.DB
	opts Options
	log  *slog.Logger
}

var (
	bucketTickets = []byte("tickets")
	bucketRatings = []byte("tickets.ratings") // rating id → number
	bucketWishes  = []byte("tickets.wishes")  // wish id → storedWish
	bucketNotices = []byte("tickets.notices") // community → Notices
)

// Open returns the Store kept in db, creating its buckets. The caller owns
// db. opts may be nil.
func Open(db *bolt.DB, opts *Options) (*Store, error) {
	s := &Store{db: db}
	if opts != nil {
		s.opts = *opts
	}
	s.opts.ensureDefaults()
	s.log = s.opts.Logger.With("component", "tickets")
	err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketTickets, bucketRatings, bucketWishes, bucketNotices} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("tickets: open: %w", err)
	}
	return s, nil
}

func (s *Store) limit(urgency string) Limit {
	if l, ok := s.opts.Limits[urgency]; ok {
		return l
	}
	return s.opts.Limits[contract.UrgencyNormal]
}

func getTicket(tx *bolt.Tx, number string) (*Ticket, error) {
	v := tx.Bucket(bucketTickets).Get([]byte(number))
	if v == nil {
		return nil, fmt.Errorf("%w: ticket %q", ErrNotFound, number)
	}
	var t Ticket
	if err := json.Unmarshal(v, &t); err != nil {
		return nil, fmt.Errorf("tickets: read %s: %w", number, err)
	}
	return &t, nil
}

func putTicket(tx *bolt.Tx, t *Ticket) error {
	b, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("tickets: write %s: %w", t.Number, err)
	}
	return replica.Put(tx, bucketTickets, []byte(t.Number), b)
}

// sameReport reports whether a and b are the same report, sent twice.
func sameReport(a, b contract.Report) bool {
	a.Filed, b.Filed = time.Time{}, time.Time{}
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// File turns a report into a ticket assigned to grid. It is idempotent by
// the report's number: a resend of the same report returns the existing
// ticket with created false. A different report under a number already
// held fails with ErrConflict.
func (s *Store) File(r *contract.Report, grid string) (t Ticket, created bool, err error) {
	if r == nil {
		return Ticket{}, false, fmt.Errorf("%w: nil report", ErrInvalid)
	}
	if err := r.Validate(); err != nil {
		return Ticket{}, false, fmt.Errorf("tickets: file: %w", err)
	}
	if !contract.ValidID(r.Number) {
		return Ticket{}, false, fmt.Errorf("%w: number %q cannot be a topic level", ErrInvalid, r.Number)
	}
	now := s.opts.Clock()
	err = replica.Update(s.db, func(tx *bolt.Tx) error {
		old, err := getTicket(tx, r.Number)
		if err == nil {
			if !sameReport(old.Report, *r) {
				return fmt.Errorf("%w: %s (from %s, now from %s)", ErrConflict, r.Number, old.Report.Device, r.Device)
			}
			t = *old
			return s.announce(tx, StatusPublication(t)) // as the resend may be after a lost publication
		}
		if !errors.Is(err, ErrNotFound) {
			return err
		}
		rep := *r
		rep.Filed = now
		l := s.limit(r.Urgency)
		t = Ticket{
			Number:    r.Number,
			Report:    rep,
			Grid:      grid,
			Status:    Submitted,
			Updated:   now,
			AcceptBy:  now.Add(l.Accept),
			ResolveBy: now.Add(l.Resolve),
			Timeline:  []contract.TicketStep{{Status: string(Submitted), By: r.Device, At: now}},
		}
		created = true
		if err := putTicket(tx, &t); err != nil {
			return err
		}
		return s.announce(tx, StatusPublication(t))
	})
	if err != nil {
		if errors.Is(err, ErrConflict) {
			s.log.Error("ticket number conflict", "number", r.Number, "device", r.Device, "err", err)
		}
		return Ticket{}, false, err
	}
	return t, created, nil
}

// Get returns the ticket with number, or ErrNotFound.
func (s *Store) Get(number string) (Ticket, error) {
	var t *Ticket
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		t, err = getTicket(tx, number)
		return err
	})
	if err != nil {
		return Ticket{}, err
	}
	return *t, nil
}

// Filter selects tickets for List. Empty fields match everything.
type Filter struct {
	Status    State
	Grid      string
	Community string
	Open      bool // only tickets not yet final (see State.Final)
}

// List returns the tickets that match f, oldest first.
func (s *Store) List(f Filter) ([]Ticket, error) {
	var out []Ticket
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTickets).ForEach(func(k, v []byte) error {
			var t Ticket
			if err := json.Unmarshal(v, &t); err != nil {
				return fmt.Errorf("tickets: read %s: %w", k, err)
			}
			switch {
			case f.Status != "" && t.Status != f.Status,
				f.Grid != "" && t.Grid != f.Grid,
				f.Community != "" && t.Report.Location.Community != f.Community,
				f.Open && t.Status.Final():
				return nil
			}
			out = append(out, t)
			return nil
		})
	})
	slices.SortStableFunc(out, func(a, b Ticket) int {
		if c := a.Report.Filed.Compare(b.Report.Filed); c != 0 {
			return c
		}
		if a.Number < b.Number {
			return -1
		}
		return 1
	})
	return out, err
}

// guard vets a ticket before a move, in the move's transaction; nil lets
// every move through.
type guard func(t *Ticket) error

// apply runs one move on ticket number in a transaction: g sees the ticket
// first, then it checks the table, lets fn adjust the ticket, sets the
// status, appends the step, and announces the new status.
func (s *Store) apply(number string, v Verb, by, note string, g guard, fn func(t *Ticket, now time.Time) error) (Ticket, error) {
	var out Ticket
	err := replica.Update(s.db, func(tx *bolt.Tx) error {
		t, err := getTicket(tx, number)
		if err != nil {
			return err
		}
		if g != nil {
			if err := g(t); err != nil {
				return err
			}
		}
		now := s.opts.Clock()
		if err := s.step(t, v, by, note, now, fn); err != nil {
			return err
		}
		out = *t
		if err := putTicket(tx, t); err != nil {
			return err
		}
		return s.announce(tx, StatusPublication(*t))
	})
	return out, err
}

// announce queues pubs through Options.PublishTx, if set, in tx.
func (s *Store) announce(tx *bolt.Tx, pubs ...Publication) error {
	if s.opts.PublishTx == nil {
		return nil
	}
	for _, p := range pubs {
		if err := s.opts.PublishTx(tx, p); err != nil {
			return fmt.Errorf("tickets: publish %s: %w", p.Topic, err)
		}
	}
	return nil
}

func (s *Store) step(t *Ticket, v Verb, by, note string, now time.Time, fn func(t *Ticket, now time.Time) error) error {
	if !Allowed(t.Status, v) {
		return &TransitionError{Number: t.Number, Status: t.Status, Verb: v}
	}
	to := moves[v].to
	if fn != nil {
		if err := fn(t, now); err != nil {
			return err
		}
	}
	t.Status = to
	t.Updated = now
	t.Timeline = append(t.Timeline, contract.TicketStep{Status: string(to), By: by, Note: note, At: now})
	return nil
}

// Accept records that worker by signed for the ticket and now owns it.
func (s *Store) Accept(number, by string) (Ticket, error) {
	return s.act(VerbAccept, number, by, "", nil)
}

// Start records that work on the ticket began. Starting a reopened ticket
// accepts it again.
func (s *Store) Start(number, by string) (Ticket, error) {
	return s.act(VerbStart, number, by, "", nil)
}

// Resolve records that the problem was dealt with; note says how (public).
func (s *Store) Resolve(number, by, note string) (Ticket, error) {
	return s.act(VerbResolve, number, by, note, nil)
}

// Return hands the ticket back to the community pool (see the package
// documentation); note gives the reason and is required.
func (s *Store) Return(number, by, note string) (Ticket, error) {
	return s.act(VerbReturn, number, by, note, nil)
}

// Assign moves the ticket to grid and waits for someone there to accept it.
func (s *Store) Assign(number, grid, by string) (Ticket, error) {
	return s.assign(number, grid, "", by, "", nil)
}

// AssignWorker moves the ticket to worker, a grid worker of grid: the
// ticket waits in grid, assigned to worker, for worker (or anyone of
// grid) to accept it. note, when not "", says why (public).
func (s *Store) AssignWorker(number, grid, worker, by, note string) (Ticket, error) {
	return s.assign(number, grid, worker, by, note, nil)
}

// assign is Assign and AssignWorker after g approved the ticket. The
// timeline's note names the grid, the worker and the reason:
// "grid east-2, worker w-zhao: wrong building".
func (s *Store) assign(number, grid, worker, by, note string, g guard) (Ticket, error) {
	if grid == "" || !contract.ValidID(grid) {
		return Ticket{}, fmt.Errorf("%w: assign %s to grid %q: not a grid id", ErrInvalid, number, grid)
	}
	if worker != "" && !contract.ValidID(worker) {
		return Ticket{}, fmt.Errorf("%w: assign %s to worker %q: not a worker id", ErrInvalid, number, worker)
	}
	step := "grid " + grid
	if worker != "" {
		step += ", worker " + worker
	}
	if note != "" {
		step += ": " + note
	}
	return s.apply(number, VerbAssign, by, step, g, func(t *Ticket, now time.Time) error {
		t.Grid = grid
		t.Assigned = worker
		s.restartAccept(t, now)
		return nil
	})
}

// Duplicate marks the ticket as a duplicate of ticket of, which must exist
// and not itself be a duplicate.
func (s *Store) Duplicate(number, of, by string) (Ticket, error) {
	return s.act(VerbDuplicate, number, by, of, nil)
}

// Escalate raises the ticket one level (community, then subdistrict).
func (s *Store) Escalate(number, by, note string) (Ticket, error) {
	return s.act(VerbEscalate, number, by, note, nil)
}

// Close archives the ticket; note says why (public).
func (s *Store) Close(number, by, note string) (Ticket, error) {
	return s.act(VerbClose, number, by, note, nil)
}

// act applies verb v (not VerbRate) to ticket number for worker by, after
// g approved the ticket in the same transaction. arg is the note, or
// Assign's grid, or Duplicate's original.
func (s *Store) act(v Verb, number, by, arg string, g guard) (Ticket, error) {
	switch v {
	case VerbAccept:
		return s.apply(number, v, by, "", g, func(t *Ticket, now time.Time) error {
			t.Assigned = by
			t.AcceptedAt = now
			return nil
		})
	case VerbStart, VerbResolve:
		note := arg
		if v == VerbStart {
			note = ""
		}
		return s.apply(number, v, by, note, g, func(t *Ticket, now time.Time) error {
			if t.AcceptedAt.IsZero() {
				t.AcceptedAt = now
			}
			if t.Assigned == "" {
				t.Assigned = by
			}
			return nil
		})
	case VerbReturn:
		if arg == "" {
			return Ticket{}, fmt.Errorf("%w: returning %s needs a reason", ErrInvalid, number)
		}
		return s.apply(number, v, by, arg, g, func(t *Ticket, now time.Time) error {
			t.Assigned = ""
			s.restartAccept(t, now)
			return nil
		})
	case VerbAssign:
		return s.assign(number, arg, "", by, "", g)
	case VerbDuplicate:
		return s.duplicate(number, arg, by, g)
	case VerbEscalate:
		return s.apply(number, v, by, arg, g, func(t *Ticket, _ time.Time) error {
			t.Level++
			return nil
		})
	case VerbClose:
		return s.apply(number, v, by, arg, g, nil)
	}
	return Ticket{}, fmt.Errorf("%w: verb %q", ErrInvalid, v)
}

func (s *Store) restartAccept(t *Ticket, now time.Time) {
	t.AcceptedAt = time.Time{}
	t.AcceptBy = now.Add(s.limit(t.Report.Urgency).Accept)
	t.Flags.WarnedAccept, t.Flags.EscalatedAccept = false, false
}

func (s *Store) duplicate(number, of, by string, g guard) (Ticket, error) {
	if of == "" || of == number {
		return Ticket{}, fmt.Errorf("%w: %s cannot duplicate %q", ErrInvalid, number, of)
	}
	var out Ticket
	err := replica.Update(s.db, func(tx *bolt.Tx) error {
		t, err := getTicket(tx, number)
		if err != nil {
			return err
		}
		if g != nil {
			if err := g(t); err != nil {
				return err
			}
		}
		orig, err := getTicket(tx, of)
		if err != nil {
			return err
		}
		if orig.Status == Duplicate {
			return fmt.Errorf("%w: %s is itself a duplicate of %s", ErrInvalid, of, orig.DuplicateOf)
		}
		err = s.step(t, VerbDuplicate, by, "of "+of, s.opts.Clock(), func(t *Ticket, _ time.Time) error {
			t.DuplicateOf = of
			return nil
		})
		if err != nil {
			return err
		}
		out = *t
		if err := putTicket(tx, t); err != nil {
			return err
		}
		return s.announce(tx, StatusPublication(*t))
	})
	return out, err
}

// Rate applies a resident's rating to a resolved ticket. It is idempotent
// by rating id: a rating seen before returns the ticket with applied
// false. Satisfied and basically satisfied rate and close the ticket;
// unsatisfied rates and reopens it, with fresh time limits. The comment is
// kept private.
func (s *Store) Rate(r *contract.Rating) (t Ticket, applied bool, err error) {
	if r == nil {
		return Ticket{}, false, fmt.Errorf("%w: nil rating", ErrInvalid)
	}
	if err := r.Validate(); err != nil {
		return Ticket{}, false, fmt.Errorf("tickets: rate: %w", err)
	}
	err = replica.Update(s.db, func(tx *bolt.Tx) error {
		rb := tx.Bucket(bucketRatings)
		if n := rb.Get([]byte(r.ID)); n != nil {
			old, err := getTicket(tx, string(n))
			if err != nil {
				return err
			}
			t = *old
			return s.announce(tx, StatusPublication(t)) // as the resend may be after a lost publication
		}
		tk, err := getTicket(tx, r.Number)
		if err != nil {
			return err
		}
		now := s.opts.Clock()
		err = s.step(tk, VerbRate, r.Device, r.Rating, now, func(tk *Ticket, now time.Time) error {
			tk.Rating = r.Rating
			tk.Ratings = append(tk.Ratings, RatingRecord{ID: r.ID, Rating: r.Rating, Comment: r.Comment, Device: r.Device, At: now})
			return nil
		})
		if err != nil {
			return err
		}
		if r.Rating == contract.RatingUnsatisfied {
			tk.Status = Reopened
			tk.Timeline = append(tk.Timeline, contract.TicketStep{Status: string(Reopened), By: "system", Note: "unsatisfied", At: now})
			s.restartAccept(tk, now)
			tk.ResolveBy = now.Add(s.limit(tk.Report.Urgency).Resolve)
			tk.Flags = DueFlags{}
		} else {
			tk.Status = Closed
			tk.Timeline = append(tk.Timeline, contract.TicketStep{Status: string(Closed), By: "system", At: now})
		}
		if err := replica.Put(tx, bucketRatings, []byte(r.ID), []byte(tk.Number)); err != nil {
			return err
		}
		t, applied = *tk, true
		if err := putTicket(tx, tk); err != nil {
			return err
		}
		return s.announce(tx, StatusPublication(t))
	})
	if err != nil {
		return Ticket{}, false, err
	}
	return t, applied, nil
}

// publicTimeline is the timeline residents see: the first step (when it
// was filed) and the latest steps that fit publicBudget, notes cut to
// maxPublicNote runes, so that a ticket reopened again and again can
// always be published.
func publicTimeline(steps []contract.TicketStep) []contract.TicketStep {
	out := slices.Clone(steps)
	for i := range out {
		if r := []rune(out[i].Note); len(r) > maxPublicNote {
			out[i].Note = string(r[:maxPublicNote]) + "…"
		}
	}
	used := 0
	for i := len(out) - 1; i > 0; i-- {
		b, _ := json.Marshal(out[i])
		if used += len(b) + 1; used > publicBudget {
			return append(out[:1], out[i+1:]...)
		}
	}
	return out
}

// maxPublicNote bounds a worker's note in the public timeline, in runes.
const maxPublicNote = 500

// Status returns the public view of t: no phone, no free text, no door, no
// rating comment.
func Status(t Ticket) contract.TicketStatus {
	loc := t.Report.Location
	loc.Door = ""
	loc.Grid = t.Grid
	st := contract.TicketStatus{
		Number:   t.Number,
		Category: t.Report.Category,
		Location: loc,
		Status:   string(t.Status),
		Assigned: t.Assigned,
		Rating:   t.Rating,
		Timeline: publicTimeline(t.Timeline),
	}
	if !t.Status.Final() {
		if t.AcceptedAt.IsZero() {
			st.Due = t.AcceptBy
		} else {
			st.Due = t.ResolveBy
		}
	}
	return st
}
