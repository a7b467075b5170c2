package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"linli/grid/hub"
	"linli/mqtt/contract"
)

// heartbeat keeps idle event streams (and the proxies on their way) open.
const heartbeat = 25 * time.Second

// stream sends server-sent events: for each hub change pick returns the
// event name to send ("" for none) and its data, in parts written one
// after the other (nil for "{}"). Most
// events only name what changed and the page fetches it itself (its
// ?frag=1 view); an alert event carries the alert's card, rendered for
// this visitor, so that the page draws it without a second round trip. A
// lagging stream's Resync is an event of its own: the page fetches all.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, pick func(hub.Change) (string, [][]byte)) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	s.mu.Lock()
	closed := s.closed
	if !closed {
		s.wg.Add(1)
	}
	s.mu.Unlock()
	if closed {
		http.Error(w, "web: shutting down", http.StatusServiceUnavailable)
		return
	}
	defer s.wg.Done()
	changes, cancel := s.hub.Subscribe()
	defer cancel()
	s.stats.live.Add(1)
	defer s.stats.live.Add(-1)
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprint(w, "retry: 2000\n: hello\n\n"); err != nil {
		return
	}
	if err := rc.Flush(); err != nil {
		return
	}
	t := time.NewTicker(heartbeat)
	defer t.Stop()
	var msg [][]byte
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		case <-t.C:
			msg = append(msg[:0], sseBeat)
		case c, ok := <-changes:
			if !ok {
				return
			}
			name, data := "resync", [][]byte(nil)
			if !c.Resync {
				name, data = pick(c)
			}
			if name == "" {
				continue
			}
			if data == nil {
				data = sseEmpty
			}
			msg = append(append(append(msg[:0], []byte("event: "+name+"\ndata: ")), data...), sseEnd)
		}
		_ = rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		for _, b := range msg {
			if _, err := w.Write(b); err != nil {
				return
			}
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// The fixed pieces of the event stream.
var (
	sseBeat  = []byte(": beat\n\n")
	sseEmpty = [][]byte{[]byte("{}")}
	sseEnd   = []byte("\n\n")
)

// consoleEvents streams the changes a worker's console shows: alerts of
// the places they answer for (or assigned to them), with their cards,
// devices there (online, state, health), tickets, wishes and notices of
// their community.
func (s *Server) consoleEvents(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	me := v.worker
	lang := langOf(r)
	csrf := []byte(template.HTMLEscapeString(v.sess.CSRF))
	mine := func(community string) bool { return me.Community == "" || me.Community == community }
	s.stream(w, r, func(c hub.Change) (string, [][]byte) {
		if d := c.Device; d != nil {
			if hub.Sees(me, d.Location) {
				return "device", nil
			}
			return "", nil
		}
		if _, ok := s.elsewhere.Load(me.ID); c.Peer && !ok {
			return "", nil // another hub's, and not a worker of it
		}
		switch m := c.Msg.(type) {
		case *contract.Alert:
			if hub.Sees(me, m.Location) || slices.Contains(m.Assigned, me.ID) {
				name := "alert-update"
				if m.AckedBy == "" && !m.Cleared {
					name = "alert"
				}
				return name, s.cards.event(s, m, lang, csrf)
			}
		case *contract.TicketStatus:
			if mine(m.Location.Community) {
				return "ticket", nil
			}
		case *contract.Wishes:
			if mine(m.Community) {
				return "wish", nil
			}
		case *contract.Notices:
			if mine(m.Community) {
				return "notice", nil
			}
		}
		return "", nil
	})
}

// alertEvent is the data of an "alert" or "alert-update" event: the
// alert's card as the alerts page shows it, or Gone when a cleared alert
// leaves the page.
type alertEvent struct {
	ID   string `json:"id"`
	HTML string `json:"html,omitempty"`
	Gone bool   `json:"gone,omitempty"`
}

// csrfMark stands for the session's CSRF token in a shared card: each
// stream puts its own in.
const csrfMark = "csrf-of-this-session"

// cardCache renders each alert change's card once per language for every
// stream that shows it (hundreds of open consoles must not render it
// hundreds of times). It keeps the last few: the streams read a change
// within moments of each other.
type cardCache struct {
	mu   sync.Mutex
	next int
	last [8]cardEntry
}

type cardEntry struct {
	alert *contract.Alert // the change's message, shared by all subscribers
	lang  string
	parts [][]byte // alertEvent as JSON, split at csrfMark; nil if it did not render
}

// event returns the data of a's event for a page in lang of the session
// whose HTML-escaped CSRF token is csrf, in parts to write one after the
// other, or nil when the card does not render (the page then fetches its
// fragment, as for any event without data).
func (c *cardCache) event(s *Server, a *contract.Alert, lang string, csrf []byte) [][]byte {
	c.mu.Lock()
	var parts [][]byte
	found := false
	for i := range c.last {
		if c.last[i].alert == a && c.last[i].lang == lang {
			parts, found = c.last[i].parts, true
			break
		}
	}
	if !found {
		data, err := s.card(a, lang)
		if err != nil {
			s.log.Error("render alert card", "alert", a.ID, "error", err)
		} else {
			parts = bytes.Split(data, []byte(csrfMark))
		}
		c.last[c.next] = cardEntry{alert: a, lang: lang, parts: parts}
		c.next = (c.next + 1) % len(c.last)
	}
	c.mu.Unlock()
	if parts == nil {
		return nil
	}
	out := make([][]byte, 0, 2*len(parts)-1)
	for i, p := range parts {
		if i > 0 {
			out = append(out, csrf)
		}
		out = append(out, p)
	}
	return out
}

// card renders a's event data in lang.
func (s *Server) card(a *contract.Alert, lang string) ([]byte, error) {
	ev := alertEvent{ID: a.ID, Gone: a.Cleared}
	if !a.Cleared {
		var buf bytes.Buffer
		p := &page{Lang: lang, CSRF: csrfMark, s: s}
		if err := s.tmpl.ExecuteTemplate(&buf, "alerts.card", map[string]any{"P": p, "V": a}); err != nil {
			return nil, errorf("alert card: %w", err)
		}
		ev.HTML = strings.TrimSpace(buf.String())
	}
	// Not escaped for a <script>: JSON.parse reads it from an event
	// stream, and < > & as \u003c… would make every card a third longer
	// for each open console.
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ev); err != nil {
		return nil, errorf("alert card: %w", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// ticketEvents streams the changes of one ticket's public status.
func (s *Server) ticketEvents(w http.ResponseWriter, r *http.Request) {
	n := r.PathValue("num")
	if _, err := s.publicStatus(n); err != nil {
		s.failErr(w, r, err)
		return
	}
	if visitorOf(r) == nil {
		ip := s.opts.ClientIP(r)
		if !s.streams.take(ip) {
			s.stats.limited.Add(1)
			s.fail(w, r, http.StatusTooManyRequests, "err.busy", errorf("%s has %d live pages open", ip, maxStreamsPerIP))
			return
		}
		defer s.streams.give(ip)
	}
	s.stream(w, r, func(c hub.Change) (string, [][]byte) {
		if m, ok := c.Msg.(*contract.TicketStatus); ok && m.Number == n {
			return "ticket", nil
		}
		return "", nil
	})
}

// maxStreamsPerIP bounds the live ticket pages one address keeps open
// without a login.
const maxStreamsPerIP = 16

// streamSlots counts the open anonymous streams per address.
type streamSlots struct {
	mu sync.Mutex
	n  map[string]int
}

func (s *streamSlots) take(ip string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == nil {
		s.n = map[string]int{}
	}
	if s.n[ip] >= maxStreamsPerIP {
		return false
	}
	s.n[ip]++
	return true
}

func (s *streamSlots) give(ip string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n[ip]--; s.n[ip] <= 0 {
		delete(s.n, ip)
	}
}
