package ui

import (
	"context"
	"time"

	"linli/mqtt/contract"
	"linli/ui/i18n"
)

// Draft is a report as the resident composed it.
type Draft struct {
	Category string            // Category.ID
	Urgency  string            // from the category: emergency, urgent, normal
	Location contract.Location // building, unit, door; empty building = common area
	Phrases  []string          // chosen quick phrases, in Chinese
	Phone    string            // digits; empty when not given
	Consent  bool              // the resident agreed to be called on Phone
}

// Reporter files, finds and rates tickets.
type Reporter interface {
	// FileReport stores the report for sending and returns its ticket number.
	FileReport(ctx context.Context, d Draft) (number string, err error)
	// Track returns the last known public status of a ticket.
	Track(number string) (contract.TicketStatus, bool)
	// Rate records a rating (contract.Rating*) of a resolved ticket.
	Rate(ctx context.Context, number, rating, comment string) error
}

// Board is the community's public board: wishes, notices and services.
type Board interface {
	Wishes() []contract.Wish
	PostWish(ctx context.Context, text string) error
	Notices() []contract.Notice
	Directory() []contract.Service
}

// Alerter lists the active hazard alerts of the kiosk's area.
type Alerter interface {
	Alerts() []contract.Alert
}

// Backend is everything the screens need from the kiosk domain.
type Backend interface {
	Reporter
	Board
	Alerter
}

// Status is what the maintenance screen shows.
type Status struct {
	Device    string
	Connected bool            // the MQTT link is up
	Health    contract.Health // outbox depth, firmware, uptime, …
}

// Category is one tile of the report grid.
type Category struct {
	ID      string
	Name    string // Chinese
	NameEN  string
	Icon    string // a Fyne theme icon name ("warning", "home", …); empty = generic
	Urgency string // emergency, urgent, normal; emergency shows the 119/110 line
	Phrases []Phrase
}

// Phrase is a quick phrase offered for a category.
type Phrase struct {
	Text   string // Chinese; this is what the report carries
	TextEN string
}

// Places is the location picker's configuration.
type Places struct {
	Community string
	Buildings []string // labels such as "3"; shown as 3号楼 / Building 3
	Units     []string // labels such as "2"; shown as 2单元 / Unit 2
	// UnitsOf overrides Units for the buildings it lists.
	UnitsOf map[string][]string
	// Names are the display names of buildings whose id is not a plain
	// number ("b1" → 北区1栋); a numeric id shows as 3号楼 / Building 3.
	Names map[string]Phrase
}

// units returns the units of building b.
func (p Places) units(b string) []string {
	if u, ok := p.UnitsOf[b]; ok {
		return u
	}
	return p.Units
}

// Options configure a Kiosk. The zero value of each field has the default
// given beside it.
type Options struct {
	Lang        i18n.Lang     // language of a new session; zero = Chinese
	Catalogue   []Category    // report categories; nil = DefaultCatalogue
	Places      Places        // nil Buildings = 1…6, nil Units = 1…3
	PIN         string        // maintenance PIN; "" = "2580"
	IdleTimeout time.Duration // session wipe after no touch; 0 = 90 s
	Countdown   time.Duration // visible countdown before the wipe; 0 = 20 s
	// Zone is the time zone dates are shown in; nil = time.Local.
	Zone *time.Location
	// Now is the clock; nil = time.Now. Tests pass a fake.
	Now func() time.Time
	// TrackURL formats the ticket QR code with the ticket number, e.g.
	// "http://hub.local:8080/t/%s" (the hub's public ticket page, which a
	// resident's phone opens); "" = "linli:ticket:%s", which no phone
	// opens: set it wherever the hub's address is known.
	TrackURL string
	// Status feeds the maintenance screen; nil shows an empty one.
	Status func() Status
	// Refresh is called after a change that no touch caused (an alert, the
	// countdown) so the embedded driver redraws; nil = nothing.
	Refresh func()
	// SubmitTimeout bounds FileReport, Rate and PostWish; 0 = 5 s.
	SubmitTimeout time.Duration
}

func (o *Options) ensureDefaults() {
	if o.Catalogue == nil {
		o.Catalogue = DefaultCatalogue()
	}
	if o.Places.Buildings == nil {
		o.Places.Buildings = []string{"1", "2", "3", "4", "5", "6"}
	}
	if o.Places.Units == nil {
		o.Places.Units = []string{"1", "2", "3"}
	}
	if o.PIN == "" {
		o.PIN = "2580"
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 90 * time.Second
	}
	if o.Countdown <= 0 {
		o.Countdown = 20 * time.Second
	}
	if o.Countdown > o.IdleTimeout {
		o.Countdown = o.IdleTimeout
	}
	if o.Zone == nil {
		o.Zone = time.Local
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.TrackURL == "" {
		o.TrackURL = "linli:ticket:%s"
	}
	if o.Status == nil {
		o.Status = func() Status { return Status{} }
	}
	if o.Refresh == nil {
		o.Refresh = func() {}
	}
	if o.SubmitTimeout <= 0 {
		o.SubmitTimeout = 5 * time.Second
	}
}

// DefaultCatalogue returns the categories used when Options.Catalogue is
// nil, named from the i18n table.
func DefaultCatalogue() []Category {
	p := func(key string) Phrase { return Phrase{Text: zh(key), TextEN: en(key)} }
	c := func(id, icon, urgency string, phrases ...string) Category {
		cat := Category{ID: id, Name: zh("cat." + id), NameEN: en("cat." + id), Icon: icon, Urgency: urgency}
		for _, k := range phrases {
			cat.Phrases = append(cat.Phrases, p("phrase."+k))
		}
		return cat
	}
	return []Category{
		c("repair", "settings", "normal", "leak", "nopower", "light", "urgent", "repeated"),
		c("lift", "arrowUp", "urgent", "stuck", "broken", "urgent", "repeated"),
		c("clean", "delete", "normal", "garbage", "smell", "repeated"),
		c("noise", "volumeUp", "normal", "night", "repeated"),
		c("fire", "warning", "emergency", "smell", "blocked", "urgent"),
		c("facility", "home", "normal", "broken", "light", "repeated"),
		c("parking", "arrowForward", "normal", "blocked", "repeated"),
		c("safety", "visibility", "urgent", "broken", "urgent", "repeated"),
		c("dispute", "account", "normal", "night", "repeated"),
		c("other", "question", "normal", "urgent", "repeated"),
	}
}
