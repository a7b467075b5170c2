package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"linli/grid/config"
	"linli/grid/hub"
	"linli/grid/tickets"
	"linli/mqtt/contract"
	"linli/mqtt/outbox"
)

// TestTicketRoles checks that the roles tickets.Permit knows are the
// configuration's.
func TestTicketRoles(t *testing.T) {
	for _, r := range [][2]string{
		{config.RoleGridWorker, tickets.RoleGridWorker},
		{config.RoleCommunity, tickets.RoleCommunity},
		{config.RoleSubdistrict, tickets.RoleSubdistrict},
		{config.RoleMaintenance, tickets.RoleMaintenance},
	} {
		if r[0] != r[1] {
			t.Errorf("config role %q is tickets role %q", r[0], r[1])
		}
	}
}

// TestTicketWiring runs ticket operations as gridhub serves them, for the
// workers of the example configuration, on a hub that is never started:
// the permissions follow the ticket's grid, and each change is queued in
// the hub's outbox by the change's own transaction.
func TestTicketWiring(t *testing.T) {
	cfg, err := config.Parse(config.Example())
	if err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(filepath.Join(t.TempDir(), "hub.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := hub.New(db, cfg, &hub.Options{Broker: "tcp://127.0.0.1:1", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ts, err := openTickets(db, cfg, h, log)
	if err != nil {
		t.Fatal(err)
	}
	serve := ticketRequest(ts)
	ob, err := outbox.Open(db, &outbox.Options{Prefix: "hub.outbox"}) // the hub's
	if err != nil {
		t.Fatal(err)
	}
	queued := func() []outbox.Item {
		t.Helper()
		items, err := ob.Peek(0)
		if err != nil {
			t.Fatal(err)
		}
		if err := ob.Delete(items...); err != nil {
			t.Fatal(err)
		}
		return items
	}

	// A report from building b4: grid east-2 (w-wang's).
	n := "K2-261127-00001"
	r := &contract.Report{Number: n, Device: "kiosk-02", Category: "leak", Urgency: contract.UrgencyNormal,
		Location: contract.Location{Community: "east", Building: "b4"}, Phrases: []string{"漏水"}}
	pubs, err := ts.HandleDeviceMessage("kiosk-02", r, func(l contract.Location) string { return cfg.Locate(l).Grid })
	if err != nil || len(pubs) != 0 {
		t.Fatalf("report: %+v, %v; want it filed and published by the store", pubs, err)
	}
	if items := queued(); len(items) != 1 || items[0].Topic != contract.TicketTopic(n) {
		t.Fatalf("queued %+v, want the ticket's status", items)
	}

	ctx := context.Background()
	call := func(worker, op string, args ...string) (any, error) {
		w, ok := cfg.Worker(worker)
		if !ok {
			t.Fatalf("no worker %s", worker)
		}
		req := &contract.Request{ID: "q", From: worker, Op: op, Args: map[string]string{}}
		for i := 0; i+1 < len(args); i += 2 {
			req.Args[args[i]] = args[i+1]
		}
		if op == contract.OpNotice {
			req.Body = json.RawMessage(`{"title":"停水通知"}`)
		}
		return serve(ctx, w, req)
	}
	steps := []struct {
		worker, op string
		args       []string
		refused    string // a part of the refusal; "" for allowed
		topic      string // queued by an allowed change
	}{
		{"w-li", contract.OpTicketAccept, nil, "belongs to grid east-2; w-li (grid east-1) may not accept it", ""},
		{"m-zhou", contract.OpTicketAccept, nil, "m-zhou (maintenance staff) may not accept tickets", ""},
		{"w-wang", contract.OpTicketAccept, nil, "", contract.TicketTopic(n)},
		{"w-zhao", contract.OpTicketStart, nil, "w-zhao (grid east-3) may not start it", ""},
		{"c-chen", contract.OpTicketStart, nil, "", contract.TicketTopic(n)},
		{"s-liu", contract.OpTicketResolve, []string{"note", "换了阀门"}, "", contract.TicketTopic(n)},
		{"w-li", contract.OpTicketGet, nil, "", ""}, // same community
		// Resolved: no assignment. The rest assign a second ticket, below.
		{"w-li", contract.OpNotice, []string{"community", "east"}, "w-li (grid east-1) may not publish notices of community east", ""},
		{"c-chen", contract.OpNotice, []string{"community", "east"}, "", contract.AreaTopic("east", "notices")},
	}
	for i, s := range steps {
		_, err := call(s.worker, s.op, append([]string{"number", n}, s.args...)...)
		items := queued()
		if s.refused != "" {
			if !errors.Is(err, tickets.ErrForbidden) || !strings.Contains(err.Error(), s.refused) {
				t.Errorf("step %d: %s by %s: %v, want a refusal saying %q", i, s.op, s.worker, err, s.refused)
			}
			if len(items) != 0 {
				t.Errorf("step %d: refused %s queued %d messages", i, s.op, len(items))
			}
			continue
		}
		if err != nil {
			t.Errorf("step %d: %s by %s: %v", i, s.op, s.worker, err)
			continue
		}
		if s.topic == "" && len(items) != 0 || s.topic != "" && (len(items) != 1 || items[0].Topic != s.topic) {
			t.Errorf("step %d: %s queued %+v, want one on %q", i, s.op, items, s.topic)
		}
	}
	// ticket.assign: the target must be a grid or grid worker of the
	// ticket's community; w-wang (east-2) may hand it on, w-li not.
	n2 := "K2-261127-00002"
	r.Number = n2
	if _, err := ts.HandleDeviceMessage("kiosk-02", r, func(l contract.Location) string { return cfg.Locate(l).Grid }); err != nil {
		t.Fatal(err)
	}
	queued()
	for _, tt := range []struct {
		worker string
		args   []string
		err    string // a part of the error; "" for allowed
		grid   string // the ticket's grid after an allowed one
	}{
		{"w-li", []string{"grid", "east-1"}, "w-li (grid east-1) may not assign it", ""},
		{"c-chen", []string{"grid", "west-9"}, `grid "west-9" is not a grid of community east`, ""},
		{"c-chen", []string{"worker", "c-chen"}, `"c-chen" is not a grid worker of community east`, ""},
		{"c-chen", []string{"grid", "east-1", "worker", "w-zhao"}, "w-zhao works in grid east-3, not east-1", ""},
		{"w-wang", []string{"worker", "w-zhao", "note", "6号楼"}, "", "east-3"},
		{"c-chen", []string{"grid", "east-1"}, "", "east-1"},
	} {
		body, err := call(tt.worker, contract.OpTicketAssign, append([]string{"number", n2}, tt.args...)...)
		items := queued()
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || len(items) != 0 {
				t.Errorf("assign %v by %s: %v (%d queued), want an error saying %q", tt.args, tt.worker, err, len(items), tt.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("assign %v by %s: %v", tt.args, tt.worker, err)
		}
		if st := body.(contract.TicketStatus); st.Location.Grid != tt.grid || len(items) != 1 || items[0].Topic != contract.TicketTopic(n2) {
			t.Errorf("assign %v by %s: grid %s, %d queued; want grid %s and its status", tt.args, tt.worker, st.Location.Grid, len(items), tt.grid)
		}
	}

	if st := h.Stats(); st.QueueDepth == 0 {
		t.Errorf("hub's queue depth %d after queued changes: the hub did not see them", st.QueueDepth)
	}
}
