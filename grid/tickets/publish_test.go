package tickets

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"linli/mqtt/contract"
	"linli/mqtt/outbox"
)

// outboxEnv is a Store whose PublishTx queues into an outbox on the same
// bbolt file, as gridhub wires it to the hub's.
type outboxEnv struct {
	*env
	ob   *outbox.Outbox
	fail atomic.Bool // PublishTx fails while set
}

var errPublish = errors.New("outbox full")

func newOutboxEnv(t *testing.T) *outboxEnv {
	t.Helper()
	oe := &outboxEnv{}
	oe.env = newEnv(t, &Options{PublishTx: func(tx *bolt.Tx, p Publication) error {
		if oe.fail.Load() {
			return errPublish
		}
		b, err := contract.Encode(p.Msg)
		if err != nil {
			return err
		}
		_, err = oe.ob.PutTx(tx, outbox.Item{Class: outbox.Event, Topic: p.Topic, Payload: b, QoS: 1, Retain: p.Retain})
		return err
	}})
	oe.reopenOutbox(t)
	return oe
}

func (oe *outboxEnv) reopenOutbox(t *testing.T) {
	t.Helper()
	var err error
	if oe.ob, err = outbox.Open(oe.db, &outbox.Options{Prefix: "hub.outbox"}); err != nil {
		t.Fatal(err)
	}
}

// queued returns the queued messages and empties the outbox.
func (oe *outboxEnv) queued(t *testing.T) []outbox.Item {
	t.Helper()
	items, err := oe.ob.Peek(0)
	if err != nil {
		t.Fatal(err)
	}
	if err := oe.ob.Delete(items...); err != nil {
		t.Fatal(err)
	}
	return items
}

func queuedStatus(t *testing.T, it outbox.Item) contract.TicketStatus {
	t.Helper()
	var st contract.TicketStatus
	if err := json.Unmarshal(it.Payload, &st); err != nil {
		t.Fatalf("queued %s: %v", it.Topic, err)
	}
	return st
}

// TestPublishTxFailureRollsBack checks that a change whose announcement
// cannot be queued is not made: ticket moves, filing, rating, wishes,
// notices and Due's escalations.
func TestPublishTxFailureRollsBack(t *testing.T) {
	oe := newOutboxEnv(t)
	ctx := context.Background()
	n := "A-261127-00011"
	oe.file(t, n)
	if _, _, err := oe.s.PostWish(&contract.Wish{ID: "w-1", Device: "kiosk-1", Text: "修自行车", Location: contract.Location{Community: "hl"}}); err != nil {
		t.Fatal(err)
	}
	if items := oe.queued(t); len(items) != 2 {
		t.Fatalf("%d queued by a report and a wish, want 2", len(items))
	}
	oe.fail.Store(true)

	steps := []struct {
		name string
		do   func() error
	}{
		{"accept", func() error {
			_, _, err := oe.s.HandleRequest(ctx, gridOwn, req(contract.OpTicketAccept, "number", n))
			return err
		}},
		{"return", func() error { _, err := oe.s.Return(n, "w1", "不属本网格"); return err }},
		{"file", func() error {
			_, err := oe.s.HandleDeviceMessage("kiosk-1", report("A-261127-00028", contract.UrgencyNormal), nil)
			return err
		}},
		{"claim", func() error {
			_, _, err := oe.s.HandleRequest(ctx, gridOwn, req(contract.OpWishClaim, "id", "w-1"))
			return err
		}},
		{"wish", func() error {
			_, _, err := oe.s.PostWish(&contract.Wish{ID: "w-2", Device: "kiosk-1", Text: "陪老人", Location: contract.Location{Community: "hl"}})
			return err
		}},
		{"notice", func() error {
			_, err := oe.s.PublishNotice("hl", contract.Notice{ID: "n1", Title: "停水"})
			return err
		}},
		{"due", func() error { _, err := oe.s.Due(t0.Add(100 * time.Hour)); return err }},
	}
	for _, s := range steps {
		if err := s.do(); !errors.Is(err, errPublish) {
			t.Errorf("%s with a failing publication: err = %v, want %v", s.name, err, errPublish)
		}
	}
	tk, err := oe.s.Get(n)
	if err != nil || tk.Status != Submitted || len(tk.Timeline) != 1 || tk.Flags != (DueFlags{}) {
		t.Errorf("ticket after failed changes: %s, %d steps, flags %+v, %v; want submitted, untouched", tk.Status, len(tk.Timeline), tk.Flags, err)
	}
	if _, err := oe.s.Get("A-261127-00028"); !errors.Is(err, ErrNotFound) {
		t.Errorf("report filed without its status: %v", err)
	}
	if w, err := oe.s.Wish("w-1"); err != nil || w.ClaimedBy != "" {
		t.Errorf("wish claimed without its list: %+v, %v", w, err)
	}
	if _, err := oe.s.Wish("w-2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("wish posted without its list: %v", err)
	}
	if ns, err := oe.s.Notices("hl"); err != nil || len(ns.Notices) != 0 {
		t.Errorf("notice kept without its publication: %+v, %v", ns, err)
	}
	if items := oe.queued(t); len(items) != 0 {
		t.Errorf("%d messages queued by failed changes", len(items))
	}

	// Once publishing works, the same operations go through.
	oe.fail.Store(false)
	body, pubs, err := oe.s.HandleRequest(ctx, gridOwn, req(contract.OpTicketAccept, "number", n))
	if err != nil || body.(contract.TicketStatus).Status != "accepted" {
		t.Fatalf("accept = %+v, %v", body, err)
	}
	if len(pubs) != 0 {
		t.Errorf("HandleRequest returned %d publications with PublishTx set, want none (queued already)", len(pubs))
	}
}

// TestPublishTxSurvivesCrash checks that a change and its announcement are
// committed together: after the bbolt file is closed and opened again
// (as after a crash once the call returned), both are there, and every
// kind of change queued its message.
func TestPublishTxSurvivesCrash(t *testing.T) {
	oe := newOutboxEnv(t)
	ctx := context.Background()
	n := "A-261127-00011"
	pubs, err := oe.s.HandleDeviceMessage("kiosk-1", report(n, contract.UrgencyEmergency), func(contract.Location) string { return "g1" })
	if err != nil || len(pubs) != 0 {
		t.Fatalf("report: %+v, %v; want no publications left to the caller", pubs, err)
	}
	if _, _, err := oe.s.HandleRequest(ctx, gridOwn, req(contract.OpTicketAccept, "number", n)); err != nil {
		t.Fatal(err)
	}
	oe.restart(t)
	oe.reopenOutbox(t)
	if tk, err := oe.s.Get(n); err != nil || tk.Status != Accepted {
		t.Fatalf("after restart: %s, %v; want accepted", tk.Status, err)
	}
	items := oe.queued(t)
	if len(items) != 2 {
		t.Fatalf("%d queued after restart, want 2 (submitted, accepted)", len(items))
	}
	for i, want := range []string{"submitted", "accepted"} {
		st := queuedStatus(t, items[i])
		if items[i].Topic != contract.TicketTopic(n) || !items[i].Retain || st.Status != want {
			t.Errorf("queued %d: %s %s retain %v, want %s on %s, retained", i, items[i].Topic, st.Status, items[i].Retain, want, contract.TicketTopic(n))
		}
	}

	// Due's escalation (an emergency has 2 h to be resolved).
	acts, err := oe.s.Due(t0.Add(3 * time.Hour))
	if err != nil || len(acts) != 1 || acts[0].Kind != KindEscalate {
		t.Fatalf("Due = %+v, %v; want one escalation", acts, err)
	}
	items = oe.queued(t)
	if len(items) != 1 || queuedStatus(t, items[0]).Status != "escalated" {
		t.Errorf("Due queued %+v, want the escalated status", items)
	}

	// Rating, wish, notice.
	if _, err := oe.s.Resolve(n, "w1", "修好了"); err != nil {
		t.Fatal(err)
	}
	if _, err := oe.s.HandleDeviceMessage("kiosk-1", rating("r1", n, contract.RatingSatisfied), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := oe.s.HandleDeviceMessage("kiosk-1", &contract.Wish{ID: "w-1", Text: "修自行车", Location: contract.Location{Community: "hl", Door: "302"}}, nil); err != nil {
		t.Fatal(err)
	}
	nreq := req(contract.OpNotice, "community", "hl")
	nreq.Body = json.RawMessage(`{"title":"停水"}`)
	if _, _, err := oe.s.HandleRequest(ctx, commOwn, nreq); err != nil {
		t.Fatal(err)
	}
	items = oe.queued(t)
	var topics []string
	for _, it := range items {
		topics = append(topics, it.Topic)
	}
	want := []string{contract.TicketTopic(n), contract.TicketTopic(n), contract.AreaTopic("hl", "wishes"), contract.AreaTopic("hl", "notices")}
	if len(topics) != len(want) {
		t.Fatalf("queued %v, want %v", topics, want)
	}
	for i := range want {
		if topics[i] != want[i] {
			t.Errorf("queued %d on %s, want %s", i, topics[i], want[i])
		}
	}
	if st := queuedStatus(t, items[1]); st.Status != "closed" {
		t.Errorf("status after a satisfied rating: %s, want closed", st.Status)
	}
	var ws contract.Wishes
	if err := json.Unmarshal(items[2].Payload, &ws); err != nil || len(ws.Wishes) != 1 || ws.Wishes[0].Location.Door != "" {
		t.Errorf("queued wishes %+v, %v; want one, without the door", ws, err)
	}
}
