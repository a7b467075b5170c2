package tickets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"

	"linli/mqtt/contract"
)

// TestPermissions runs every request operation through HandleRequest for
// each kind of worker, on a ticket of their own grid or community and of
// another, and checks that exactly the allowed ones went through and that
// a refused one changed nothing.
func TestPermissions(t *testing.T) {
	workers := []struct {
		name string
		w    Worker
	}{
		{"grid worker, own grid", gridOwn},
		{"grid worker, other grid", gridOther},
		{"grid worker, other community", gridAway},
		{"community worker, own community", commOwn},
		{"community worker, other community", commOther},
		{"subdistrict", subd},
		{"maintenance", maint},
	}
	// allow lists, per operation, the workers (by position above) that may.
	all := []int{0, 1, 2, 3, 4, 5, 6}
	work := []int{0, 3, 5}
	allow := map[string][]int{
		contract.OpTicketsList: all, contract.OpWishesList: all, contract.OpWishClaim: all, contract.OpWishDone: all,
		contract.OpTicketGet:    {0, 1, 3, 5, 6},
		contract.OpTicketAccept: work, contract.OpTicketStart: work, contract.OpTicketResolve: work,
		contract.OpTicketReturn: work, contract.OpTicketDuplicate: work, contract.OpTicketClose: work,
		contract.OpTicketAssign: work,
		contract.OpNotice:       {3, 5},
	}
	// before brings the ticket into a state where op is a legal move.
	before := map[string]State{contract.OpTicketStart: Accepted, contract.OpTicketResolve: InProgress}

	e := newEnv(t, nil)
	ctx := context.Background()
	orig := e.file(t, "P-261127-00000")
	seq := 0
	for _, op := range slices.Sorted(func(yield func(string) bool) {
		for op := range allow {
			if !yield(op) {
				return
			}
		}
	}) {
		for i, wk := range workers {
			t.Run(op+"/"+wk.name, func(t *testing.T) {
				seq++
				n := fmt.Sprintf("P-261127-%05d", seq)
				e.file(t, n)
				if st, ok := before[op]; ok {
					if err := setup[st](e, n); err != nil {
						t.Fatal(err)
					}
				}
				wid := fmt.Sprintf("wish-%d", seq)
				if _, _, err := e.s.PostWish(&contract.Wish{ID: wid, Device: "kiosk-1", Text: "修自行车", Location: contract.Location{Community: "hl"}}); err != nil {
					t.Fatal(err)
				}
				if op == contract.OpWishDone {
					if _, err := e.s.ClaimWish(wid, "volunteer"); err != nil {
						t.Fatal(err)
					}
				}
				r := req(op, "number", n, "note", "不属本网格", "of", orig.Number, "id", wid, "community", "hl")
				if op == contract.OpTicketAssign {
					r.Args["grid"] = "g2"
				}
				r.Body = json.RawMessage(`{"title":"停水通知"}`)
				old, _ := e.s.Get(n)

				body, _, err := e.s.HandleRequest(ctx, wk.w, r)

				want := slices.Contains(allow[op], i)
				if want && err != nil {
					t.Fatalf("%s by %s: %v, want allowed", op, wk.w, err)
				}
				if !want {
					if !errors.Is(err, ErrForbidden) {
						t.Fatalf("%s by %s: err = %v, want ErrForbidden", op, wk.w, err)
					}
					if got, _ := e.s.Get(n); got.Status != old.Status || len(got.Timeline) != len(old.Timeline) {
						t.Errorf("refused %s changed the ticket: %s (%d steps), was %s (%d)", op, got.Status, len(got.Timeline), old.Status, len(old.Timeline))
					}
					return
				}
				if op == contract.OpTicketsList {
					// The list shows the ticket exactly to those who may get it.
					list := body.([]contract.TicketStatus)
					seen := slices.ContainsFunc(list, func(s contract.TicketStatus) bool { return s.Number == n })
					if mayGet := slices.Contains(allow[contract.OpTicketGet], i); seen != mayGet {
						t.Errorf("tickets.list by %s shows %s: %v, want %v", wk.w, n, seen, mayGet)
					}
				}
			})
		}
	}
}

func TestPermitMessages(t *testing.T) {
	tk := &Ticket{Number: "K7-261127-00423", Grid: "east-2", Report: contract.Report{Location: contract.Location{Community: "east"}}}
	li := Worker{ID: "w-li", Role: RoleGridWorker, Grid: "east-1", Community: "east"}
	tests := []struct {
		w    Worker
		a    Access
		want string
	}{
		{li, Access{Op: contract.OpTicketAccept, Ticket: tk},
			"tickets: forbidden: K7-261127-00423 belongs to grid east-2; w-li (grid east-1) may not accept it (grid east-2's workers, community east's workers, the subdistrict may)"},
		{Worker{ID: "c-wu", Role: RoleCommunity, Community: "west"}, Access{Op: contract.OpTicketClose, Ticket: tk},
			"tickets: forbidden: K7-261127-00423 belongs to community east; c-wu (community west) may not close it (grid east-2's workers, community east's workers, the subdistrict may)"},
		{Worker{ID: "m-zhou", Role: RoleMaintenance}, Access{Op: contract.OpTicketResolve, Ticket: tk},
			"tickets: forbidden: m-zhou (maintenance staff) may not resolve tickets (grid, community and subdistrict workers may)"},
		{li, Access{Op: contract.OpNotice, Community: "east"},
			"tickets: forbidden: w-li (grid east-1) may not publish notices of community east (its community workers and the subdistrict may)"},
		{Worker{ID: "x", Role: "visitor"}, Access{Op: contract.OpTicketAccept, Ticket: tk},
			`tickets: forbidden: x (visitor) may not accept tickets: unknown role "visitor"`},
		{li, Access{Op: contract.OpTicketAssign, Ticket: tk},
			"tickets: forbidden: K7-261127-00423 belongs to grid east-2; w-li (grid east-1) may not assign it (grid east-2's workers, community east's workers, the subdistrict may)"},
		{li, Access{Op: "ticket.reassign", Ticket: tk},
			"tickets: forbidden: w-li (grid east-1) may not ticket.reassign: no rule allows it"},
	}
	for _, tt := range tests {
		err := Permit(tt.w, tt.a)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Permit(%s, %s) = %v\nwant %s", tt.w, tt.a.Op, err, tt.want)
		}
		if !errors.Is(err, ErrForbidden) {
			t.Errorf("Permit(%s, %s) = %v, want ErrForbidden", tt.w, tt.a.Op, err)
		}
	}
}

// TestAuthorizeHook checks that a custom Authorize replaces Permit, sees
// the ticket, and that its refusal wraps ErrForbidden.
func TestAuthorizeHook(t *testing.T) {
	errNo := errors.New("not on weekends")
	var seen []Access
	e := newEnv(t, &Options{Authorize: func(w Worker, a Access) error {
		seen = append(seen, a)
		if a.Ticket != nil && a.Ticket.Number == "A-261127-00002" {
			return errNo
		}
		return nil
	}})
	e.file(t, "A-261127-00001")
	e.file(t, "A-261127-00002")
	ctx := context.Background()
	if _, _, err := e.s.HandleRequest(ctx, maint, req(contract.OpTicketAccept, "number", "A-261127-00001")); err != nil {
		t.Errorf("accept allowed by the hook: %v", err)
	}
	_, _, err := e.s.HandleRequest(ctx, maint, req(contract.OpTicketAccept, "number", "A-261127-00002"))
	if !errors.Is(err, ErrForbidden) || !errors.Is(err, errNo) {
		t.Errorf("accept refused by the hook: %v, want ErrForbidden and the hook's error", err)
	}
	if len(seen) != 2 || seen[0].Op != contract.OpTicketAccept || seen[0].Ticket == nil || seen[0].Ticket.Status != Submitted || seen[0].Community != "hl" {
		t.Errorf("hook saw %+v, want accept of a submitted ticket in hl", seen)
	}
	body, _, err := e.s.HandleRequest(ctx, maint, req(contract.OpTicketsList))
	if list := body.([]contract.TicketStatus); err != nil || len(list) != 1 || list[0].Number != "A-261127-00001" {
		t.Errorf("tickets.list = %+v, %v; want only the ticket the hook lets get", body, err)
	}
}

// assignTarget is gridhub's Options.AssignTarget over a fixed community
// hl with grids g1 and g2, grid workers w1 (g1) and w2 (g2), and a
// community worker c1.
func assignTarget(community, grid, worker string) (string, error) {
	grids := map[string]bool{"g1": true, "g2": true}
	workers := map[string]string{"w1": "g1", "w2": "g2"}
	if community != "hl" {
		return "", fmt.Errorf("community %s has no grids here", community)
	}
	if grid != "" && !grids[grid] {
		return "", fmt.Errorf("grid %s is not a grid of community hl", grid)
	}
	if worker == "" {
		return grid, nil
	}
	wg, ok := workers[worker]
	switch {
	case !ok:
		return "", fmt.Errorf("%s is not a grid worker of community hl", worker)
	case grid != "" && grid != wg:
		return "", fmt.Errorf("%s works in grid %s, not %s", worker, wg, grid)
	}
	return wg, nil
}

// TestAssign moves tickets between grids and to a worker through
// ticket.assign: who may, where to, the timeline step, the retained status
// queued with the change, and that the grid it left loses it.
func TestAssign(t *testing.T) {
	oe := newOutboxEnv(t)
	oe.opts.AssignTarget = assignTarget
	oe.restart(t)
	oe.reopenOutbox(t)
	ctx := context.Background()
	n := "A-261127-00100"
	oe.file(t, n) // in grid g1
	oe.queued(t)

	// The grid that has it returns it: it stays in g1, in the pool.
	if _, _, err := oe.s.HandleRequest(ctx, gridOwn, req(contract.OpTicketReturn, "number", n, "note", "不属本网格")); err != nil {
		t.Fatal(err)
	}
	oe.queued(t)
	// Another grid's worker may not take it away from g1.
	if _, _, err := oe.s.HandleRequest(ctx, gridOther, req(contract.OpTicketAssign, "number", n, "grid", "g2")); !errors.Is(err, ErrForbidden) {
		t.Fatalf("assign by a worker of another grid: %v, want ErrForbidden", err)
	}
	// Nor may anyone send it outside the community, nor to nobody.
	for _, r := range []*contract.Request{
		req(contract.OpTicketAssign, "number", n, "grid", "x1"),
		req(contract.OpTicketAssign, "number", n, "worker", "w3"),
		req(contract.OpTicketAssign, "number", n, "grid", "g1", "worker", "w2"),
		req(contract.OpTicketAssign, "number", n),
	} {
		if _, _, err := oe.s.HandleRequest(ctx, commOwn, r); !errors.Is(err, ErrInvalid) {
			t.Errorf("assign %v: %v, want ErrInvalid", r.Args, err)
		}
	}
	if items := oe.queued(t); len(items) != 0 {
		t.Fatalf("refused assignments queued %d messages", len(items))
	}

	// Community staff send it to grid g2.
	body, _, err := oe.s.HandleRequest(ctx, commOwn, req(contract.OpTicketAssign, "number", n, "grid", "g2", "note", "3号楼属二网格"))
	if err != nil {
		t.Fatal(err)
	}
	st := body.(contract.TicketStatus)
	last := st.Timeline[len(st.Timeline)-1]
	if st.Status != "submitted" || st.Location.Grid != "g2" || st.Assigned != "" ||
		last.Status != "submitted" || last.By != "c1" || last.Note != "grid g2: 3号楼属二网格" {
		t.Errorf("after assign to g2: %+v, last step %+v", st, last)
	}
	items := oe.queued(t)
	if len(items) != 1 || items[0].Topic != contract.TicketTopic(n) || !items[0].Retain {
		t.Fatalf("queued %+v, want the retained status of %s", items, n)
	}
	if q := queuedStatus(t, items[0]); q.Location.Grid != "g2" || q.Status != "submitted" {
		t.Errorf("retained status %+v, want submitted in g2", q)
	}
	if tk, _ := oe.s.Get(n); !tk.AcceptBy.Equal(oe.clk.Now().Add(DefaultLimits()[contract.UrgencyNormal].Accept)) {
		t.Errorf("accept limit %v, want a fresh one from now", tk.AcceptBy)
	}
	// Grid g1 lost it; g2 has it.
	if _, _, err := oe.s.HandleRequest(ctx, gridOwn, req(contract.OpTicketAccept, "number", n)); !errors.Is(err, ErrForbidden) {
		t.Errorf("accept by the old grid: %v, want ErrForbidden", err)
	}

	// g2's worker hands it on to w1 by name: it goes to w1's grid, assigned to w1.
	body, _, err = oe.s.HandleRequest(ctx, gridOther, req(contract.OpTicketAssign, "number", n, "worker", "w1"))
	if err != nil {
		t.Fatal(err)
	}
	st = body.(contract.TicketStatus)
	last = st.Timeline[len(st.Timeline)-1]
	if st.Location.Grid != "g1" || st.Assigned != "w1" || last.By != "w2" || last.Note != "grid g1, worker w1" {
		t.Errorf("after assign to w1: %+v, last step %+v", st, last)
	}
	if q := queuedStatus(t, oe.queued(t)[0]); q.Assigned != "w1" || q.Location.Grid != "g1" {
		t.Errorf("retained status %+v, want assigned to w1 in g1", q)
	}
	body, _, err = oe.s.HandleRequest(ctx, gridOwn, req(contract.OpTicketAccept, "number", n))
	if err != nil || body.(contract.TicketStatus).Status != "accepted" {
		t.Fatalf("accept by w1: %+v, %v", body, err)
	}
	// An accepted ticket is not assigned away (return it first).
	if _, _, err := oe.s.HandleRequest(ctx, commOwn, req(contract.OpTicketAssign, "number", n, "grid", "g2")); !errors.Is(err, ErrTransition) {
		t.Errorf("assign of an accepted ticket: %v, want ErrTransition", err)
	}
}

// TestAssignWithoutTarget is ticket.assign on a Store without
// Options.AssignTarget: a grid is required and taken as it is.
func TestAssignWithoutTarget(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	n := "A-261127-00101"
	e.file(t, n)
	if _, _, err := e.s.HandleRequest(ctx, subd, req(contract.OpTicketAssign, "number", n, "worker", "w2")); !errors.Is(err, ErrInvalid) {
		t.Errorf("assign to a worker alone: %v, want ErrInvalid", err)
	}
	body, pubs, err := e.s.HandleRequest(ctx, subd, req(contract.OpTicketAssign, "number", n, "grid", "g2", "worker", "w2"))
	if err != nil || len(pubs) != 1 || !pubs[0].Retain {
		t.Fatalf("assign: %v, %d publications", err, len(pubs))
	}
	if st := body.(contract.TicketStatus); st.Location.Grid != "g2" || st.Assigned != "w2" {
		t.Errorf("status %+v, want g2, w2", st)
	}
}
