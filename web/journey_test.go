package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	paho "github.com/eclipse/paho.mqtt.golang"

	"linli/grid/tickets"
	"linli/mqtt/contract"
)

// TestJourneyAlertLiveAck: a grid worker's console at phone size is open
// when a meter box catches fire; the alert appears without a reload, the
// worker acknowledges it, and the hub (what gridctl alerts lists) agrees.
func TestJourneyAlertLiveAck(t *testing.T) {
	e := getEnv(t)
	ctx := e.tab(t, 390, 844)
	e.login(t, ctx, "w-li", "li-dev")
	e.openLive(t, ctx, "/alerts", "#live")

	d := e.device(t, "mb-1")
	d.send(t, &contract.Birth{Device: "mb-1", Kind: "sensor", Session: 1, Firmware: "1.0.0"}, "birth", true)
	d.event(t, "busbar-l1", contract.StatePreAlarm, contract.StateAlarm, "threshold")

	var id string
	eventually(t, "the hub's alert", func() bool {
		as, _ := e.hub.Alerts(false)
		for _, a := range as {
			if a.Device == "mb-1" && a.AckedBy == "" {
				id = a.ID
				return true
			}
		}
		return false
	})
	sel := fmt.Sprintf(`[data-alert=%q][data-unacked]`, id)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		t.Fatalf("alert %s not shown live: %v", id, err)
	}
	sameDocument(t, ctx, "the alert")
	txt, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"温度报警", "1号楼", "升级倒计时"} {
		if !strings.Contains(txt, want) {
			t.Errorf("alert card %q lacks %q", txt, want)
		}
	}
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[data-ack=%q]`, id))),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`[data-alert=%q]:not([data-unacked])`, id))),
	)
	if err != nil {
		t.Fatalf("acknowledge: %v", err)
	}
	// What gridctl alerts shows: the same request, as w-li.
	var as []contract.Alert
	body, err := e.hub.Do(context.Background(), e.worker("w-li"), &contract.Request{ID: "t", Op: contract.OpAlertsList})
	if err != nil {
		t.Fatal(err)
	}
	as = body.([]contract.Alert)
	found := false
	for _, a := range as {
		if a.ID == id {
			found = true
			if a.AckedBy != "w-li" || !a.EscalateAt.IsZero() {
				t.Errorf("after the ack on the web, alerts.list has %+v", a)
			}
		}
	}
	if !found {
		t.Errorf("alerts.list lacks %s", id)
	}
	// The device is reset (and left so for the other tests): the cleared
	// alert leaves the page it was acknowledged on, live. That page is the
	// one the form returned to (the old one may have shown the ack pushed
	// before it went): no marker, and its stream open.
	if err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](`!window.__sameDocument && document.body.dataset.connected === "1"`, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatal(err)
	}
	d.event(t, "busbar-l1", contract.StateAlarm, contract.StateNormal, "reset")
	if err := chromedp.Do(ctx, chromedp.WaitNotPresent(chromedp.CSS(fmt.Sprintf(`[data-alert=%q]`, id)))); err != nil {
		t.Errorf("cleared alert %s still shown: %v", id, err)
	}
}

// TestJourneyResidentRates: a resident follows a kiosk ticket on /t/N, sees
// the worker resolve it live, rates it from the phone; the ticket's public
// status (retained for the kiosk's track screen) carries the rating.
func TestJourneyResidentRates(t *testing.T) {
	e := getEnv(t)
	n := "K1-261205-00011"
	e.kioskReport(t, n, "b2", "13800138000")
	ctx := e.tab(t, 390, 844)
	e.openLive(t, ctx, "/t/"+n, "#status")
	feed, cancel := e.hub.Subscribe()
	defer cancel()
	li := e.worker("w-li")
	for _, op := range []struct{ op, note string }{{contract.OpTicketAccept, ""}, {contract.OpTicketResolve, "换了水管"}} {
		args := map[string]string{"number": n}
		if op.note != "" {
			args["note"] = op.note
		}
		if _, err := e.hub.Do(context.Background(), li, &contract.Request{ID: "t", Op: op.op, Args: args}); err != nil {
			t.Fatalf("%s: %v", op.op, err)
		}
	}
	err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS(`#rate`)),
	)
	if err != nil {
		t.Fatalf("resolution not shown live: %v", err)
	}
	page, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#live")))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"已办结", "网格员 李娜", "换了水管"} {
		if !strings.Contains(page, want) {
			t.Errorf("ticket page %q lacks %q", page, want)
		}
	}
	for _, leak := range []string{"13800138000", "13911112222", "301", "楼上漏水"} {
		if strings.Contains(page, leak) {
			t.Errorf("ticket page shows %q, which is not on the kiosk's receipt", leak)
		}
	}
	sameDocument(t, ctx, "the resolution")
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#rate button[value="satisfied"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#rating`)),
	)
	if err != nil {
		t.Fatalf("rate: %v", err)
	}
	// The hub published the rated status...
	deadline := time.After(20 * time.Second)
	for published := false; !published; {
		select {
		case c := <-feed:
			if st, ok := c.Msg.(*contract.TicketStatus); ok && st.Number == n && st.Rating == contract.RatingSatisfied {
				if c.Topic != contract.TicketTopic(n) || st.Status != string(tickets.Closed) {
					t.Errorf("rating published on %s as %+v", c.Topic, st)
				}
				published = true
			}
		case <-deadline:
			t.Fatal("no TicketStatus with the rating was published")
		}
	}
	// ...and the broker holds it retained, where the kiosk's track screen
	// reads it (as the kiosk's account).
	got := make(chan *contract.TicketStatus, 8)
	k := e.device(t, "kiosk-1")
	tok := k.c.Subscribe(contract.TicketTopic(n), 1, func(_ paho.Client, m paho.Message) {
		if msg, err := contract.Decode(m.Topic(), m.Payload()); err == nil && m.Retained() {
			if st, ok := msg.(*contract.TicketStatus); ok {
				got <- st
			}
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("kiosk subscribe: %v", tok.Error())
	}
	timeout := time.After(20 * time.Second)
	for {
		select {
		case st := <-got:
			if st.Rating == contract.RatingSatisfied {
				return
			}
			// An older retained copy may come first while the outbox drains.
		case <-timeout:
			t.Fatal("the retained ticket status never showed the rating")
		}
	}
}

// TestJourneyPhoneReport: a resident reports from a phone; the ticket
// number is shown and the ticket is in the grid worker's list (what
// gridctl tickets shows).
func TestJourneyPhoneReport(t *testing.T) {
	e := getEnv(t)
	ctx := e.tab(t, 390, 844)
	err := chromedp.Do(ctx,
		chromedp.Navigate(e.url+"/report"),
		chromedp.WaitVisible(chromedp.CSS("#submit")),
		chromedp.SetValue(chromedp.CSS("#category"), "street-light"),
		chromedp.SetValue(chromedp.CSS("#building"), "east/b3"),
		chromedp.SendKeys(chromedp.CSS("#unit"), "2"),
		chromedp.Click(chromedp.CSS(`fieldset[data-cat="street-light"] input[value="路灯不亮"]`)),
		chromedp.SendKeys(chromedp.CSS("#phone"), "13700001111"),
		chromedp.Click(chromedp.CSS(`input[name="consent"]`)),
		chromedp.Click(chromedp.CSS("#submit")),
		chromedp.WaitVisible(chromedp.CSS("#number")),
	)
	if err != nil {
		t.Fatal(err)
	}
	n, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#number")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(n, "WEB-") {
		t.Fatalf("ticket number %q, want WEB-…", n)
	}
	page, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if strings.Contains(page, "13700001111") {
		t.Error("the receipt page shows the phone number")
	}
	body, err := e.hub.Do(context.Background(), e.worker("w-li"), &contract.Request{ID: "t", Op: contract.OpTicketsList})
	if err != nil {
		t.Fatal(err)
	}
	var got *contract.TicketStatus
	for _, st := range body.([]contract.TicketStatus) {
		if st.Number == n {
			got = &st
		}
	}
	if got == nil || got.Location.Grid != "g1" || got.Category != "street-light" || got.Status != "submitted" {
		t.Fatalf("tickets.list has %+v for %s", got, n)
	}
	tk, err := e.tickets.Get(n)
	if err != nil || tk.Report.Phone != "13700001111" || !tk.Report.Consent || tk.Report.Device != "web" {
		t.Errorf("stored report %+v, %v: want the phone kept for the workers", tk.Report, err)
	}
}

// TestJourneyDevicesLive: the devices page is open when a meter box comes
// online, latches a channel into alarm with new firmware, clears and goes
// offline: its row and its dot on the building plan follow each change
// without a reload.
func TestJourneyDevicesLive(t *testing.T) {
	e := getEnv(t)
	ctx := e.tab(t, 390, 844)
	e.login(t, ctx, "w-li", "li-dev")
	e.openLive(t, ctx, "/devices", "svg.plan")
	// shows waits until mb-3's row and plan dot are in state, and the row
	// says all of want.
	shows := func(what, state string, want ...string) {
		t.Helper()
		row := `.card[data-device="mb-3"]`
		err := chromedp.Do(ctx,
			chromedp.WaitVisible(chromedp.CSS(row+` i.dot.`+state)),
			chromedp.WaitReady(chromedp.CSS(`svg.plan circle.d-`+state+`[data-device="mb-3"]`)),
		)
		if err != nil {
			t.Fatalf("%s: mb-3 not shown %s: %v", what, state, err)
		}
		txt, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(row)))
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range want {
			if !strings.Contains(txt, w) {
				t.Errorf("%s: row %q lacks %q", what, txt, w)
			}
		}
	}
	d := e.device(t, "mb-3")
	d.send(t, &contract.Birth{Device: "mb-3", Kind: "sensor", Session: 1, Firmware: "1.0.0"}, "birth", true)
	shows("birth", "normal", "在线", "1.0.0")
	d.send(t, &contract.DeviceState{Device: "mb-3", Session: 1, Channels: []contract.ChannelState{{Channel: "busbar-l2", State: contract.StateAlarm, Value: 95, Latched: true}},
		Health: contract.Health{Firmware: "1.1.0", Uptime: 2 * time.Hour}}, "state", true)
	shows("latched alarm", "alarm", "busbar-l2", "1.1.0")
	d.send(t, &contract.DeviceState{Device: "mb-3", Session: 1, Channels: []contract.ChannelState{{Channel: "busbar-l2", State: contract.StateNormal, Value: 40}},
		Health: contract.Health{Firmware: "1.1.0", Uptime: 2 * time.Hour}}, "state", true)
	shows("cleared", "normal")
	d.send(t, &contract.Death{Device: "mb-3", Session: 1}, "death", false)
	shows("death", "offline", "离线")
	sameDocument(t, ctx, "the devices' changes")
}

// openLive opens path in the tab, waits for the element sel and the page's
// event stream, and marks the document, for sameDocument.
func (e *env) openLive(t testing.TB, ctx context.Context, path, sel string) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Navigate(e.url+path),
		chromedp.WaitVisible(chromedp.CSS(sel)),
		chromedp.Poll[chromedp.Void](`document.body.dataset.connected === "1"`, chromedp.WithPollingTimeout(15*time.Second)),
		chromedp.Evaluate[chromedp.Void](`window.__sameDocument = 1`),
	)
	if err != nil {
		t.Fatalf("open %s live: %v", path, err)
	}
}

// sameDocument fails the test when the tab reloaded since openLive: what
// changed must have arrived live.
func sameDocument(t testing.TB, ctx context.Context, what string) {
	t.Helper()
	same, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.__sameDocument || 0`))
	if err != nil || same != 1 {
		t.Fatalf("the page reloaded (marker %d, %v): %s must arrive without a reload", same, err, what)
	}
}
