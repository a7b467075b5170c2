package tickets

import (
	"fmt"
	"strings"

	"linli/mqtt/contract"
)

// Roles of a Worker: the same strings as the roles of grid/config.
const (
	RoleGridWorker  = "grid-worker" // 网格员: one grid
	RoleCommunity   = "community"   // 社区工作人员: one community
	RoleSubdistrict = "subdistrict" // 街道: every community of the hub
	RoleMaintenance = "maintenance" // 维保: devices, not tickets
)

// Worker is who asks for a request operation: the fields of the hub's
// configured worker that decide what they may do.
type Worker struct {
	ID        string
	Role      string // a Role* constant
	Grid      string // a grid worker's grid
	Community string // a grid or community worker's community
}

func (w Worker) String() string {
	switch w.Role {
	case RoleGridWorker:
		return fmt.Sprintf("%s (grid %s)", w.ID, w.Grid)
	case RoleCommunity:
		return fmt.Sprintf("%s (community %s)", w.ID, w.Community)
	case RoleMaintenance:
		return w.ID + " (maintenance staff)"
	}
	return fmt.Sprintf("%s (%s)", w.ID, w.Role)
}

// Access is what a worker asks to do, as Options.Authorize sees it.
type Access struct {
	// Op is the request operation (a contract.Op* name).
	Op string
	// Ticket is the ticket Op acts on, read in the transaction that will
	// change it; nil for an operation on no single ticket (tickets.list,
	// wishes.list, wish.*, notice.publish).
	Ticket *Ticket
	// Community is the community the operation concerns: the ticket's,
	// or the "community" argument of notice.publish, tickets.list and
	// wishes.list; "" when none.
	Community string
}

// worksOn reports whether op is one of the moves on a ticket that only
// those responsible for it may make.
func worksOn(op string) bool {
	switch op {
	case contract.OpTicketAccept, contract.OpTicketStart, contract.OpTicketResolve,
		contract.OpTicketReturn, contract.OpTicketDuplicate, contract.OpTicketClose, contract.OpTicketAssign:
		return true
	}
	return false
}

// Permit is the default Options.Authorize: who may do what, matching who
// answers for an alert at the same place (see grid/hub).
//
//	tickets.list, wishes.list,
//	wish.claim, wish.done      any worker (volunteers act through workers)
//	ticket.get                 subdistrict and maintenance: every ticket;
//	                           grid and community workers: the tickets of
//	                           their own community (and a grid worker those
//	                           of their grid); tickets.list shows them only
//	                           those. The public status is no secret (it
//	                           is retained for the kiosks): the scope keeps
//	                           lists to what is theirs to work on.
//	ticket.accept, start,
//	resolve, return,
//	duplicate, close, assign   grid workers of the ticket's current grid,
//	                           community workers of its community, and the
//	                           subdistrict; never maintenance staff. So a
//	                           grid worker may hand their own grid's ticket
//	                           on, but never take one away from another
//	                           grid
//	notice.publish             community workers of that community, and
//	                           the subdistrict
//
// A ticket returned to the community pool keeps its grid until it is
// assigned elsewhere, so the grid that returned it may still take it back.
// An operation Permit does not know is refused. With a nil Ticket, Permit
// answers whether w may ever do Op. The error wraps ErrForbidden and says
// who may.
func Permit(w Worker, a Access) error {
	switch a.Op {
	case contract.OpTicketsList, contract.OpWishesList, contract.OpWishClaim, contract.OpWishDone:
		return nil
	case contract.OpTicketGet:
		if a.Ticket == nil || w.Role == RoleSubdistrict || w.Role == RoleMaintenance {
			return nil
		}
		c := a.Ticket.Report.Location.Community
		switch {
		case (w.Role == RoleGridWorker || w.Role == RoleCommunity) && w.Community != "" && w.Community == c,
			w.Role == RoleGridWorker && w.Grid != "" && w.Grid == a.Ticket.Grid:
			return nil
		}
		return fmt.Errorf("%w: %s is in community %s; %s may not read it", ErrForbidden, a.Ticket.Number, c, w)
	case contract.OpNotice:
		switch {
		case w.Role == RoleSubdistrict:
			return nil
		case w.Role == RoleCommunity && w.Community != "" && w.Community == a.Community:
			return nil
		}
		return fmt.Errorf("%w: %s may not publish notices of community %s (its community workers and the subdistrict may)",
			ErrForbidden, w, a.Community)
	}
	if !worksOn(a.Op) {
		return fmt.Errorf("%w: %s may not %s: no rule allows it", ErrForbidden, w, a.Op)
	}
	verb := strings.TrimPrefix(a.Op, "ticket.")
	switch w.Role {
	case RoleSubdistrict:
		return nil
	case RoleGridWorker, RoleCommunity:
	case RoleMaintenance:
		return fmt.Errorf("%w: %s may not %s tickets (grid, community and subdistrict workers may)", ErrForbidden, w, verb)
	default:
		return fmt.Errorf("%w: %s may not %s tickets: unknown role %q", ErrForbidden, w, verb, w.Role)
	}
	t := a.Ticket
	if t == nil {
		return nil
	}
	c := t.Report.Location.Community
	if w.Role == RoleCommunity {
		if w.Community != "" && w.Community == c {
			return nil
		}
		return fmt.Errorf("%w: %s belongs to community %s; %s may not %s it (%s)",
			ErrForbidden, t.Number, orNone(c), w, verb, who(t))
	}
	if w.Grid != "" && w.Grid == t.Grid {
		return nil
	}
	return fmt.Errorf("%w: %s belongs to grid %s; %s may not %s it (%s)",
		ErrForbidden, t.Number, orNone(t.Grid), w, verb, who(t))
}

// who says who may work on t.
func who(t *Ticket) string {
	var may []string
	if t.Grid != "" {
		may = append(may, "grid "+t.Grid+"'s workers")
	}
	if c := t.Report.Location.Community; c != "" {
		may = append(may, "community "+c+"'s workers")
	}
	return strings.Join(append(may, "the subdistrict"), ", ") + " may"
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
