package web

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"linli/grid/hub"
	"linli/mqtt/contract"
)

// heartbeat keeps idle event streams (and the proxies on their way) open.
const heartbeat = 25 * time.Second

// stream sends server-sent events: for each hub change pick returns the
// event name to send ("" for none). The page fetches what changed itself
// (its ?frag=1 view), so an event carries no data anybody could not read
// anyway, and a lagging stream's Resync is simply an event of its own.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, pick func(hub.Change) string) {
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
	for {
		var msg string
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		case <-t.C:
			msg = ": beat\n\n"
		case c, ok := <-changes:
			if !ok {
				return
			}
			name := "resync"
			if !c.Resync {
				name = pick(c)
			}
			if name == "" {
				continue
			}
			msg = "event: " + name + "\ndata: {}\n\n"
		}
		_ = rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := fmt.Fprint(w, msg); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// consoleEvents streams the changes a worker's console shows: alerts of
// the places they answer for (or assigned to them), tickets, wishes and
// notices of their community.
func (s *Server) consoleEvents(w http.ResponseWriter, r *http.Request) {
	me := visitorOf(r).worker
	mine := func(community string) bool { return me.Community == "" || me.Community == community }
	s.stream(w, r, func(c hub.Change) string {
		switch m := c.Msg.(type) {
		case *contract.Alert:
			if hub.Sees(me, m.Location) || slices.Contains(m.Assigned, me.ID) {
				if m.AckedBy == "" && !m.Cleared {
					return "alert"
				}
				return "alert-update"
			}
		case *contract.TicketStatus:
			if mine(m.Location.Community) {
				return "ticket"
			}
		case *contract.Wishes:
			if mine(m.Community) {
				return "wish"
			}
		case *contract.Notices:
			if mine(m.Community) {
				return "notice"
			}
		}
		return ""
	})
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
	s.stream(w, r, func(c hub.Change) string {
		if m, ok := c.Msg.(*contract.TicketStatus); ok && m.Number == n {
			return "ticket"
		}
		return ""
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
