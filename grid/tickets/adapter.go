package tickets

import (
	"context"
	"encoding/json"
	"fmt"

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

func (s *Store) wishesPublication(community string) ([]Publication, error) {
	ws, err := s.PublicWishes(community)
	if err != nil {
		return nil, err
	}
	return []Publication{{Topic: contract.AreaTopic(community, "wishes"), Msg: ws, Retain: true}}, nil
}

// HandleRequest carries out one request operation of contract/ops.go for
// worker (the request's From, checked by the hub) holding role. It returns
// the response body, the messages to publish, and an error; an operation
// it does not implement fails with ErrUnknownOp, so the hub can route it
// elsewhere. It does not block beyond a bbolt transaction; ctx is only
// checked before starting.
func (s *Store) HandleRequest(ctx context.Context, worker, role string, req *contract.Request) (body any, publish []Publication, err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	switch req.Op {
	case contract.OpTicketsList, contract.OpTicketGet, contract.OpTicketAccept, contract.OpTicketStart,
		contract.OpTicketResolve, contract.OpTicketReturn, contract.OpTicketDuplicate, contract.OpTicketClose,
		contract.OpWishesList, contract.OpWishClaim, contract.OpWishDone, contract.OpNotice:
	default:
		return nil, nil, fmt.Errorf("%w: %q", ErrUnknownOp, req.Op)
	}
	if s.opts.Authorize != nil && !s.opts.Authorize(role, req.Op) {
		return nil, nil, fmt.Errorf("%w: %s may not %s", ErrForbidden, role, req.Op)
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
	ticket := func(t Ticket, err error) (any, []Publication, error) {
		if err != nil {
			return nil, nil, err
		}
		return Status(t), []Publication{StatusPublication(t)}, nil
	}
	wish := func(w contract.Wish, err error) (any, []Publication, error) {
		if err != nil {
			return nil, nil, err
		}
		pubs, err := s.wishesPublication(w.Location.Community)
		return w, pubs, err
	}

	switch req.Op {
	case contract.OpTicketsList:
		ts, err := s.List(Filter{Status: State(arg("status")), Grid: arg("grid"), Community: arg("community")})
		if err != nil {
			return nil, nil, err
		}
		out := make([]contract.TicketStatus, len(ts))
		for i, t := range ts {
			out[i] = Status(t)
		}
		return out, nil, nil
	case contract.OpWishesList:
		ws, err := s.Wishes(arg("community"))
		return ws, nil, err
	case contract.OpNotice:
		if err := need("community"); err != nil {
			return nil, nil, err
		}
		var n contract.Notice
		if err := json.Unmarshal(req.Body, &n); err != nil {
			return nil, nil, fmt.Errorf("%w: notice body: %v", ErrInvalid, err)
		}
		ns, err := s.PublishNotice(arg("community"), n)
		if err != nil {
			return nil, nil, err
		}
		return ns, []Publication{{Topic: contract.AreaTopic(ns.Community, "notices"), Msg: &ns, Retain: true}}, nil
	case contract.OpWishClaim:
		if err := need("id"); err != nil {
			return nil, nil, err
		}
		by := arg("by")
		if by == "" {
			by = worker
		}
		return wish(s.ClaimWish(arg("id"), by))
	case contract.OpWishDone:
		if err := need("id"); err != nil {
			return nil, nil, err
		}
		return wish(s.DoneWish(arg("id")))
	}

	// The rest act on one ticket.
	if err := need("number"); err != nil {
		return nil, nil, err
	}
	n := arg("number")
	switch req.Op {
	case contract.OpTicketGet:
		t, err := s.Get(n)
		if err != nil {
			return nil, nil, err
		}
		return Status(t), nil, nil
	case contract.OpTicketAccept:
		return ticket(s.Accept(n, worker))
	case contract.OpTicketStart:
		return ticket(s.Start(n, worker))
	case contract.OpTicketResolve:
		return ticket(s.Resolve(n, worker, arg("note")))
	case contract.OpTicketReturn:
		return ticket(s.Return(n, worker, arg("note")))
	case contract.OpTicketDuplicate:
		if err := need("of"); err != nil {
			return nil, nil, err
		}
		return ticket(s.Duplicate(n, arg("of"), worker))
	default: // contract.OpTicketClose
		return ticket(s.Close(n, worker, arg("note")))
	}
}

// HandleDeviceMessage takes a kiosk's Report, Rating or Wish received on
// device's report topic. grid maps a report's location to the grid that
// owns it (nil: the report's own Location.Grid). It returns the messages
// to publish: the ticket's retained status, or the community's wish list.
// Resends are no-ops that publish the same again. Other messages fail with
// ErrUnknownOp.
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
		return []Publication{StatusPublication(t)}, nil
	case *contract.Rating:
		if m.Device != device {
			return nil, fmt.Errorf("%w: rating %s names device %q, sent by %q", ErrInvalid, m.ID, m.Device, device)
		}
		t, _, err := s.Rate(m)
		if err != nil {
			return nil, err
		}
		return []Publication{StatusPublication(t)}, nil
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
		return s.wishesPublication(w.Location.Community)
	}
	return nil, fmt.Errorf("%w: %T from %s", ErrUnknownOp, m, device)
}
