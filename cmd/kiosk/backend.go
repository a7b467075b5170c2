package main

import (
	"context"

	"linli/kiosk"
	"linli/mqtt/contract"
	"linli/ui"
)

// backend adapts kiosk.Service to the screens' ui.Backend.
type backend struct{ s *kiosk.Service }

var _ ui.Backend = backend{}

func (b backend) FileReport(ctx context.Context, d ui.Draft) (string, error) {
	return b.s.FileReport(ctx, kiosk.Draft{
		Category: d.Category, Location: d.Location, Phrases: d.Phrases,
		Phone: d.Phone, Consent: d.Consent && d.Phone != "",
	})
}

// resolve turns what a resident typed on the digit keypad into a ticket
// number the kiosk knows: as typed, or the first whose digits match.
func (b backend) resolve(typed string) (contract.TicketStatus, bool) {
	if ts, ok := b.s.Track(typed); ok {
		return ts, true
	}
	for _, n := range b.s.Find(typed) {
		if ts, ok := b.s.Track(n); ok {
			return ts, true
		}
	}
	return contract.TicketStatus{}, false
}

func (b backend) Track(number string) (contract.TicketStatus, bool) { return b.resolve(number) }

func (b backend) Rate(ctx context.Context, number, rating, comment string) error {
	if ts, ok := b.resolve(number); ok {
		number = ts.Number
	}
	return b.s.Rate(ctx, number, rating, comment)
}

func (b backend) Wishes() []contract.Wish { return b.s.Wishes() }

func (b backend) PostWish(ctx context.Context, text string) error {
	_, err := b.s.PostWish(ctx, text, contract.Location{})
	return err
}

func (b backend) Notices() []contract.Notice    { return b.s.Notices() }
func (b backend) Directory() []contract.Service { return b.s.Directory() }
func (b backend) Alerts() []contract.Alert      { return b.s.Alerts() }

// catalogue converts the domain's report catalogue for the screens.
func catalogue(s *kiosk.Service) []ui.Category {
	var out []ui.Category
	for _, c := range s.Catalog().Categories {
		cat := ui.Category{ID: c.ID, Name: c.Zh, NameEN: c.En, Icon: c.Icon, Urgency: c.Urgency}
		for _, p := range c.Phrases {
			cat.Phrases = append(cat.Phrases, ui.Phrase{Text: p.Zh, TextEN: p.En})
		}
		out = append(out, cat)
	}
	return out
}

// places builds the pickers from the site description, or from the
// configured buildings.
func places(cfg *Config, s *kiosk.Service) ui.Places {
	p := ui.Places{Community: cfg.Location.Community, Buildings: cfg.Buildings}
	site := s.Site()
	if site == nil {
		return p
	}
	p.Buildings = nil
	p.UnitsOf = map[string][]string{}
	p.Names = map[string]ui.Phrase{}
	for _, b := range site.Buildings {
		p.Buildings = append(p.Buildings, b.ID)
		if b.Zh != "" {
			p.Names[b.ID] = ui.Phrase{Text: b.Zh, TextEN: b.En}
		}
		units := []string{}
		for _, u := range b.Units {
			units = append(units, u.ID)
		}
		p.UnitsOf[b.ID] = units
	}
	return p
}
