package web

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"linli/grid/config"
	"linli/grid/hub"
	"linli/grid/tickets"
	"linli/mqtt/contract"
)

// page is what every template gets.
type page struct {
	Lang  string
	Title string // text key
	Nav   string // the console tab shown as current
	Path  string // of the page, for the language switch
	CSRF  string
	Me    *config.Worker
	Live  string // event stream URL the page follows; empty: none
	Error string // text key of an error to show
	Info  string // text key of a message to show
	Next  string
	User  string
	Dash  bool // the dashboard tab is shown
	// Partial: another hub of the shared broker did not answer in time,
	// so the page's lists may lack what it holds.
	Partial bool
	Data    any
	s       *Server
}

// T translates key into the page's language.
func (p *page) T(key string, args ...any) string { return tr(p.Lang, key, args...) }

// ErrorText is the page's error message, with Data filled in when the
// message has a place for it.
func (p *page) ErrorText() string {
	if d, ok := p.Data.(string); ok && strings.Contains(text[p.Error][0], "%") {
		return p.T(p.Error, d)
	}
	return p.T(p.Error)
}

// Status names a ticket status.
func (p *page) Status(s string) string { return p.T("status." + s) }

// Kind names an alert's kind of hazard.
func (p *page) Kind(kind string) string {
	if _, ok := text["alert.kind."+kind]; ok {
		return p.T("alert.kind." + kind)
	}
	return p.T("alert.kind.other")
}

// Category names a report category from the catalogue.
func (p *page) Category(id string) string {
	if c, ok := p.s.opts.Catalog.Category(id); ok {
		if p.Lang == langEn {
			return c.En
		}
		return c.Zh
	}
	return id
}

// Place renders a location as residents read it.
func (p *page) Place(l contract.Location) string {
	var parts []string
	if l.Community != "" {
		parts = append(parts, p.CommunityName(l.Community))
	}
	if l.Building != "" {
		parts = append(parts, p.T("place.building", l.Building))
	}
	if l.Unit != "" {
		parts = append(parts, p.T("place.unit", l.Unit))
	}
	if l.Door != "" {
		parts = append(parts, l.Door)
	}
	return strings.Join(parts, " ")
}

// CommunityName is the configured name of a community, in the page's
// language when the name is "中文 English".
func (p *page) CommunityName(id string) string {
	for _, c := range p.s.hub.Config().Communities {
		if c.ID == id {
			return pickName(c.Name, p.Lang)
		}
	}
	return id
}

// pickName splits a configured name "东苑社区 East Garden" by language.
func pickName(name, lang string) string {
	i := strings.IndexFunc(name, func(r rune) bool { return r < 0x2E80 && r != ' ' })
	if i <= 0 {
		return name
	}
	zh, en := strings.TrimSpace(name[:i]), strings.TrimSpace(name[i:])
	if lang == langEn && en != "" {
		return en
	}
	return zh
}

// Who names a worker as residents may see them: role and name, never a
// phone number. Ids that are no worker (a kiosk, "system") are shown as
// they are.
func (p *page) Who(id string) string {
	w, ok := p.s.hub.Config().Worker(id)
	if !ok {
		switch d, known := p.s.hub.Config().Device(id); {
		case id == p.s.opts.Device:
			return p.T("who.web")
		case known && d.Kind == "kiosk":
			return p.T("who.kiosk")
		case id == "system":
			return p.T("who.system")
		}
		return id
	}
	role := map[string][2]string{
		config.RoleGridWorker:  {"网格员", "Grid worker"},
		config.RoleCommunity:   {"社区", "Community"},
		config.RoleSubdistrict: {"街道", "Subdistrict"},
		config.RoleMaintenance: {"维护", "Maintenance"},
	}[w.Role]
	r := role[0]
	if p.Lang == langEn {
		r = role[1]
	}
	return r + " " + w.Name
}

// Note renders a timeline note: a rating step's note is the rating.
func (p *page) Note(status, note string) string {
	if status == string(tickets.Rated) {
		if _, ok := text["rate."+rateKey(note)]; ok {
			return p.T("rate." + rateKey(note))
		}
	}
	return note
}

// Time formats t for the page, in the hub's local time.
func (p *page) Time(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.Local().Format("01-02 15:04")
}

var funcs = template.FuncMap{
	"ms": func(t time.Time) int64 {
		if t.IsZero() {
			return 0
		}
		return t.UnixMilli()
	},
	"join": strings.Join,
	"allowed": func(status, verb string) bool {
		return tickets.Allowed(tickets.State(status), tickets.Verb(verb))
	},
	"lower":   strings.ToLower,
	"rateKey": rateKey,
	"pair":    func(p *page, v any) map[string]any { return map[string]any{"P": p, "V": v} },
	"list":    func(s ...string) []string { return s },
	"state":   deviceState,
	"dur":     func(d time.Duration) string { return d.Round(time.Minute).String() },
}

// rateKey is the text key suffix of a rating ("rate."+rateKey(r)).
func rateKey(r string) string {
	if r == contract.RatingBasically {
		return "basically"
	}
	return r
}

// newPage returns a page for r.
func (s *Server) newPage(w http.ResponseWriter, r *http.Request, p *page) *page {
	p.s = s
	p.Lang = langOf(r)
	u := *r.URL
	q := u.Query()
	q.Del("frag") // forms on a fragment return to the whole page
	u.RawQuery = q.Encode()
	p.Path = u.RequestURI()
	if v := visitorOf(r); v != nil {
		wk := v.worker
		p.Me = &wk
		p.Dash = s.opts.Dashboard != nil && dashboardRole(wk)
		p.Partial = v.partial
	}
	if p.CSRF == "" {
		p.CSRF = s.csrfFor(w, r)
	}
	return p
}

// render writes template name (or, for ?frag=1, only its "live" part) with
// p, buffered so that a failing template answers 500 and not half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, code int, name string, p *page) {
	s.newPage(w, r, p)
	tmpl := name
	if r.URL.Query().Get("frag") == "1" {
		tmpl = name + ".live"
		if s.tmpl.Lookup(tmpl) == nil {
			tmpl = name
		}
	}
	var buf bytes.Buffer
	if err := s.tmpl.ExecuteTemplate(&buf, tmpl, p); err != nil {
		s.log.Error("render", "page", name, "error", err)
		http.Error(w, "web: internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// fail answers an error page with code and the message of key; err, when
// given, is logged at Info (refusals are normal operation).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, code int, key string, err error) {
	if err != nil {
		s.log.Info("request refused", "path", r.URL.Path, "code", code, "error", err)
	}
	p := &page{Title: "app.error", Error: key}
	if err != nil && visitorOf(r) != nil {
		p.Data = err.Error() // workers see the domain's own words
	}
	s.render(w, r, code, "error", p)
}

// failErr maps a domain error to its answer.
func (s *Server) failErr(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, hub.ErrForbidden), errors.Is(err, tickets.ErrForbidden):
		s.fail(w, r, http.StatusForbidden, "err.forbidden", err)
	case errors.Is(err, hub.ErrNotFound), errors.Is(err, tickets.ErrNotFound):
		s.fail(w, r, http.StatusNotFound, "err.notfound", err)
	case errors.Is(err, tickets.ErrTransition):
		s.fail(w, r, http.StatusConflict, "err.transition", err)
	case errors.Is(err, hub.ErrNoAnswer):
		s.fail(w, r, http.StatusGatewayTimeout, "err.noanswer", err)
	case errors.Is(err, hub.ErrBadRequest), errors.Is(err, tickets.ErrInvalid), errors.Is(err, contract.ErrMalformed):
		s.fail(w, r, http.StatusBadRequest, "err.bad", err)
	default:
		s.log.Error("request failed", "path", r.URL.Path, "error", err)
		s.fail(w, r, http.StatusInternalServerError, "err.server", err)
	}
}

func urlEscape(s string) string { return url.QueryEscape(s) }

func (s *Server) setLang(w http.ResponseWriter, r *http.Request) {
	lang := langZh
	if r.PathValue("lang") == langEn {
		lang = langEn
	}
	s.setCookie(w, cookieLang, lang, 365*24*3600)
	redirect(w, r, r.URL.Query().Get("next"))
}

func dashboardRole(w config.Worker) bool {
	return w.Role == config.RoleCommunity || w.Role == config.RoleSubdistrict
}

// errorf is fmt.Errorf with the package prefix.
func errorf(format string, a ...any) error { return fmt.Errorf("web: "+format, a...) }
