package kiosk

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"linli/kiosk/catalog"
	"linli/kiosk/ticketno"
	"linli/mqtt/contract"
	"linli/mqtt/outbox"
)

var t0 = time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)

type fixture struct {
	db    *bolt.DB
	ob    *outbox.Outbox
	s     *Service
	now   time.Time
	mu    sync.Mutex
	kinds []string
}

func (f *fixture) changes() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := f.kinds
	f.kinds = nil
	return k
}

func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "kiosk.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	f := &fixture{db: db, now: t0}
	if f.ob, err = outbox.Open(db, nil); err != nil {
		t.Fatal(err)
	}
	if opts.Device == "" {
		opts.Device = "kiosk-7"
	}
	if opts.Code == "" {
		opts.Code = "K7"
	}
	if opts.Community == "" {
		opts.Community = "hl"
	}
	opts.TimeZone = time.UTC
	opts.Clock = func() time.Time { return f.now }
	if f.s, err = Open(db, f.ob, &opts); err != nil {
		t.Fatal(err)
	}
	f.s.OnChange(func(kind string) {
		f.mu.Lock()
		f.kinds = append(f.kinds, kind)
		f.mu.Unlock()
	})
	return f
}

func (f *fixture) outbox(t *testing.T) []contract.Message {
	t.Helper()
	items, err := f.ob.Peek(0)
	if err != nil {
		t.Fatal(err)
	}
	var ms []contract.Message
	for _, it := range items {
		if it.Class != outbox.Event || it.QoS != 1 || it.Retain {
			t.Errorf("outbox item %+v: want an event at QoS 1, not retained", it)
		}
		m, err := contract.Decode(it.Topic, it.Payload)
		if err != nil {
			t.Fatalf("outbox item on %s: %v", it.Topic, err)
		}
		ms = append(ms, m)
	}
	return ms
}

const siteJSON = `{"community":"hl","buildings":[{"id":"3","units":[{"id":"1","floors":18,"per_floor":4}]}]}`

func TestFileReport(t *testing.T) {
	site, err := catalog.LoadSite(strings.NewReader(siteJSON))
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, Options{Site: site})
	ctx := context.Background()
	loc := contract.Location{Building: "3", Unit: "1", Door: "1204"}

	bad := []struct {
		name string
		d    Draft
		err  error
	}{
		{"unknown category", Draft{Category: "ufo", Location: loc}, ErrCategory},
		{"phone without consent", Draft{Category: "leak", Location: loc, Phone: "13812345678"}, ErrConsent},
		{"bad phone", Draft{Category: "leak", Location: loc, Phone: "12345", Consent: true}, ErrPhone},
		{"long text", Draft{Category: "leak", Location: loc, Text: strings.Repeat("水", MaxText+1)}, ErrDraft},
		{"bad urgency", Draft{Category: "leak", Location: loc, Urgency: "soon"}, ErrDraft},
		{"unknown door", Draft{Category: "leak", Location: contract.Location{Building: "3", Unit: "1", Door: "1905"}}, ErrDraft},
		{"too many phrases", Draft{Category: "leak", Location: loc, Phrases: make([]string, MaxPhrases+1)}, ErrDraft},
	}
	for _, b := range bad {
		if _, err := f.s.FileReport(ctx, b.d); !errors.Is(err, b.err) {
			t.Errorf("%s: err = %v, want %v", b.name, err, b.err)
		}
	}
	if ms := f.outbox(t); len(ms) != 0 {
		t.Fatalf("refused drafts queued %d messages", len(ms))
	}

	d := Draft{Category: "leak", Location: loc, Phrases: []string{"水管漏水"}, Text: "厨房", Phone: "138 1234 5678", Consent: true}
	n, err := f.s.FileReport(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	// Refused drafts used no number.
	if want := ticketno.Format("K7", t0, 1); n != want {
		t.Errorf("number = %q, want %q", n, want)
	}
	ms := f.outbox(t)
	if len(ms) != 1 {
		t.Fatalf("outbox holds %d messages, want 1", len(ms))
	}
	want := &contract.Report{
		Header:   contract.Header{V: contract.Version, Type: contract.TypeReport},
		Number:   n,
		Device:   "kiosk-7",
		Category: "leak",
		Location: contract.Location{Community: "hl", Building: "3", Unit: "1", Door: "1204"},
		Phrases:  []string{"水管漏水"},
		Text:     "厨房",
		Phone:    "13812345678",
		Consent:  true,
		Urgency:  contract.UrgencyUrgent, // the category's default
		Time:     contract.Stamp{At: t0, Synced: true},
	}
	if diff := cmp.Diff(want, ms[0]); diff != "" {
		t.Errorf("queued report (-want +got):\n%s", diff)
	}
	if got := f.changes(); !cmp.Equal(got, []string{ChangeReport}) {
		t.Errorf("changes = %v", got)
	}
	st, ok := f.s.Track(strings.ToLower(n))
	if !ok || st.Status != StatusSubmitted || len(st.Timeline) != 1 || st.Timeline[0].Note != NoteAwaitingHub || st.Location.Door != "" {
		t.Errorf("Track before the hub answered = %+v, %v", st, ok)
	}
	if _, ok := f.s.Track("K7-261127-99999"); ok {
		t.Error("Track of an unknown number succeeded")
	}
	if got := f.s.Find(ticketno.Digits(n)); !cmp.Equal(got, []string{n}) {
		t.Errorf("Find = %v", got)
	}
	// No phone: consent is not recorded either.
	n2, err := f.s.FileReport(ctx, Draft{Category: "street-light", Consent: true})
	if err != nil {
		t.Fatal(err)
	}
	if r := f.outbox(t)[1].(*contract.Report); r.Consent || r.Urgency != contract.UrgencyNormal || r.Location.Community != "hl" {
		t.Errorf("second report = %+v", r)
	}
	if got := f.s.Reports(); !cmp.Equal(got, []string{n, n2}) {
		t.Errorf("Reports = %v", got)
	}
}

func TestNormalizePhone(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"13812345678", "13812345678"},
		{"138-1234-5678", "13812345678"},
		{"+86 139 1234 5678", "13912345678"},
		{"8619912345678", "19912345678"},
		{"010-62345678", "010-62345678"},
		{"0755 83331234", "0755-83331234"},
		{"02087654321", "020-87654321"},
		{"0571-8765432", "0571-8765432"},
		{"83331234", "83331234"},
		{"12812345678", ""},  // 12x is no mobile prefix
		{"1381234567", ""},   // 10 digits
		{"138123456789", ""}, // 12 digits
		{"0755-0123456", ""}, // local part starts with 0
		{"001234567", ""},
		{"1381234567a", ""},
		{"110", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, err := NormalizePhone(tt.in)
		if tt.want == "" {
			if !errors.Is(err, ErrPhone) {
				t.Errorf("NormalizePhone(%q) = %q, %v; want ErrPhone", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizePhone(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func status(number, state string, steps ...string) []byte {
	st := &contract.TicketStatus{Number: number, Category: "leak", Status: state, Location: contract.Location{Community: "hl"}}
	for i, s := range steps {
		st.Timeline = append(st.Timeline, contract.TicketStep{Status: s, By: "w1", At: t0.Add(time.Duration(i) * time.Minute)})
	}
	return contract.MustEncode(st)
}

func TestHandleMessageAndRate(t *testing.T) {
	f := newFixture(t, Options{Buildings: []string{"3"}})
	ctx := context.Background()
	n, err := f.s.FileReport(ctx, Draft{Category: "leak", Phone: "13812345678", Consent: true, Text: "厨房"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.s.Rate(ctx, n, contract.RatingSatisfied, ""); !errors.Is(err, ErrNotResolved) {
		t.Errorf("rating a pending report: %v", err)
	}
	if err := f.s.Rate(ctx, "K7-261127-99999", contract.RatingSatisfied, ""); !errors.Is(err, ErrUnknownTicket) {
		t.Errorf("rating an unknown ticket: %v", err)
	}
	f.changes()
	f.s.HandleMessage(contract.TicketTopic(n), status(n, StatusAccepted, "submitted", "accepted"))
	st, ok := f.s.Track(n)
	if !ok || st.Status != StatusAccepted || len(st.Timeline) != 2 {
		t.Errorf("Track after the hub's status = %+v", st)
	}
	if err := f.s.Rate(ctx, n, contract.RatingSatisfied, ""); !errors.Is(err, ErrNotResolved) {
		t.Errorf("rating an accepted ticket: %v", err)
	}
	// The hub has the report: the kiosk's copy loses phone and text.
	var rep storedReport
	_ = f.db.View(func(tx *bolt.Tx) error { _, err := getJSON(tx, bucketReports, n, &rep); return err })
	if rep.Report.Phone != "" || rep.Report.Text != "" || !rep.Scrubbed {
		t.Errorf("report kept personal data after the hub answered: %+v", rep)
	}

	f.s.HandleMessage(contract.TicketTopic(n), status(n, StatusResolved, "submitted", "accepted", "resolved"))
	if err := f.s.Rate(ctx, n, contract.RatingUnsatisfied, "还在漏"); err != nil {
		t.Fatal(err)
	}
	if err := f.s.Rate(ctx, n, contract.RatingSatisfied, ""); !errors.Is(err, ErrAlreadyRated) {
		t.Errorf("second rating of the same resolution: %v", err)
	}
	if st, _ := f.s.Track(n); st.Rating != contract.RatingUnsatisfied {
		t.Errorf("Track does not show the pending rating: %+v", st)
	}
	// Reopened and resolved again: it may be rated again.
	f.s.HandleMessage(contract.TicketTopic(n), status(n, StatusResolved, "submitted", "accepted", "resolved", "rated", "reopened", "resolved"))
	if err := f.s.Rate(ctx, n, contract.RatingBasically, ""); err != nil {
		t.Errorf("rating the second resolution: %v", err)
	}
	ms := f.outbox(t)
	if len(ms) != 3 {
		t.Fatalf("outbox holds %d messages, want report + 2 ratings", len(ms))
	}
	r1, r2 := ms[1].(*contract.Rating), ms[2].(*contract.Rating)
	if r1.ID == r2.ID || r1.Rating != contract.RatingUnsatisfied || r1.Comment != "还在漏" || r2.Number != n {
		t.Errorf("ratings queued: %+v, %+v", r1, r2)
	}
	if got := f.changes(); !cmp.Equal(got, []string{ChangeTicket, ChangeTicket, ChangeRating, ChangeTicket, ChangeRating}) {
		t.Errorf("changes = %v", got)
	}

	// A retained status being cleared removes it.
	f.s.HandleMessage(contract.TicketTopic(n), nil)
	if st, _ := f.s.Track(n); st.Timeline[0].Note != NoteAwaitingHub {
		t.Errorf("cleared status still tracked: %+v", st)
	}

	alerts := &contract.AreaAlerts{Community: "hl", Building: "3", Alerts: []contract.Alert{
		{ID: "a1", Device: "mb-1", State: contract.StateFault, Raised: t0},
		{ID: "a2", Device: "mb-2", State: contract.StateAlarm, Raised: t0.Add(-time.Hour)},
		{ID: "a3", Device: "mb-3", State: contract.StateAlarm, Raised: t0},
		{ID: "a4", Device: "mb-4", State: contract.StateAlarm, Raised: t0, Cleared: true},
	}}
	f.s.HandleMessage(contract.AreaAlertsTopic("hl", "3"), contract.MustEncode(alerts))
	var ids []string
	for _, a := range f.s.Alerts() {
		ids = append(ids, a.ID)
	}
	if got := strings.Join(ids, ","); got != "a3,a2,a1" {
		t.Errorf("Alerts = %s, want a3,a2,a1", got)
	}
	if got := f.changes(); !cmp.Equal(got, []string{ChangeTicket, ChangeAlerts}) {
		t.Errorf("changes = %v", got)
	}

	f.s.HandleMessage(contract.AreaTopic("hl", "notices"), contract.MustEncode(&contract.Notices{Community: "hl", Notices: []contract.Notice{
		{ID: "n1", Title: "停水", Expires: t0.Add(time.Hour)}, {ID: "n2", Title: "台风", Level: "typhoon"}}}))
	f.s.HandleMessage(contract.AreaTopic("hl", "directory"), contract.MustEncode(&contract.Directory{Community: "hl", Services: []contract.Service{{Name: "社区卫生服务站", Phone: "0755-83331234"}}}))
	if got := len(f.s.Notices()); got != 2 {
		t.Errorf("%d notices, want 2", got)
	}
	f.now = t0.Add(2 * time.Hour)
	if ns := f.s.Notices(); len(ns) != 1 || ns[0].ID != "n2" {
		t.Errorf("after expiry: %+v", ns)
	}
	if d := f.s.Directory(); len(d) != 1 || d[0].Name != "社区卫生服务站" {
		t.Errorf("Directory = %+v", d)
	}

	h0, _ := f.s.Health()
	badOnes := []struct {
		topic   string
		payload []byte
	}{
		{contract.TicketTopic(n), []byte("{not json")},
		{contract.TicketTopic(n), contract.MustEncode(&contract.Notices{Community: "hl"})}, // wrong type
		{contract.TicketTopic("X-1"), status(n, StatusClosed)},                             // number mismatch
		{contract.AreaAlertsTopic("hl", "3"), contract.MustEncode(&contract.AreaAlerts{Community: "hl", Building: "4"})},
		{contract.AreaTopic("hl", "notices"), contract.MustEncode(&contract.Notices{Community: "zz"})},
		{"linli/v1/dev/kiosk-7/cmd", []byte("{}")},
		{"elsewhere/topic", []byte("{}")},
		{contract.TicketTopic(n), []byte(`{"v":2,"type":"ticket"}`)},
	}
	for _, b := range badOnes {
		f.s.HandleMessage(b.topic, b.payload)
	}
	f.s.HandleMessage(contract.AreaAlertsTopic("hl", "5"), contract.MustEncode(&contract.AreaAlerts{Community: "hl", Building: "5"})) // not our building
	f.s.HandleMessage(contract.AreaTopic("other", "notices"), contract.MustEncode(&contract.Notices{Community: "other"}))
	h, err := f.s.Health()
	if err != nil {
		t.Fatal(err)
	}
	if got := h.BadMessages - h0.BadMessages; got != uint64(len(badOnes)) {
		t.Errorf("BadMessages grew by %d, want %d", got, len(badOnes))
	}
	if h.Ignored != 2 || h.Reports != 1 || h.Pending != 1 || h.Alerts != 3 || h.Outbox.Events != 3 || h.LastMessage.IsZero() {
		t.Errorf("Health = %+v", h)
	}
	if got := f.changes(); len(got) != 2 { // notices, directory
		t.Errorf("bad messages caused changes: %v", got)
	}
	f.s.HandleMessage(contract.AreaAlertsTopic("hl", "3"), nil)
	if a := f.s.Alerts(); len(a) != 0 {
		t.Errorf("cleared alerts still shown: %+v", a)
	}
}

func TestWishes(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	if _, err := f.s.PostWish(ctx, "", contract.Location{}); !errors.Is(err, ErrWish) {
		t.Errorf("empty wish: %v", err)
	}
	id, err := f.s.PostWish(ctx, "想请人教用智能手机", contract.Location{Building: "3"})
	if err != nil {
		t.Fatal(err)
	}
	w, ok := f.s.Wish(id)
	if !ok || w.ClaimedBy != "" || w.Location.Community != "hl" {
		t.Errorf("own wish = %+v, %v", w, ok)
	}
	ms := f.outbox(t)
	if len(ms) != 1 || ms[0].(*contract.Wish).ID != id {
		t.Fatalf("outbox = %+v", ms)
	}
	list := &contract.Wishes{Community: "hl", Wishes: []contract.Wish{
		{ID: "other-w1", Text: "修自行车"},
		{ID: id, Text: "想请人教用智能手机", ClaimedBy: "张阿姨", ClaimedAt: t0},
	}}
	f.s.HandleMessage(contract.AreaTopic("hl", "wishes"), contract.MustEncode(list))
	ws := f.s.Wishes()
	if len(ws) != 2 {
		t.Fatalf("Wishes = %+v", ws)
	}
	if w, _ := f.s.Wish(id); w.ClaimedBy != "张阿姨" {
		t.Errorf("claimed wish = %+v", w)
	}
	if got := f.changes(); !cmp.Equal(got, []string{ChangeWishes, ChangeWishes}) {
		t.Errorf("changes = %v", got)
	}
}

func TestOpenValidates(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "k.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	ob, _ := outbox.Open(db, nil)
	for _, o := range []Options{
		{Code: "K7", Community: "hl"},
		{Device: "k/1", Code: "K7", Community: "hl"},
		{Device: "k1", Code: "k7", Community: "hl"},
		{Device: "k1", Code: "K7"},
	} {
		if _, err := Open(db, ob, &o); err == nil {
			t.Errorf("Open(%+v) succeeded", o)
		}
	}
}

// TestTicketsOfOtherCommunities: on a broker shared by several
// communities the kiosk keeps only its own community's tickets and the
// reports filed at it.
func TestTicketsOfOtherCommunities(t *testing.T) {
	f := newFixture(t, Options{})
	own, err := f.s.FileReport(context.Background(), Draft{Category: "leak"})
	if err != nil {
		t.Fatal(err)
	}
	f.changes()
	ticket := func(number, community string) []byte {
		return contract.MustEncode(&contract.TicketStatus{Number: number, Category: "leak", Status: StatusAccepted,
			Location: contract.Location{Community: community, Building: "3"},
			Timeline: []contract.TicketStep{{Status: "submitted", At: t0}, {Status: "accepted", At: t0}}})
	}
	tests := []struct {
		name, number, community string
		kept                    bool
	}{
		{"own community", "K2-261127-0001", "hl", true},
		{"other community", "K9-261127-0007", "zz", false},
		{"no community", "K9-261127-0008", "", false},
		{"own report, community changed by the hub", own, "zz", true},
	}
	for _, tt := range tests {
		h0, _ := f.s.Health()
		f.s.HandleMessage(contract.TicketTopic(tt.number), ticket(tt.number, tt.community))
		st, _ := f.s.Track(tt.number)
		h, _ := f.s.Health()
		changes := f.changes()
		if kept := st.Status == StatusAccepted; kept != tt.kept {
			t.Errorf("%s: kept = %v, want %v (Track = %+v)", tt.name, kept, tt.kept, st)
		}
		if ignored := h.Ignored - h0.Ignored; ignored != map[bool]uint64{true: 0, false: 1}[tt.kept] {
			t.Errorf("%s: Ignored grew by %d", tt.name, ignored)
		}
		if want := map[bool]int{true: 1, false: 0}[tt.kept]; len(changes) != want {
			t.Errorf("%s: changes %v, want %d", tt.name, changes, want)
		}
		if h.BadMessages != h0.BadMessages {
			t.Errorf("%s: counted as a bad message", tt.name)
		}
	}
	if got := f.s.Find(ticketno.Digits("K9-261127-0007")); len(got) != 0 {
		t.Errorf("Find of another community's ticket = %v", got)
	}
	// A retained status of another community being cleared: nothing to
	// clear, no change.
	h0, _ := f.s.Health()
	f.s.HandleMessage(contract.TicketTopic("K9-261127-0007"), nil)
	if h, _ := f.s.Health(); h.Ignored != h0.Ignored+1 || len(f.changes()) != 0 {
		t.Errorf("clearing an uncached ticket: ignored %d→%d, changes %v", h0.Ignored, h.Ignored, f.changes())
	}
	f.s.HandleMessage(contract.TicketTopic("K2-261127-0001"), nil)
	if _, ok := f.s.Track("K2-261127-0001"); ok || len(f.changes()) != 1 {
		t.Error("clearing a cached ticket: still tracked, or no change")
	}
}
