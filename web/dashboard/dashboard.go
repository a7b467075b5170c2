package dashboard

import (
	"errors"
	"fmt"
	"html"
	"io"
	"strings"
	"time"
	"unicode"

	"linli/grid/config"
	"linli/grid/tickets"
	"linli/kiosk/catalog"
	"linli/mqtt/contract"
)

// AlertSource lists alerts; *hub.Hub implements it. With cleared true it
// returns the cleared ones kept on disk too.
type AlertSource interface {
	Alerts(cleared bool) ([]contract.Alert, error)
}

// DeviceSource lists the devices the hub knows; *hub.Hub implements it.
type DeviceSource interface {
	Devices() []contract.DeviceInfo
}

// TicketSource lists tickets; *tickets.Store implements it.
type TicketSource interface {
	List(f tickets.Filter) ([]tickets.Ticket, error)
}

// Options configures a Dashboard.
type Options struct {
	// Config gives the communities and grids. Required.
	Config *config.Config
	// Alerts, Devices and Tickets are the sources; a nil one leaves its
	// charts out.
	Alerts  AlertSource
	Devices DeviceSource
	Tickets TicketSource
	// Catalog names the ticket categories; nil means catalog.Default().
	Catalog *catalog.Catalog
	// Days is the period of the charts over time, ending today. Default 30.
	Days int
	// Zone is the time zone of days and weeks. Default time.Local.
	Zone *time.Location
	// Now tells the time. Default time.Now.
	Now func() time.Time
}

// DefaultDays is the default of Options.Days.
const DefaultDays = 30

func (o *Options) ensureDefaults() {
	if o.Catalog == nil {
		o.Catalog = catalog.Default()
	}
	if o.Days <= 0 {
		o.Days = DefaultDays
	}
	if o.Zone == nil {
		o.Zone = time.Local
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Scope selects what the dashboard shows.
type Scope struct {
	// Community is a community id; empty means the whole subdistrict.
	Community string
}

// Errors.
var (
	// ErrNoConfig means Options.Config is nil.
	ErrNoConfig = errors.New("dashboard: no configuration")
	// ErrUnknownCommunity means Scope.Community is not in the configuration.
	ErrUnknownCommunity = errors.New("dashboard: unknown community")
)

// Dashboard renders the dashboard. It is safe for concurrent use.
type Dashboard struct {
	o Options
}

// New returns a dashboard over opts' sources.
func New(opts *Options) (*Dashboard, error) {
	if opts == nil || opts.Config == nil {
		return nil, ErrNoConfig
	}
	o := *opts
	o.ensureDefaults()
	return &Dashboard{o: o}, nil
}

// Render writes the dashboard of scope as an HTML fragment in lang ("zh"
// or "en"; anything else is taken as "zh"). It reads every source once; an
// error of a source stops it before anything is written.
func (d *Dashboard) Render(w io.Writer, scope Scope, lang string) error {
	if scope.Community != "" && !d.known(scope.Community) {
		return fmt.Errorf("%w: %q", ErrUnknownCommunity, scope.Community)
	}
	data, err := d.collect(scope)
	if err != nil {
		return err
	}
	var b strings.Builder
	if err := d.render(&b, data, scope, pick(lang)); err != nil {
		return err
	}
	_, err = io.WriteString(w, b.String())
	return err
}

func (d *Dashboard) known(community string) bool {
	for _, c := range d.o.Config.Communities {
		if c.ID == community {
			return true
		}
	}
	return false
}

// lang is the language of a rendering.
type lang int

const (
	zh lang = iota
	en
)

func pick(s string) lang {
	if strings.HasPrefix(strings.ToLower(s), "en") {
		return en
	}
	return zh
}

// t picks the text of l.
func (l lang) t(zhText, enText string) string {
	if l == en {
		return enText
	}
	return zhText
}

// name picks the part of a bilingual configuration name ("第一网格 Grid 1")
// for l: the Chinese words before the first space that follows a Chinese
// character, or the rest; a name in one language is used as it is.
func (l lang) name(s string) string {
	rs := []rune(s)
	for i, r := range rs {
		if r == ' ' && i > 0 && unicode.Is(unicode.Han, rs[i-1]) {
			zhPart, enPart := strings.TrimSpace(string(rs[:i])), strings.TrimSpace(string(rs[i+1:]))
			if enPart == "" || hasHan(enPart) {
				return s
			}
			return l.t(zhPart, enPart)
		}
	}
	return s
}

func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

func esc(s string) string { return html.EscapeString(s) }
