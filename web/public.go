package web

import (
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"linli/grid/config"
	"linli/grid/tickets"
	"linli/kiosk/catalog"
	"linli/kiosk/ticketno"
	"linli/mqtt/contract"
)

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	if visitorOf(r) != nil {
		redirect(w, r, "/alerts")
		return
	}
	s.render(w, r, http.StatusOK, "home", &page{Title: "app.title", Data: s.hub.Config().Communities})
}

func (s *Server) trackForm(w http.ResponseWriter, r *http.Request) {
	n := strings.TrimSpace(r.URL.Query().Get("n"))
	if n == "" {
		s.render(w, r, http.StatusOK, "track", &page{Title: "track.title"})
		return
	}
	redirect(w, r, "/t/"+urlEscape(ticketno.Normalize(n)))
}

type publicTicket struct {
	Status contract.TicketStatus
	Rated  bool // just rated from this page
	New    bool // just filed from this page
}

// publicStatus returns the public view of ticket n: what the kiosk's
// receipt and track screen show, nothing more.
func (s *Server) publicStatus(n string) (contract.TicketStatus, error) {
	if !contract.ValidID(n) || len(n) > 40 {
		return contract.TicketStatus{}, errorf("ticket number %q: %w", n, tickets.ErrNotFound)
	}
	t, err := s.opts.Tickets.Get(n)
	if err != nil {
		return contract.TicketStatus{}, err
	}
	return tickets.Status(t), nil
}

func (s *Server) ticketPage(w http.ResponseWriter, r *http.Request) {
	n := ticketno.Normalize(r.PathValue("num"))
	st, err := s.publicStatus(n)
	if err != nil {
		if errors.Is(err, tickets.ErrNotFound) {
			s.render(w, r, http.StatusNotFound, "track", &page{Title: "track.title", Error: "track.notfound", Data: n})
			return
		}
		s.failErr(w, r, err)
		return
	}
	q := r.URL.Query()
	s.render(w, r, http.StatusOK, "t", &page{Title: "track.title", Live: "/t/" + n + "/events",
		Data: publicTicket{Status: st, Rated: q.Get("rated") == "1", New: q.Get("new") == "1"}})
}

var ratings = []string{contract.RatingSatisfied, contract.RatingBasically, contract.RatingUnsatisfied}

func (s *Server) rate(w http.ResponseWriter, r *http.Request) {
	n := ticketno.Normalize(r.PathValue("num"))
	rating := r.PostFormValue("rating")
	if !slices.Contains(ratings, rating) {
		s.fail(w, r, http.StatusBadRequest, "err.bad", errorf("rating %q", rating))
		return
	}
	if _, err := s.publicStatus(n); err != nil {
		s.failErr(w, r, err)
		return
	}
	m := &contract.Rating{ID: "web-" + token()[:16], Number: n, Device: s.opts.Device, Rating: rating,
		Time: contract.Stamp{At: s.opts.Clock(), Synced: true}}
	// The kiosk's path: the hub's "report" handler files it.
	if err := s.hub.Deliver(r.Context(), s.opts.Device, "report", m); err != nil {
		s.failErr(w, r, err)
		return
	}
	s.log.Info("ticket rated on the web", "ticket", n, "rating", rating)
	redirect(w, r, "/t/"+n+"?rated=1")
}

type reportData struct {
	Catalog     *catalog.Catalog
	Communities []config.Community
	Form        map[string]string
}

func (s *Server) reportForm(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "report", &page{Title: "report.title",
		Data: reportData{Catalog: s.opts.Catalog, Communities: s.hub.Config().Communities}})
}

var (
	mobile   = regexp.MustCompile(`^1[3-9][0-9]{9}$`)
	unitDoor = regexp.MustCompile(`^[0-9A-Za-z-]{0,8}$`)
)

// reportFrom decodes the report form: category, building ("community/
// building"), unit, door, phrases, text, phone and consent. The phone is
// dropped without consent, as at the kiosk.
func (s *Server) reportFrom(form map[string][]string) (*contract.Report, error) {
	get := func(k string) string {
		if v := form[k]; len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
	cat, ok := s.opts.Catalog.Category(get("category"))
	if !ok {
		return nil, errorf("report: unknown category %q", get("category"))
	}
	comm, bld, _ := strings.Cut(get("building"), "/")
	if _, ok := s.hub.Config().GridOf(comm, bld); !ok {
		return nil, errorf("report: unknown building %q", get("building"))
	}
	unit, door := get("unit"), get("door")
	if !unitDoor.MatchString(unit) || !unitDoor.MatchString(door) {
		return nil, errorf("report: unit and door are up to 8 letters, digits or '-'")
	}
	var phrases []string
	for _, p := range form["phrase"] {
		if slices.ContainsFunc(cat.Phrases, func(q catalog.Phrase) bool { return q.Zh == p }) && !slices.Contains(phrases, p) {
			phrases = append(phrases, p)
		}
	}
	txt := get("text")
	if len(txt) > 1000 {
		return nil, errorf("report: text is %d bytes (max 1000)", len(txt))
	}
	rep := &contract.Report{Device: s.opts.Device, Category: cat.ID, Urgency: cat.Urgency, Phrases: phrases, Text: txt,
		Location: contract.Location{Community: comm, Building: bld, Unit: unit, Door: door}}
	if rep.Urgency == "" {
		rep.Urgency = contract.UrgencyNormal
	}
	if phone := get("phone"); phone != "" && get("consent") != "" {
		if !mobile.MatchString(phone) {
			return nil, errPhone
		}
		rep.Phone, rep.Consent = phone, true
	}
	return rep, nil
}

var errPhone = errors.New("web: report: phone is not an 11-digit mobile number")

func (s *Server) report(w http.ResponseWriter, r *http.Request) {
	rep, err := s.reportFrom(r.PostForm)
	if err != nil {
		key := "report.bad"
		if errors.Is(err, errPhone) {
			key = "report.invalidtel"
		}
		s.log.Info("web report refused", "ip", s.opts.ClientIP(r), "error", err)
		form := map[string]string{}
		for k, v := range r.PostForm {
			if k != "csrf" && len(v) > 0 {
				form[k] = v[0]
			}
		}
		s.render(w, r, http.StatusBadRequest, "report", &page{Title: "report.title", Error: key,
			Data: reportData{Catalog: s.opts.Catalog, Communities: s.hub.Config().Communities, Form: form}})
		return
	}
	now := s.opts.Clock()
	rep.Number, err = s.nums.Next(now)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	rep.Time = contract.Stamp{At: now, Synced: true}
	// The kiosk's path: the hub's "report" handler files the ticket.
	if err := s.hub.Deliver(r.Context(), s.opts.Device, "report", rep); err != nil {
		s.failErr(w, r, err)
		return
	}
	s.log.Info("ticket filed on the web", "ticket", rep.Number, "category", rep.Category, "where", rep.Location.String())
	redirect(w, r, "/t/"+rep.Number+"?new=1")
}

type communityData struct {
	ID      string
	Notices contract.Notices
	Wishes  *contract.Wishes
}

func (s *Server) communityPage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("community")
	known := slices.ContainsFunc(s.hub.Config().Communities, func(c config.Community) bool { return c.ID == id })
	if !known {
		s.fail(w, r, http.StatusNotFound, "err.notfound", nil)
		return
	}
	ns, err := s.opts.Tickets.Notices(id)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	ws, err := s.opts.Tickets.PublicWishes(id)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "community", &page{Title: "app.notices", Data: communityData{ID: id, Notices: ns, Wishes: ws}})
}
