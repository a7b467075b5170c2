package kiosk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"linli/kiosk/catalog"
	"linli/kiosk/ticketno"
	"linli/mqtt/contract"
	"linli/mqtt/outbox"
)

// Errors returned by Service.
var (
	// ErrCategory means the draft's category is not in the catalogue.
	ErrCategory = errors.New("kiosk: unknown category")
	// ErrPhone means a phone number is not a valid mainland number.
	ErrPhone = errors.New("kiosk: invalid phone number")
	// ErrConsent means a phone number was given without consent to keep it.
	ErrConsent = errors.New("kiosk: phone number without consent")
	// ErrDraft means the draft breaks another rule (urgency, location,
	// text length).
	ErrDraft = errors.New("kiosk: invalid report")
	// ErrUnknownTicket means the kiosk knows no ticket by that number.
	ErrUnknownTicket = errors.New("kiosk: unknown ticket")
	// ErrNotResolved means the ticket cannot be rated: it is not resolved.
	ErrNotResolved = errors.New("kiosk: ticket not resolved")
	// ErrAlreadyRated means this resolution of the ticket was rated already.
	ErrAlreadyRated = errors.New("kiosk: ticket already rated")
	// ErrWish means a wish is empty or too long.
	ErrWish = errors.New("kiosk: invalid wish")
	// ErrCorrupt means a record the kiosk stored cannot be read back (a
	// damaged database file). Readers that return lists skip such records,
	// log them at Error and count them in Health.StoreErrors; Rate refuses
	// with it rather than guess.
	ErrCorrupt = errors.New("kiosk: stored record unreadable")
)

// Limits on what a resident enters.
const (
	MaxText    = 200 // runes of a report's free text, a rating comment or a wish
	MaxPhrases = 8   // quick phrases per report
)

// Ticket states as the hub publishes them (grid/tickets), for the UI.
const (
	StatusSubmitted  = "submitted"
	StatusAccepted   = "accepted"
	StatusInProgress = "in-progress"
	StatusResolved   = "resolved"
	StatusRated      = "rated"
	StatusClosed     = "closed"
	StatusReturned   = "returned"
	StatusEscalated  = "escalated"
	StatusReopened   = "reopened"
	StatusDuplicate  = "duplicate"
)

// NoteAwaitingHub is the note of the single "submitted" step Track shows
// for a report the hub has not answered yet ("submitted, waiting to sync").
const NoteAwaitingHub = "awaiting-hub"

// Kinds of change passed to OnChange listeners.
const (
	ChangeReport    = "report"    // a report was filed here
	ChangeTicket    = "ticket"    // a ticket status arrived (or was cleared)
	ChangeRating    = "rating"    // a rating was given here
	ChangeWishes    = "wishes"    // a wish was posted here, or the list arrived
	ChangeNotices   = "notices"   // the notices arrived
	ChangeDirectory = "directory" // the directory arrived
	ChangeAlerts    = "alerts"    // a building's alerts changed: interrupt the UI
)

// Options configures a Service. Fields marked required have no default.
type Options struct {
	// Device is the kiosk's id (contract.ValidID). Required.
	Device string
	// Code is the kiosk's ticket code (ticketno.ValidPrefix), unique among
	// the kiosks of the hub. Required.
	Code string
	// Community is the kiosk's community id. Required.
	Community string
	// Buildings limits the alerts kept to these buildings. Nil keeps the
	// alerts of every building of the community.
	Buildings []string
	// Catalog is the report catalogue. Default catalog.Default().
	Catalog *catalog.Catalog
	// Site, if set, is used to check a report's or wish's location.
	Site *catalog.Site
	// TimeZone is the zone of the date in ticket numbers. Default
	// time.Local.
	TimeZone *time.Location
	// Clock is the kiosk's wall clock. Default time.Now.
	Clock func() time.Time
	// Synced reports whether the wall clock has been set (NTP, RTC). Nil
	// means it is.
	Synced func() bool
	// Uptime is the time since boot. Default: time since Open.
	Uptime func() time.Duration
	// Logger receives bad messages (Warn) and storage failures (Error).
	// Default: discard.
	Logger *slog.Logger
}

// Draft is what a resident entered for a report.
type Draft struct {
	Category string            // catalogue id; required
	Location contract.Location // building / unit / door; Community defaults to the kiosk's
	Phrases  []string          // quick phrases picked
	Text     string            // optional short text, at most MaxText runes
	Phone    string            // optional; only with Consent
	Consent  bool              // the resident agreed to the phone number being kept
	Urgency  string            // contract.Urgency*; empty takes the category's default
}

// Health is the kiosk's view for the maintenance screen.
type Health struct {
	Outbox      outbox.Stats // waiting to be sent
	Reports     int          // reports filed here, ever (kept)
	Pending     int          // of those, with no status from the hub yet
	Tickets     int          // ticket statuses cached
	Alerts      int          // active alerts cached
	BadMessages uint64       // messages that did not decode, since Open
	StoreErrors uint64       // failed reads of the kiosk's own database (ErrCorrupt and others), since Open
	Ignored     uint64       // messages not for this kiosk, since Open
	LastMessage time.Time    // when the last message arrived (zero: none since Open)
}

// Service is the kiosk's domain. Its methods are safe for concurrent use.
type Service struct {
	db     *bolt.DB
	ob     *outbox.Outbox
	opts   Options
	log    *slog.Logger
	issuer *ticketno.Issuer
	start  time.Time

	mu        sync.Mutex
	listeners []func(kind string)

	bad, ignored atomic.Uint64
	storeErrs    atomic.Uint64
	lastMsg      atomic.Int64 // unix nanos
}

var (
	bucketReports = []byte("kiosk.reports") // number → storedReport
	bucketTickets = []byte("kiosk.tickets") // number → TicketStatus from the hub
	bucketRatings = []byte("kiosk.ratings") // number → storedRating (the last given)
	bucketWishes  = []byte("kiosk.wishes")  // id → Wish posted here
	bucketArea    = []byte("kiosk.area")    // "notices", "directory", "wishes", "alerts/{building}" → message
	bucketMeta    = []byte("kiosk.meta")    // sequence for rating and wish ids
)

type storedReport struct {
	Report   contract.Report `json:"report"`
	Scrubbed bool            `json:"scrubbed,omitempty"` // phone and text removed once the hub answered
}

type storedRating struct {
	Rating   contract.Rating `json:"rating"`
	Resolved time.Time       `json:"resolved"` // the resolution rated
}

// Open returns the Service kept in db, sending through ob. The caller owns
// db and ob (and the uplink that drains ob).
func Open(db *bolt.DB, ob *outbox.Outbox, opts *Options) (*Service, error) {
	s := &Service{db: db, ob: ob}
	if opts != nil {
		s.opts = *opts
	}
	o := &s.opts
	switch {
	case !contract.ValidID(o.Device):
		return nil, fmt.Errorf("kiosk: device id %q is not valid", o.Device)
	case !contract.ValidID(o.Community):
		return nil, fmt.Errorf("kiosk: community id %q is not valid", o.Community)
	}
	if o.Catalog == nil {
		o.Catalog = catalog.Default()
	}
	if err := o.Catalog.Validate(); err != nil {
		return nil, fmt.Errorf("kiosk: %w", err)
	}
	if o.TimeZone == nil {
		o.TimeZone = time.Local
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	s.start = o.Clock()
	if o.Synced == nil {
		o.Synced = func() bool { return true }
	}
	if o.Uptime == nil {
		o.Uptime = func() time.Duration { return o.Clock().Sub(s.start) }
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s.log = o.Logger.With("component", "kiosk", "device", o.Device)
	var err error
	if s.issuer, err = ticketno.NewIssuer(db, o.Code, &ticketno.Options{Bucket: "kiosk.ticketno", Location: o.TimeZone}); err != nil {
		return nil, fmt.Errorf("kiosk: %w", err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketReports, bucketTickets, bucketRatings, bucketWishes, bucketArea, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("kiosk: open: %w", err)
	}
	return s, nil
}

// Catalog returns the report catalogue.
func (s *Service) Catalog() *catalog.Catalog { return s.opts.Catalog }

// Site returns the site description, or nil.
func (s *Service) Site() *catalog.Site { return s.opts.Site }

// Topics returns the topic filters the uplink must subscribe to (QoS 1)
// and hand to HandleMessage.
func (s *Service) Topics() []string {
	return []string{contract.TicketTopic("#"), contract.AreaTopic(s.opts.Community, "#")}
}

// OnChange registers f to be called after each change the UI shows. f runs
// synchronously on the goroutine that made the change (the UI's, for
// FileReport; the uplink's, for HandleMessage), after the change is
// stored; it must not block (hand the work to the UI loop, e.g. fyne.Do).
// ChangeAlerts means a building's hazard alerts changed: show them at once.
func (s *Service) OnChange(f func(kind string)) {
	s.mu.Lock()
	s.listeners = append(s.listeners, f)
	s.mu.Unlock()
}

func (s *Service) changed(kind string) {
	s.mu.Lock()
	ls := slices.Clone(s.listeners)
	s.mu.Unlock()
	for _, f := range ls {
		f(kind)
	}
}

func (s *Service) stamp() contract.Stamp {
	return contract.Stamp{At: s.opts.Clock(), Synced: s.opts.Synced(), Uptime: s.opts.Uptime()}
}

func (s *Service) location(l contract.Location) (contract.Location, error) {
	if l.Community == "" {
		l.Community = s.opts.Community
	}
	l.Grid = "" // the hub decides
	if s.opts.Site != nil {
		if err := s.opts.Site.Check(l); err != nil {
			return l, fmt.Errorf("%w: %w", ErrDraft, err)
		}
	}
	return l, nil
}

// FileReport stores the resident's report, with a new ticket number and its
// outbox item, in one transaction, and returns the number to show. It
// works offline: the uplink delivers the report when it can. Nothing is
// stored (and no number used) when it fails.
func (s *Service) FileReport(ctx context.Context, d Draft) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	cat, ok := s.opts.Catalog.Category(d.Category)
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrCategory, d.Category)
	}
	if d.Urgency == "" {
		d.Urgency = cat.Urgency
	}
	if !catalog.ValidUrgency(d.Urgency) {
		return "", fmt.Errorf("%w: urgency %q", ErrDraft, d.Urgency)
	}
	if len(d.Phrases) > MaxPhrases {
		return "", fmt.Errorf("%w: %d phrases (max %d)", ErrDraft, len(d.Phrases), MaxPhrases)
	}
	if n := utf8.RuneCountInString(d.Text); n > MaxText {
		return "", fmt.Errorf("%w: text of %d characters (max %d)", ErrDraft, n, MaxText)
	}
	if d.Phone != "" {
		if !d.Consent {
			return "", ErrConsent
		}
		p, err := NormalizePhone(d.Phone)
		if err != nil {
			return "", err
		}
		d.Phone = p
	} else {
		d.Consent = false
	}
	loc, err := s.location(d.Location)
	if err != nil {
		return "", err
	}
	r := contract.Report{
		Device:   s.opts.Device,
		Category: cat.ID,
		Location: loc,
		Phrases:  slices.Clone(d.Phrases),
		Text:     d.Text,
		Phone:    d.Phone,
		Consent:  d.Consent,
		Urgency:  d.Urgency,
		Time:     s.stamp(),
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		n, err := s.issuer.NextTx(tx, r.Time.At)
		if err != nil {
			return err
		}
		r.Number = n
		payload, err := contract.Encode(&r)
		if err != nil {
			return err
		}
		if err := putJSON(tx, bucketReports, n, storedReport{Report: r}); err != nil {
			return err
		}
		_, err = s.ob.PutTx(tx, outbox.Item{Class: outbox.Event, Topic: contract.DeviceTopic(s.opts.Device, "report"), Payload: payload, QoS: 1})
		return err
	})
	if err != nil {
		s.log.Error("report not stored", "err", err)
		return "", fmt.Errorf("kiosk: file report: %w", err)
	}
	s.ob.Notify()
	s.changed(ChangeReport)
	return r.Number, nil
}

func putJSON(tx *bolt.Tx, bucket []byte, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Bucket(bucket).Put([]byte(key), b)
}

// getJSON decodes the record at key into v. false, nil means there is
// none; a record that does not decode is reported as true and an error
// wrapping ErrCorrupt.
func getJSON(tx *bolt.Tx, bucket []byte, key string, v any) (bool, error) {
	b := tx.Bucket(bucket).Get([]byte(key))
	if b == nil {
		return false, nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return true, fmt.Errorf("%w: %s/%s: %w", ErrCorrupt, bucket, key, err)
	}
	return true, nil
}

// readFailed logs and counts a failed read of the kiosk's database; the
// caller goes on with what it could read.
func (s *Service) readFailed(what string, err error, args ...any) {
	s.storeErrs.Add(1)
	s.log.Error(what+": database read failed", append(args, "err", err)...)
}

// Track returns what the kiosk knows of ticket number (as typed; see
// ticketno.Normalize): the hub's status if it has one, else, for a report
// filed here that the hub has not answered yet, status "submitted" with one
// step noted NoteAwaitingHub. A rating given here and not yet answered
// shows in Rating. false means the kiosk knows no such ticket.
func (s *Service) Track(number string) (contract.TicketStatus, bool) {
	number = ticketno.Normalize(number)
	var st contract.TicketStatus
	var found bool
	err := s.db.View(func(tx *bolt.Tx) error {
		ok, err := getJSON(tx, bucketTickets, number, &st)
		if err != nil {
			return err
		}
		if ok {
			found = true
			var r storedRating
			ok, err := getJSON(tx, bucketRatings, number, &r)
			if err != nil {
				// Show the ticket without the rating; Rate refuses it.
				s.readFailed("track", err, "number", number)
			} else if ok && st.Status == StatusResolved && r.Resolved.Equal(lastResolved(st)) {
				st.Rating = r.Rating.Rating
			}
			return nil
		}
		var rep storedReport
		if ok, err = getJSON(tx, bucketReports, number, &rep); err != nil || !ok {
			return err
		}
		found = true
		loc := rep.Report.Location
		loc.Door = ""
		st = contract.TicketStatus{
			Number:   number,
			Category: rep.Report.Category,
			Location: loc,
			Status:   StatusSubmitted,
			Timeline: []contract.TicketStep{{Status: StatusSubmitted, By: s.opts.Device, Note: NoteAwaitingHub, At: rep.Report.Time.At}},
		}
		return nil
	})
	if err != nil {
		s.readFailed("track", err, "number", number)
		return contract.TicketStatus{}, false
	}
	return st, found
}

// Find returns the numbers of the tickets the kiosk knows whose digits
// (everything after the kiosk code) are typed, as from the digit keypad.
func (s *Service) Find(typed string) []string {
	var out []string
	err := s.db.View(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketReports, bucketTickets} {
			err := tx.Bucket(b).ForEach(func(k, _ []byte) error {
				if n := string(k); ticketno.Match(n, typed) && !slices.Contains(out, n) {
					out = append(out, n)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.readFailed("find", err)
	}
	slices.Sort(out)
	return out
}

// Reports returns the numbers of the reports filed at this kiosk, oldest
// first.
func (s *Service) Reports() []string {
	type rec struct {
		n  string
		at time.Time
	}
	var rs []rec
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketReports).ForEach(func(k, v []byte) error {
			var r storedReport
			if err := json.Unmarshal(v, &r); err != nil {
				s.readFailed("reports", fmt.Errorf("%w: %s/%s: %w", ErrCorrupt, bucketReports, k, err), "number", string(k))
				return nil // skip it, list the others
			}
			rs = append(rs, rec{string(k), r.Report.Time.At})
			return nil
		})
	})
	if err != nil {
		s.readFailed("reports", err)
	}
	slices.SortStableFunc(rs, func(a, b rec) int { return a.at.Compare(b.at) })
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.n
	}
	return out
}

func lastResolved(st contract.TicketStatus) time.Time {
	for i := len(st.Timeline) - 1; i >= 0; i-- {
		if st.Timeline[i].Status == StatusResolved {
			return st.Timeline[i].At
		}
	}
	return time.Time{}
}

func (s *Service) nextID(tx *bolt.Tx, kind string) (string, error) {
	seq, err := tx.Bucket(bucketMeta).NextSequence()
	if err != nil {
		return "", err
	}
	return s.opts.Device + "-" + kind + strconv.FormatUint(seq, 10), nil
}

// Rate sends the resident's rating (contract.Rating*) of a resolved ticket,
// with an optional comment. It fails with ErrUnknownTicket, ErrNotResolved
// (the hub's status is not "resolved"), ErrAlreadyRated (this resolution
// was rated here already; a reopened and again resolved ticket can be
// rated again) or ErrCorrupt (the ticket's status or the rating stored
// here cannot be read, so whether it was rated is unknown: it is not rated
// again).
func (s *Service) Rate(ctx context.Context, number, rating, comment string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	switch rating {
	case contract.RatingSatisfied, contract.RatingBasically, contract.RatingUnsatisfied:
	default:
		return fmt.Errorf("%w: rating %q", ErrDraft, rating)
	}
	if n := utf8.RuneCountInString(comment); n > MaxText {
		return fmt.Errorf("%w: comment of %d characters (max %d)", ErrDraft, n, MaxText)
	}
	number = ticketno.Normalize(number)
	err := s.db.Update(func(tx *bolt.Tx) error {
		var st contract.TicketStatus
		ok, err := getJSON(tx, bucketTickets, number, &st)
		if err != nil {
			return err
		}
		if !ok {
			if ok, _ := getJSON(tx, bucketReports, number, &storedReport{}); ok {
				return fmt.Errorf("%w: %s is waiting for the hub", ErrNotResolved, number)
			}
			return fmt.Errorf("%w: %s", ErrUnknownTicket, number)
		}
		if st.Status != StatusResolved {
			return fmt.Errorf("%w: %s is %s", ErrNotResolved, number, st.Status)
		}
		resolved := lastResolved(st)
		var prev storedRating
		ok, err = getJSON(tx, bucketRatings, number, &prev)
		if err != nil {
			// Unknown whether this resolution was rated: refuse rather
			// than send a second rating of it.
			return err
		}
		if ok && prev.Resolved.Equal(resolved) {
			return fmt.Errorf("%w: %s", ErrAlreadyRated, number)
		}
		id, err := s.nextID(tx, "r")
		if err != nil {
			return err
		}
		r := contract.Rating{ID: id, Number: number, Device: s.opts.Device, Rating: rating, Comment: comment, Time: s.stamp()}
		payload, err := contract.Encode(&r)
		if err != nil {
			return err
		}
		if err := putJSON(tx, bucketRatings, number, storedRating{Rating: r, Resolved: resolved}); err != nil {
			return err
		}
		_, err = s.ob.PutTx(tx, outbox.Item{Class: outbox.Event, Topic: contract.DeviceTopic(s.opts.Device, "report"), Payload: payload, QoS: 1})
		return err
	})
	if err != nil {
		if errors.Is(err, ErrCorrupt) {
			s.readFailed("rate", err, "number", number)
		}
		return fmt.Errorf("kiosk: rate: %w", err)
	}
	s.ob.Notify()
	s.changed(ChangeRating)
	return nil
}

// PostWish sends a resident's micro-wish and returns its id. loc's
// Community defaults to the kiosk's.
func (s *Service) PostWish(ctx context.Context, text string, loc contract.Location) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if text == "" || utf8.RuneCountInString(text) > MaxText {
		return "", fmt.Errorf("%w: %d characters (1 to %d)", ErrWish, utf8.RuneCountInString(text), MaxText)
	}
	loc, err := s.location(loc)
	if err != nil {
		return "", err
	}
	var id string
	err = s.db.Update(func(tx *bolt.Tx) error {
		var err error
		if id, err = s.nextID(tx, "w"); err != nil {
			return err
		}
		w := contract.Wish{ID: id, Device: s.opts.Device, Text: text, Location: loc, Time: s.stamp()}
		payload, err := contract.Encode(&w)
		if err != nil {
			return err
		}
		if err := putJSON(tx, bucketWishes, id, w); err != nil {
			return err
		}
		_, err = s.ob.PutTx(tx, outbox.Item{Class: outbox.Event, Topic: contract.DeviceTopic(s.opts.Device, "report"), Payload: payload, QoS: 1})
		return err
	})
	if err != nil {
		return "", fmt.Errorf("kiosk: post wish: %w", err)
	}
	s.ob.Notify()
	s.changed(ChangeWishes)
	return id, nil
}

// Wishes returns the community's wishes as the hub last published them,
// followed by the wishes posted here that the hub has not listed yet
// (shown as open).
func (s *Service) Wishes() []contract.Wish {
	var list contract.Wishes
	var own []contract.Wish
	err := s.db.View(func(tx *bolt.Tx) error {
		if _, err := getJSON(tx, bucketArea, "wishes", &list); err != nil {
			s.readFailed("wishes", err)
			list = contract.Wishes{}
		}
		return tx.Bucket(bucketWishes).ForEach(func(k, v []byte) error {
			var w contract.Wish
			if err := json.Unmarshal(v, &w); err != nil {
				s.readFailed("wishes", fmt.Errorf("%w: %s/%s: %w", ErrCorrupt, bucketWishes, k, err), "id", string(k))
				return nil // skip it, list the others
			}
			own = append(own, w)
			return nil
		})
	})
	if err != nil {
		s.readFailed("wishes", err)
	}
	out := list.Wishes
	slices.SortStableFunc(own, func(a, b contract.Wish) int { return a.Time.At.Compare(b.Time.At) })
	for _, w := range own {
		if !slices.ContainsFunc(out, func(x contract.Wish) bool { return x.ID == w.ID }) {
			out = append(out, w)
		}
	}
	return out
}

// Wish returns the wish with id, as the hub last published it (ClaimedBy
// says whether someone took it on), or as posted here.
func (s *Service) Wish(id string) (contract.Wish, bool) {
	for _, w := range s.Wishes() {
		if w.ID == id {
			return w, true
		}
	}
	return contract.Wish{}, false
}

// Notices returns the community's notices that have not expired, as the
// hub last published them. A cached copy that cannot be read is logged and
// counted (Health.StoreErrors) and shows as no notices.
func (s *Service) Notices() []contract.Notice {
	var ns contract.Notices
	err := s.db.View(func(tx *bolt.Tx) error {
		_, err := getJSON(tx, bucketArea, "notices", &ns)
		return err
	})
	if err != nil {
		s.readFailed("notices", err)
		return nil
	}
	now := s.opts.Clock()
	return slices.DeleteFunc(ns.Notices, func(n contract.Notice) bool { return !n.Expires.IsZero() && !now.Before(n.Expires) })
}

// Directory returns the public-service directory as the hub last published
// it. A cached copy that cannot be read is logged and counted
// (Health.StoreErrors) and shows as an empty directory.
func (s *Service) Directory() []contract.Service {
	var d contract.Directory
	err := s.db.View(func(tx *bolt.Tx) error {
		_, err := getJSON(tx, bucketArea, "directory", &d)
		return err
	})
	if err != nil {
		s.readFailed("directory", err)
		return nil
	}
	return d.Services
}

// Alerts returns the active (not cleared) hazard alerts of the kiosk's
// buildings, most severe first, then newest first. A building whose cached
// alerts cannot be read is logged and counted (Health.StoreErrors); the
// others are returned.
func (s *Service) Alerts() []contract.Alert {
	var out []contract.Alert
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketArea).Cursor()
		prefix := []byte("alerts/")
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var aa contract.AreaAlerts
			if err := json.Unmarshal(v, &aa); err != nil {
				s.readFailed("alerts", fmt.Errorf("%w: %s/%s: %w", ErrCorrupt, bucketArea, k, err), "key", string(k))
				continue
			}
			for _, a := range aa.Alerts {
				if !a.Cleared {
					out = append(out, a)
				}
			}
		}
		return nil
	})
	if err != nil {
		s.readFailed("alerts", err)
	}
	slices.SortStableFunc(out, func(a, b contract.Alert) int {
		if d := b.State.Severity() - a.State.Severity(); d != 0 {
			return d
		}
		return b.Raised.Compare(a.Raised)
	})
	return out
}

// Health returns the kiosk's counters for the maintenance screen.
func (s *Service) Health() (Health, error) {
	var h Health
	var err error
	if h.Outbox, err = s.ob.Stats(); err != nil {
		return h, fmt.Errorf("kiosk: health: %w", err)
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		tickets := tx.Bucket(bucketTickets)
		h.Tickets = tickets.Stats().KeyN
		return tx.Bucket(bucketReports).ForEach(func(k, _ []byte) error {
			h.Reports++
			if tickets.Get(k) == nil {
				h.Pending++
			}
			return nil
		})
	})
	if err != nil {
		return h, fmt.Errorf("kiosk: health: %w", err)
	}
	h.Alerts = len(s.Alerts())
	h.BadMessages = s.bad.Load()
	h.StoreErrors = s.storeErrs.Load()
	h.Ignored = s.ignored.Load()
	if n := s.lastMsg.Load(); n != 0 {
		h.LastMessage = time.Unix(0, n)
	}
	return h, nil
}
