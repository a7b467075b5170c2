package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"linli/grid/config"
	"linli/grid/hub"
	"linli/grid/tickets"
	"linli/mqtt/contract"
)

// do serves op for the visitor through the hub's request table, the
// very path of a gridctl request, and decodes the body into out.
//
// When other hubs share the broker (hub.Options.Hubs), the worker may
// hold things there too, and the console shows them as gridctl --hubs
// does: a list (out points to a slice) is this hub's and the others'
// together; an operation on one thing this hub does not hold goes to the
// hub that does. When a hub does not answer in time the list is what the
// others hold and the page says it is not all (visitor.partial).
func (s *Server) do(ctx context.Context, w config.Worker, op string, args map[string]string, body any, out any) error {
	req := &contract.Request{ID: "web-" + token()[:12], From: w.ID, Op: op, Args: args}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return errorf("%s: %w", op, err)
		}
		req.Body = b
	}
	res, err := s.hub.Do(ctx, w, req)
	list := contract.IsList(out)
	notHere := errors.Is(err, hub.ErrNotFound) || errors.Is(err, tickets.ErrNotFound)
	if s.hub.Peers() > 0 && (list || notHere) {
		return s.doPeers(ctx, w, req, res, err, list, out)
	}
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	b, err := json.Marshal(res)
	if err != nil {
		return errorf("%s: %w", op, err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return errorf("%s: %w", op, err)
	}
	return nil
}

// How long a page waits for the other hubs: for their lists, and for an
// operation one of them serves (a command waits for its device, the
// hub's CommandTimeout, 15 s by default).
const (
	peerListWait = 2 * time.Second
	peerOpWait   = 20 * time.Second
)

// doPeers is do's part for the other hubs: res and err are this hub's.
func (s *Server) doPeers(ctx context.Context, w config.Worker, req *contract.Request, res any, err error, list bool, out any) error {
	wait := peerOpWait
	if list {
		wait = peerListWait
	}
	pctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	answers, perr := s.hub.AskPeers(pctx, w.ID, req, list)
	if perr != nil {
		s.log.Warn("other hubs did not answer", "worker", w.ID, "op", req.Op, "error", perr)
		if v := visitorFrom(ctx); v != nil {
			v.partial = true
		}
	}
	if list {
		if slices.ContainsFunc(answers, func(a contract.Response) bool { return a.OK }) {
			s.elsewhere.Store(w.ID, true)
		} else if perr == nil {
			s.elsewhere.Delete(w.ID) // every other hub refused: not their worker
		}
	}
	if !list {
		for _, a := range answers {
			if a.OK {
				if out == nil || len(a.Body) == 0 {
					return nil
				}
				if err := json.Unmarshal(a.Body, out); err != nil {
					return errorf("%s: answer of %s: %w", req.Op, a.Hub, err)
				}
				return nil
			}
		}
		if perr != nil {
			return fmt.Errorf("%w (%w)", err, perr)
		}
		return err
	}
	var parts []json.RawMessage
	if err == nil {
		b, err := json.Marshal(res)
		if err != nil {
			return errorf("%s: %w", req.Op, err)
		}
		parts = append(parts, b)
	}
	for _, a := range answers {
		if a.OK && len(a.Body) > 0 {
			parts = append(parts, a.Body)
		}
	}
	if len(parts) == 0 {
		return err // this hub's refusal, and no other hub holds any
	}
	if err := contract.MergeLists(out, parts...); err != nil {
		return errorf("%s: %w", req.Op, err)
	}
	return nil
}

// back redirects to the page the form was on.
func back(w http.ResponseWriter, r *http.Request, fallback string) {
	redirect(w, r, localPath(r.PostFormValue("next"), fallback))
}

type alertsData struct {
	Alerts []contract.Alert
}

func (s *Server) alertsPage(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	var as []contract.Alert
	if err := s.do(r.Context(), v.worker, contract.OpAlertsList, nil, nil, &as); err != nil {
		s.failErr(w, r, err)
		return
	}
	// Unacknowledged first, then the newest.
	sort.SliceStable(as, func(i, j int) bool {
		if (as[i].AckedBy == "") != (as[j].AckedBy == "") {
			return as[i].AckedBy == ""
		}
		return as[i].Raised.After(as[j].Raised)
	})
	s.render(w, r, http.StatusOK, "alerts", &page{Title: "alerts.title", Nav: "alerts", Live: "/events", Data: alertsData{Alerts: as}})
}

func (s *Server) ack(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	if err := s.do(r.Context(), v.worker, contract.OpAlertAck, map[string]string{"id": r.PathValue("id")}, nil, nil); err != nil {
		s.failErr(w, r, err)
		return
	}
	back(w, r, "/alerts")
}

func (s *Server) reset(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	args := map[string]string{"device": r.PathValue("id"), "name": contract.CmdReset}
	if ch := r.PostFormValue("channel"); ch != "" {
		args["channel"] = ch
	}
	var ack contract.CommandAck
	if err := s.do(r.Context(), v.worker, contract.OpDeviceCmd, args, nil, &ack); err != nil {
		s.failErr(w, r, err)
		return
	}
	if !ack.OK {
		s.fail(w, r, http.StatusBadGateway, "err.server", errorf("device %s: %s", ack.Device, ack.Error))
		return
	}
	back(w, r, "/alerts")
}

type ticketsData struct {
	Scope   string
	Scopes  []string
	Tickets []contract.TicketStatus
}

func (s *Server) ticketsPage(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	me := v.worker
	scopes := []string{"mine", "all"}
	if me.Role == config.RoleGridWorker {
		scopes = []string{"mine", "grid", "all"}
	}
	scope := r.URL.Query().Get("scope")
	if !slices.Contains(scopes, scope) {
		scope = scopes[len(scopes)-1]
		if me.Role == config.RoleGridWorker {
			scope = "grid"
		}
	}
	var ts []contract.TicketStatus
	if err := s.do(r.Context(), me, contract.OpTicketsList, nil, nil, &ts); err != nil {
		s.failErr(w, r, err)
		return
	}
	out := ts[:0]
	for _, t := range ts {
		switch {
		case scope == "mine" && t.Assigned != me.ID:
		case scope == "grid" && t.Location.Grid != me.Grid:
		default:
			out = append(out, t)
		}
	}
	// Open work first (by due time), then the rest, newest first.
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Due.IsZero() != b.Due.IsZero() {
			return !a.Due.IsZero()
		}
		if !a.Due.IsZero() {
			return a.Due.Before(b.Due)
		}
		return a.Number > b.Number
	})
	s.render(w, r, http.StatusOK, "tickets", &page{Title: "tickets.title", Nav: "tickets", Live: "/events",
		Data: ticketsData{Scope: scope, Scopes: scopes, Tickets: out}})
}

type ticketData struct {
	Status contract.TicketStatus
	Report contract.Report // the full report: workers see the phone and text
	Verbs  []string
	// Elsewhere: another hub of the shared broker holds the ticket; its
	// report's words and phone stay there (ticket.get gives the public
	// status only).
	Elsewhere bool
}

func (s *Server) ticketDetail(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	n := r.PathValue("num")
	var st contract.TicketStatus
	// ticket.get checks that the worker may read this ticket.
	if err := s.do(r.Context(), v.worker, contract.OpTicketGet, map[string]string{"number": n}, nil, &st); err != nil {
		s.failErr(w, r, err)
		return
	}
	t, err := s.opts.Tickets.Get(n)
	elsewhere := errors.Is(err, tickets.ErrNotFound) && s.hub.Peers() > 0
	switch {
	case elsewhere:
		t.Report = contract.Report{Number: n, Category: st.Category, Location: st.Location}
	case err != nil:
		s.failErr(w, r, err)
		return
	}
	var verbs []string
	for _, vb := range []tickets.Verb{tickets.VerbAccept, tickets.VerbStart, tickets.VerbResolve, tickets.VerbReturn, tickets.VerbDuplicate, tickets.VerbClose} {
		if tickets.Allowed(tickets.State(st.Status), vb) {
			verbs = append(verbs, string(vb))
		}
	}
	rep := t.Report
	if !rep.Consent {
		rep.Phone = ""
	}
	s.render(w, r, http.StatusOK, "ticket", &page{Title: "tickets.title", Nav: "tickets", Live: "/events",
		Data: ticketData{Status: st, Report: rep, Verbs: verbs, Elsewhere: elsewhere}})
}

// ticketOps maps the verbs of the console's forms to request operations
// and the form field each needs.
var ticketOps = map[string][2]string{
	"accept":    {contract.OpTicketAccept, ""},
	"start":     {contract.OpTicketStart, ""},
	"resolve":   {contract.OpTicketResolve, "note"},
	"return":    {contract.OpTicketReturn, "note"},
	"duplicate": {contract.OpTicketDuplicate, "of"},
	"close":     {contract.OpTicketClose, "note"},
}

func (s *Server) ticketAct(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	op, ok := ticketOps[r.PathValue("verb")]
	if !ok {
		s.fail(w, r, http.StatusNotFound, "err.notfound", nil)
		return
	}
	n := r.PathValue("num")
	args := map[string]string{"number": n}
	if op[1] != "" {
		val := strings.TrimSpace(r.PostFormValue(op[1]))
		if val == "" && op[1] != "note" || len(val) > 2000 {
			s.fail(w, r, http.StatusBadRequest, "err.bad", errorf("%s needs %s", op[0], op[1]))
			return
		}
		if (op[0] == contract.OpTicketResolve || op[0] == contract.OpTicketReturn) && val == "" {
			s.fail(w, r, http.StatusBadRequest, "err.bad", errorf("%s needs a note", op[0]))
			return
		}
		args[op[1]] = val
	}
	if err := s.do(r.Context(), v.worker, op[0], args, nil, nil); err != nil {
		s.failErr(w, r, err)
		return
	}
	back(w, r, "/tickets/"+n)
}

type wishesData struct {
	Wishes []contract.Wish
}

func (s *Server) wishesPage(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	var ws []contract.Wish
	if err := s.do(r.Context(), v.worker, contract.OpWishesList, map[string]string{"community": v.worker.Community}, nil, &ws); err != nil {
		s.failErr(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "wishes", &page{Title: "wish.title", Nav: "wishes", Live: "/events", Data: wishesData{Wishes: ws}})
}

func (s *Server) wishAct(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	args := map[string]string{"id": r.PathValue("id")}
	var op string
	switch r.PathValue("verb") {
	case "claim":
		op = contract.OpWishClaim
		by := strings.TrimSpace(r.PostFormValue("by"))
		if by == "" || len(by) > 100 {
			s.fail(w, r, http.StatusBadRequest, "err.bad", errorf("wish.claim needs a volunteer's name"))
			return
		}
		args["by"] = by
	case "done":
		op = contract.OpWishDone
	default:
		s.fail(w, r, http.StatusNotFound, "err.notfound", nil)
		return
	}
	if err := s.do(r.Context(), v.worker, op, args, nil, nil); err != nil {
		s.failErr(w, r, err)
		return
	}
	back(w, r, "/wishes")
}

type noticesData struct {
	CanPublish  bool // tickets.Permit: community and subdistrict staff
	Communities []config.Community
	Notices     map[string]contract.Notices
}

// communitiesOf lists the communities w answers for.
func (s *Server) communitiesOf(w config.Worker) []config.Community {
	var out []config.Community
	for _, c := range s.hub.Config().Communities {
		if w.Community == "" || w.Community == c.ID {
			out = append(out, c)
		}
	}
	return out
}

func (s *Server) noticesPage(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	d := noticesData{Communities: s.communitiesOf(v.worker), Notices: map[string]contract.Notices{},
		CanPublish: dashboardRole(v.worker)}
	for _, c := range d.Communities {
		ns, err := s.opts.Tickets.Notices(c.ID)
		if err != nil {
			s.failErr(w, r, err)
			return
		}
		d.Notices[c.ID] = ns
	}
	s.render(w, r, http.StatusOK, "notices", &page{Title: "notice.title", Nav: "notices", Live: "/events", Data: d})
}

// noticeLevels are the levels a notice may have; a typhoon warning also
// carries its colour (blue, yellow, orange, red) in the title.
var noticeLevels = []string{"info", "warning", "typhoon"}

func (s *Server) publishNotice(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	f := r.PostFormValue
	title, body, level := strings.TrimSpace(f("title")), strings.TrimSpace(f("body")), f("level")
	hours, err := strconv.Atoi(strings.TrimSpace(f("hours")))
	if f("hours") == "" {
		hours, err = 0, nil
	}
	if title == "" || len(title) > 200 || len(body) > 4000 || !slices.Contains(noticeLevels, level) || err != nil || hours < 0 || hours > 24*366 {
		s.fail(w, r, http.StatusBadRequest, "err.bad", errorf("notice: title (≤200 bytes), body (≤4000), level %v and hours ≥ 0 needed", noticeLevels))
		return
	}
	if level == "typhoon" {
		if c := f("typhoon"); c != "" {
			colour := map[string][2]string{"blue": {"蓝色", "blue"}, "yellow": {"黄色", "yellow"}, "orange": {"橙色", "orange"}, "red": {"红色", "red"}}[c]
			if colour[0] == "" {
				s.fail(w, r, http.StatusBadRequest, "err.bad", errorf("notice: typhoon level %q", c))
				return
			}
			title = fmt.Sprintf("【台风%s预警 %s typhoon warning】%s", colour[0], colour[1], title)
		}
	}
	now := s.opts.Clock()
	n := contract.Notice{ID: "n-" + token()[:10], Title: title, Body: body, Level: level, Published: now}
	if hours > 0 {
		n.Expires = now.Add(time.Duration(hours) * time.Hour)
	}
	if err := s.do(r.Context(), v.worker, contract.OpNotice, map[string]string{"community": f("community")}, n, nil); err != nil {
		s.failErr(w, r, err)
		return
	}
	back(w, r, "/notices")
}

type devicesData struct {
	Devices []contract.DeviceInfo
	Plans   []template.HTML
}

func (s *Server) devicesPage(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	var ds []contract.DeviceInfo
	if err := s.do(r.Context(), v.worker, contract.OpDevices, nil, nil, &ds); err != nil {
		s.failErr(w, r, err)
		return
	}
	// A device with an active alert shows it even before its next state
	// message.
	var as []contract.Alert
	if err := s.do(r.Context(), v.worker, contract.OpAlertsList, nil, nil, &as); err != nil {
		s.failErr(w, r, err)
		return
	}
	for i := range ds {
		for _, a := range as {
			if a.Device == ds[i].Device && !a.Cleared && !slices.ContainsFunc(ds[i].Channels, func(c contract.ChannelState) bool { return c.Channel == a.Channel && c.State == a.State }) {
				ds[i].Channels = append(ds[i].Channels, contract.ChannelState{Channel: a.Channel, State: a.State, Value: a.Value, Latched: a.State == contract.StateAlarm})
			}
		}
	}
	d := devicesData{Devices: ds}
	lang := langOf(r)
	for _, c := range s.communitiesOf(v.worker) {
		d.Plans = append(d.Plans, plan(c, ds, v.worker, lang))
	}
	s.render(w, r, http.StatusOK, "devices", &page{Title: "devices.title", Nav: "devices", Live: "/events", Data: d})
}

// deviceState is the colour class of a device: alarm or fault (the worst
// of its channels, even offline), offline, pre-alarm or normal.
func deviceState(d contract.DeviceInfo) string {
	worst := "normal"
	rank := map[contract.State]int{contract.StateNormal: 0, contract.StatePreAlarm: 1, contract.StateFault: 2, contract.StateAlarm: 3}
	best := 0
	for _, c := range d.Channels {
		if r := rank[c.State]; r > best {
			best, worst = r, string(c.State)
		}
	}
	if !d.Online && best < 2 {
		return "offline"
	}
	return worst
}

func (s *Server) dashboard(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	if s.opts.Dashboard == nil || !dashboardRole(v.worker) {
		s.fail(w, r, http.StatusForbidden, "err.forbidden", errorf("the dashboard is for community and subdistrict staff"))
		return
	}
	var buf bytes.Buffer
	if err := s.opts.Dashboard(&buf, v.worker.Community, langOf(r)); err != nil {
		s.log.Error("dashboard", "error", err)
		s.fail(w, r, http.StatusInternalServerError, "err.server", err)
		return
	}
	// #nosec G203 -- the dashboard hook renders trusted HTML of this binary
	s.render(w, r, http.StatusOK, "dashboard", &page{Title: "dash.title", Nav: "dashboard", Data: template.HTML(buf.String())})
}
