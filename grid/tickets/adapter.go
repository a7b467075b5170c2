package tickets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"linli/mqtt/contract"
)

// Publication is a message the hub must publish after an operation.
type Publication struct {
	Topic  string
	Msg    contract.Message
	Retain bool
}

// StatusPublication is the retained public status of t.
func StatusPublication(t Ticket) Publication {
	st := Status(t)
	return Publication{Topic: contract.TicketTopic(t.Number), Msg: &st, Retain: true}
}

// Publications returns what the hub must publish after Due: the new
// status of every escalated ticket (warnings change nothing public).
// With Options.PublishTx set, Due queued them already.
func Publications(acts []Action) []Publication {
	var pubs []Publication
	seen := map[string]int{}
	for _, a := range acts {
		if a.Kind != KindEscalate {
			continue
		}
		p := StatusPublication(a.Ticket)
		if i, ok := seen[a.Number]; ok {
			pubs[i] = p
			continue
		}
		seen[a.Number] = len(pubs)
		pubs = append(pubs, p)
	}
	return pubs
}

func wishesPublication(ws *contract.Wishes) Publication {
	return Publication{Topic: contract.AreaTopic(ws.Community, "wishes"), Msg: ws, Retain: true}
}

func noticesPublication(ns contract.Notices) Publication {
	return Publication{Topic: contract.AreaTopic(ns.Community, "notices"), Msg: &ns, Retain: true}
}

// left returns what the caller of HandleRequest or HandleDeviceMessage
// must publish: pubs, unless Options.PublishTx queued them already.
func (s *Store) left(pubs ...Publication) []Publication {
	if s.opts.PublishTx != nil {
		return nil
	}
	return pubs
}

// wishesLeft is left for community's wish list.
func (s *Store) wishesLeft(community string) ([]Publication, error) {
	if s.opts.PublishTx != nil {
		return nil, nil
	}
	ws, err := s.PublicWishes(community)
	if err != nil {
		return nil, err
	}
	return []Publication{wishesPublication(ws)}, nil
}

// HandleRequest carries out one request operation of contract/ops.go for
// worker w (the request's sender, checked by the hub), once
// Options.Authorize allowed it: for an operation on one ticket, with the
// ticket, in the transaction that changes it. tickets.list returns only
// the tickets Authorize lets w ticket.get. HandleRequest returns the
// response body, the messages the caller must publish (none when
// Options.PublishTx is set: they were queued with the change), and an
// error; a refusal wraps ErrForbidden. An operation it does not implement
// fails with ErrUnknownOp, so the hub can route it elsewhere. It does not
// block beyond a bbolt transaction; ctx is only checked before starting.
func (s *Store) HandleRequest(ctx context.Context, w Worker, req *contract.Request) (body any, publish []Publication, err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	switch req.Op {
	case contract.OpTicketsList, contract.OpTicketGet, contract.OpTicketAccept, contract.OpTicketStart,
		contract.OpTicketResolve, contract.OpTicketReturn, contract.OpTicketDuplicate, contract.OpTicketClose,
		contract.OpTicketAssign, contract.OpWishesList, contract.OpWishClaim, contract.OpWishDone, contract.OpNotice:
	default:
		return nil, nil, fmt.Errorf("%w: %q", ErrUnknownOp, req.Op)
	}
	arg := func(k string) string { return req.Args[k] }
	need := func(keys ...string) error {
		for _, k := range keys {
			if req.Args[k] == "" {
				return fmt.Errorf("%w: %s needs %q", ErrInvalid, req.Op, k)
			}
		}
		return nil
	}
	auth := func(a Access) error {
		if err := s.opts.Authorize(w, a); err != nil {
			if !errors.Is(err, ErrForbidden) {
				err = fmt.Errorf("%w: %w", ErrForbidden, err)
			}
			return err
		}
		return nil
	}
	onTicket := func(op string) guard {
		return func(t *Ticket) error {
			c := *t // the move changes t after the check
			c.Timeline = slices.Clone(t.Timeline)
			return auth(Access{Op: op, Ticket: &c, Community: t.Report.Location.Community})
		}
	}
	ticket := func(t Ticket, err error) (any, []Publication, error) {
		if err != nil {
			return nil, nil, err
		}
		return Status(t), s.left(StatusPublication(t)), nil
	}
	wish := func(wi contract.Wish, err error) (any, []Publication, error) {
		if err != nil {
			return nil, nil, err
		}
		pubs, err := s.wishesLeft(wi.Location.Community)
		return wi, pubs, err
	}

	switch req.Op {
	case contract.OpTicketsList:
		if err := auth(Access{Op: req.Op, Community: arg("community")}); err != nil {
			return nil, nil, err
		}
		ts, err := s.List(Filter{Status: State(arg("status")), Grid: arg("grid"), Community: arg("community")})
		if err != nil {
			return nil, nil, err
		}
		out := make([]contract.TicketStatus, 0, len(ts))
		for _, t := range ts {
			if onTicket(contract.OpTicketGet)(&t) == nil {
				out = append(out, Status(t))
			}
		}
		return out, nil, nil
	case contract.OpWishesList:
		if err := auth(Access{Op: req.Op, Community: arg("community")}); err != nil {
			return nil, nil, err
		}
		ws, err := s.Wishes(arg("community"))
		return ws, nil, err
	case contract.OpNotice:
		if err := need("community"); err != nil {
			return nil, nil, err
		}
		if err := auth(Access{Op: req.Op, Community: arg("community")}); err != nil {
			return nil, nil, err
		}
		var n contract.Notice
		if err := json.Unmarshal(req.Body, &n); err != nil {
			return nil, nil, fmt.Errorf("%w: notice body: %w", ErrInvalid, err)
		}
		ns, err := s.PublishNotice(arg("community"), n)
		if err != nil {
			return nil, nil, err
		}
		return ns, s.left(noticesPublication(ns)), nil
	case contract.OpWishClaim, contract.OpWishDone:
		if err := need("id"); err != nil {
			return nil, nil, err
		}
		if err := auth(Access{Op: req.Op}); err != nil {
			return nil, nil, err
		}
		if req.Op == contract.OpWishDone {
			return wish(s.DoneWish(arg("id")))
		}
		by := arg("by")
		if by == "" {
			by = w.ID
		}
		return wish(s.ClaimWish(arg("id"), by))
	}

	// The rest act on one ticket.
	if err := need("number"); err != nil {
		return nil, nil, err
	}
	n := arg("number")
	g := onTicket(req.Op)
	switch req.Op {
	case contract.OpTicketGet:
		t, err := s.Get(n)
		if err != nil {
			return nil, nil, err
		}
		if err := g(&t); err != nil {
			return nil, nil, err
		}
		return Status(t), nil, nil
	case contract.OpTicketAccept:
		return ticket(s.act(VerbAccept, n, w.ID, "", g))
	case contract.OpTicketStart:
		return ticket(s.act(VerbStart, n, w.ID, "", g))
	case contract.OpTicketResolve:
		return ticket(s.act(VerbResolve, n, w.ID, arg("note"), g))
	case contract.OpTicketReturn:
		return ticket(s.act(VerbReturn, n, w.ID, arg("note"), g))
	case contract.OpTicketDuplicate:
		if err := need("of"); err != nil {
			return nil, nil, err
		}
		return ticket(s.act(VerbDuplicate, n, w.ID, arg("of"), g))
	case contract.OpTicketAssign:
		return ticket(s.assignRequest(n, arg("grid"), arg("worker"), arg("note"), w, g))
	default: // contract.OpTicketClose
		return ticket(s.act(VerbClose, n, w.ID, arg("note"), g))
	}
}

// assignRequest serves ticket.assign: w may move the ticket (g, checked
// first so that a refused worker learns nothing of the target), the target
// is checked with Options.AssignTarget against the ticket's community
// (fixed since it was filed), and the move itself is checked by g again in
// its own transaction.
func (s *Store) assignRequest(number, grid, worker, note string, w Worker, g guard) (Ticket, error) {
	if grid == "" && worker == "" {
		return Ticket{}, fmt.Errorf("%w: %s needs \"grid\" or \"worker\"", ErrInvalid, contract.OpTicketAssign)
	}
	if grid == "" && s.opts.AssignTarget == nil {
		return Ticket{}, fmt.Errorf("%w: %s needs \"grid\" (this hub cannot look up a worker's grid)", ErrInvalid, contract.OpTicketAssign)
	}
	t, err := s.Get(number)
	if err != nil {
		return Ticket{}, err
	}
	if err := g(&t); err != nil {
		return Ticket{}, err
	}
	if s.opts.AssignTarget != nil {
		if grid, err = s.opts.AssignTarget(t.Report.Location.Community, grid, worker); err != nil {
			return Ticket{}, fmt.Errorf("%w: assign %s: %w", ErrInvalid, number, err)
		}
	}
	return s.assign(number, grid, worker, w.ID, note, g)
}

// HandleDeviceMessage takes a kiosk's Report, Rating or Wish received on
// device's report topic. grid maps a report's location to the grid that
// owns it (nil: the report's own Location.Grid). It returns the messages
// the caller must publish: the ticket's retained status, or the
// community's wish list (none when Options.PublishTx is set: they were
// queued with the change). Resends are no-ops that publish the same
// again. Other messages fail with ErrUnknownOp.
func (s *Store) HandleDeviceMessage(device string, m contract.Message, grid func(contract.Location) string) ([]Publication, error) {
	switch m := m.(type) {
	case *contract.Report:
		if m.Device != device {
			return nil, fmt.Errorf("%w: report %s names device %q, sent by %q", ErrInvalid, m.Number, m.Device, device)
		}
		g := m.Location.Grid
		if grid != nil {
			g = grid(m.Location)
		}
		t, _, err := s.File(m, g)
		if err != nil {
			return nil, err
		}
		return s.left(StatusPublication(t)), nil
	case *contract.Rating:
		if m.Device != device {
			return nil, fmt.Errorf("%w: rating %s names device %q, sent by %q", ErrInvalid, m.ID, m.Device, device)
		}
		t, _, err := s.Rate(m)
		if err != nil {
			return nil, err
		}
		return s.left(StatusPublication(t)), nil
	case *contract.Wish:
		if m.Device == "" {
			m.Device = device
		}
		if m.Device != device {
			return nil, fmt.Errorf("%w: wish %s names device %q, sent by %q", ErrInvalid, m.ID, m.Device, device)
		}
		w, _, err := s.PostWish(m)
		if err != nil {
			return nil, err
		}
		return s.wishesLeft(w.Location.Community)
	}
	return nil, fmt.Errorf("%w: %T from %s", ErrUnknownOp, m, device)
}
