package kiosk_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"linli/grid/tickets"
	"linli/kiosk"
	"linli/mqtt/contract"
	"linli/mqtt/outbox"
)

// kioskNode is a kiosk's bbolt file, outbox and Service, reopenable.
type kioskNode struct {
	path string
	db   *bolt.DB
	ob   *outbox.Outbox
	s    *kiosk.Service
	now  *time.Time
}

func (k *kioskNode) open(t *testing.T) {
	t.Helper()
	db, err := bolt.Open(k.path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	k.db = db
	if k.ob, err = outbox.Open(db, nil); err != nil {
		t.Fatal(err)
	}
	k.s, err = kiosk.Open(db, k.ob, &kiosk.Options{
		Device: "kiosk-7", Code: "K7", Community: "hl", TimeZone: time.UTC,
		Clock: func() time.Time { return *k.now },
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (k *kioskNode) close(t *testing.T) {
	t.Helper()
	if err := k.db.Close(); err != nil {
		t.Fatal(err)
	}
}

// deliver plays the uplink and the hub: it sends every queued item to the
// hub's device-message handler, as the hub would receive it from the
// broker, and returns what the hub publishes. With ack false the items stay
// queued, as when the broker's acknowledgement was lost.
func deliver(t *testing.T, k *kioskNode, hub *tickets.Store, ack bool) []tickets.Publication {
	t.Helper()
	items, err := k.ob.Peek(0)
	if err != nil {
		t.Fatal(err)
	}
	grid := func(l contract.Location) string { return "grid-" + l.Building }
	var pubs []tickets.Publication
	for _, it := range items {
		topic, err := contract.ParseTopic(it.Topic)
		if err != nil {
			t.Fatal(err)
		}
		m, err := contract.Decode(it.Topic, it.Payload)
		if err != nil {
			t.Fatalf("decode %s: %v", it.Topic, err)
		}
		p, err := hub.HandleDeviceMessage(topic.Device, m, grid)
		if err != nil {
			t.Fatalf("hub: %v", err)
		}
		pubs = append(pubs, p...)
	}
	if ack {
		if err := k.ob.Delete(items...); err != nil {
			t.Fatal(err)
		}
	}
	return pubs
}

// publish plays the broker's retained messages reaching the kiosk.
func publish(t *testing.T, k *kioskNode, pubs []tickets.Publication) {
	t.Helper()
	for _, p := range pubs {
		b, err := contract.Encode(p.Msg)
		if err != nil {
			t.Fatal(err)
		}
		k.s.HandleMessage(p.Topic, b)
	}
}

// TestOfflineReportsReachHubOnce files 100 reports while the kiosk cannot
// reach the broker (with a kiosk restart halfway and a change of date),
// then delivers the outbox to the hub twice, as after a reconnect that lost
// the acknowledgements: the hub holds exactly 100 tickets, each under the
// number the resident was shown and with what the resident entered.
func TestOfflineReportsReachHubOnce(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 20, 0, 0, 0, time.UTC)
	k := &kioskNode{path: filepath.Join(t.TempDir(), "kiosk.db"), now: &now}
	k.open(t)

	categories := []string{"street-light", "leak", "meter-box", "lift", "rubbish", "noise", "parking", "fire-lane", "greenery", "safety", "other"}
	shown := map[string]kiosk.Draft{}
	var order []string
	for i := range 100 {
		if i == 50 {
			k.close(t) // power cut
			k.open(t)
		}
		d := kiosk.Draft{
			Category: categories[i%len(categories)],
			Location: contract.Location{Building: fmt.Sprint(1 + i%4), Unit: "1", Door: fmt.Sprintf("%d01", 1+i%18)},
			Phrases:  []string{fmt.Sprintf("phrase %d", i)},
		}
		if i%3 == 0 {
			d.Phone, d.Consent = fmt.Sprintf("139%08d", i), true
		}
		n, err := k.s.FileReport(ctx, d)
		if err != nil {
			t.Fatalf("report %d: %v", i, err)
		}
		if _, dup := shown[n]; dup {
			t.Fatalf("report %d: number %s shown twice", i, n)
		}
		shown[n] = d
		order = append(order, n)
		now = now.Add(10 * time.Minute) // crosses midnight
	}
	if h, _ := k.s.Health(); h.Outbox.Events != 100 || h.Pending != 100 {
		t.Fatalf("before delivery: %+v", h)
	}

	hubDB, err := bolt.Open(filepath.Join(t.TempDir(), "hub.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := hubDB.Close(); err != nil {
			t.Error(err)
		}
	})
	hub, err := tickets.Open(hubDB, nil)
	if err != nil {
		t.Fatal(err)
	}

	deliver(t, k, hub, false) // acknowledgements lost
	pubs := deliver(t, k, hub, true)

	ts, err := hub.List(tickets.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 100 {
		t.Fatalf("hub holds %d tickets, want 100", len(ts))
	}
	for _, tk := range ts {
		d, ok := shown[tk.Number]
		if !ok {
			t.Errorf("hub ticket %s was never shown to a resident", tk.Number)
			continue
		}
		r := tk.Report
		got := kiosk.Draft{Category: r.Category, Location: contract.Location{Building: r.Location.Building, Unit: r.Location.Unit, Door: r.Location.Door}, Phrases: r.Phrases, Phone: r.Phone, Consent: r.Consent}
		if diff := cmp.Diff(d, got); diff != "" {
			t.Errorf("ticket %s differs from what was entered (-entered +hub):\n%s", tk.Number, diff)
		}
		if tk.Grid != "grid-"+r.Location.Building || tk.Status != tickets.Submitted || len(tk.Timeline) != 1 {
			t.Errorf("ticket %s: grid %s status %s timeline %d", tk.Number, tk.Grid, tk.Status, len(tk.Timeline))
		}
	}
	if h, _ := k.s.Health(); h.Outbox.Depth() != 0 {
		t.Errorf("outbox not empty after delivery: %+v", h.Outbox)
	}

	// The hub's retained statuses reach the kiosk: nothing is pending.
	publish(t, k, pubs)
	h, _ := k.s.Health()
	if h.Pending != 0 || h.Tickets != 100 || h.BadMessages != 0 {
		t.Errorf("after the hub answered: %+v", h)
	}
	st, ok := k.s.Track(order[0])
	if !ok || st.Status != kiosk.StatusSubmitted || st.Timeline[0].Note == kiosk.NoteAwaitingHub || st.Location.Grid == "" {
		t.Errorf("Track(%s) = %+v", order[0], st)
	}

	// The rest of the loop for one ticket: handled, rated unsatisfied
	// (twice delivered), reopened.
	n := order[7]
	if _, err := hub.Accept(n, "worker-li"); err != nil {
		t.Fatal(err)
	}
	tk, err := hub.Resolve(n, "worker-li", "换了灯泡")
	if err != nil {
		t.Fatal(err)
	}
	publish(t, k, []tickets.Publication{tickets.StatusPublication(tk)})
	if err := k.s.Rate(ctx, n, contract.RatingUnsatisfied, "还是不亮"); err != nil {
		t.Fatal(err)
	}
	deliver(t, k, hub, false)
	publish(t, k, deliver(t, k, hub, true))
	st, _ = k.s.Track(n)
	if st.Status != kiosk.StatusReopened || st.Rating != contract.RatingUnsatisfied {
		t.Errorf("after an unsatisfied rating the kiosk shows %+v", st)
	}
	if tk, _ := hub.Get(n); len(tk.Ratings) != 1 {
		t.Errorf("hub applied %d ratings, want 1", len(tk.Ratings))
	}
}
