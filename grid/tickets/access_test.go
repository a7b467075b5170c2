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
		contract.OpNotice: {3, 5},
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
		{li, Access{Op: "ticket.assign", Ticket: tk},
			"tickets: forbidden: w-li (grid east-1) may not ticket.assign: no rule allows it"},
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
