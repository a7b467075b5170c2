package main

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"linli/cmd/internal/bintest"
	"linli/kiosk"
	"linli/mqtt/contract"
	"linli/mqtt/mqtttest"
	"linli/ui"
)

// TestOfflineReportsReachHub files 100 reports through the kiosk's real
// backend (kiosk.Service, outbox, uplink as `kiosk run` wires them) while
// the broker is down, then brings the broker and the gridhub binary up:
// the hub's ticket list holds exactly 100 tickets, under exactly the
// numbers the residents were shown, each reported once, and the kiosk gets
// every ticket's status back.
//
// With the embedded broker, gridhub is the broker: it is down, then
// started. With mosquitto the hub has its persistent session there (as in
// the field), mosquitto is stopped while the reports are filed and started
// again. mqtttest's mosquitto allows anonymous clients, so the broker's
// per-device ACLs (grid/config → mqtt/broker) are exercised only by the
// embedded variant; on mosquitto the accounts are not checked at all.
func TestOfflineReportsReachHub(t *testing.T) {
	for _, b := range []string{"embedded", "mosquitto"} {
		t.Run(b, func(t *testing.T) {
			var url string
			var up func() *gridhub
			if b == "embedded" {
				addr := bintest.FreeAddr(t)
				url = "tcp://" + addr
				up = func() *gridhub { return startGridhub(t, addr, "") }
			} else {
				m := mqtttest.Mosquitto(t, &mqtttest.MosquittoOpts{Persistence: true})
				url = m.URL()
				h := startGridhub(t, "", url) // the hub's session exists
				m.Stop()
				up = func() *gridhub { m.Start(); return h }
			}
			testOfflineReports(t, url, up)
		})
	}
}

func testOfflineReports(t *testing.T, url string, up func() *gridhub) {
	d := startKiosk(t, url)
	b := backend{d.svc}
	cats := catalogue(d.svc)
	ctx := context.Background()

	shown := map[string]ui.Draft{}
	for i := range 100 {
		c := cats[i%len(cats)]
		dr := ui.Draft{
			Category: c.ID,
			Location: contract.Location{Building: fmt.Sprint(1 + i%4), Unit: "1", Door: fmt.Sprintf("%d01", 1+i%18)},
		}
		if len(c.Phrases) > 0 {
			dr.Phrases = []string{c.Phrases[i%len(c.Phrases)].Text}
		}
		if i%3 == 0 {
			dr.Phone, dr.Consent = fmt.Sprintf("139%08d", i), true
		}
		n, err := b.FileReport(ctx, dr)
		if err != nil {
			t.Fatalf("report %d: %v", i, err)
		}
		if _, dup := shown[n]; dup {
			t.Fatalf("report %d: number %s shown twice", i, n)
		}
		shown[n] = dr
	}
	if s := d.up.Stats(); s.Connected {
		t.Fatal("the kiosk is connected: the broker was meant to be down")
	}
	if h, err := d.svc.Health(); err != nil || h.Outbox.Events != 100 || h.Pending != 100 {
		t.Fatalf("before the broker is up: %+v, %v; want 100 events queued, 100 pending", h, err)
	}

	hub := up()
	w := worker(t, hub.url)
	var list []contract.TicketStatus
	eventually(t, "the hub holds 100 tickets", func() bool {
		list = nil
		call(t, w, contract.OpTicketsList, nil, &list)
		return len(list) >= 100
	})
	// Every queued report is delivered once the outbox is empty; list
	// again after that, so a late duplicate would show.
	eventually(t, "the kiosk's outbox is empty", func() bool {
		h, err := d.svc.Health()
		return err == nil && h.Outbox.Depth() == 0
	})
	list = nil
	call(t, w, contract.OpTicketsList, nil, &list)
	checkHubTickets(t, list, shown)

	// The hub's retained status of each ticket reaches the kiosk.
	eventually(t, "the kiosk has the hub's status of all 100 tickets", func() bool {
		h, err := d.svc.Health()
		return err == nil && h.Pending == 0
	})
	for n := range shown {
		ts, ok := d.svc.Track(n)
		if !ok || ts.Status != kiosk.StatusSubmitted || len(ts.Timeline) != 1 || ts.Timeline[0].Note == kiosk.NoteAwaitingHub {
			t.Errorf("kiosk's view of %s: %+v, %v; want the hub's submitted status", n, ts, ok)
		}
	}
}

// checkHubTickets checks the hub holds exactly the tickets shown, each
// reported once, with what the resident entered.
func checkHubTickets(t *testing.T, list []contract.TicketStatus, shown map[string]ui.Draft) {
	t.Helper()
	if len(list) != len(shown) {
		t.Errorf("hub holds %d tickets, want %d", len(list), len(shown))
	}
	seen := map[string]bool{}
	for _, ts := range list {
		dr, ok := shown[ts.Number]
		switch {
		case !ok:
			t.Errorf("hub ticket %s: no resident was shown that number", ts.Number)
			continue
		case seen[ts.Number]:
			t.Errorf("hub ticket %s listed twice", ts.Number)
		}
		seen[ts.Number] = true
		steps := slices.DeleteFunc(slices.Clone(ts.Timeline), func(s contract.TicketStep) bool { return s.Status != "submitted" })
		if ts.Status != "submitted" || len(steps) != 1 {
			t.Errorf("hub ticket %s: status %s, timeline %+v; want submitted once", ts.Number, ts.Status, ts.Timeline)
		}
		// The public status leaves the door out.
		if ts.Category != dr.Category || ts.Location.Building != dr.Location.Building || ts.Location.Unit != dr.Location.Unit {
			t.Errorf("hub ticket %s: %s at %+v, want %s at %+v", ts.Number, ts.Category, ts.Location, dr.Category, dr.Location)
		}
	}
	if len(seen) != len(shown) {
		var missing []string
		for n := range shown {
			if !seen[n] {
				missing = append(missing, n)
			}
		}
		slices.Sort(missing)
		t.Errorf("%d numbers shown to residents are missing at the hub: %v", len(missing), missing)
	}
}
