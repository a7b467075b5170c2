package hubclient_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"linli/mqtt/broker"
	"linli/mqtt/contract"
	"linli/mqtt/hubclient"
	"linli/mqtt/hubclient/hubclienttest"
	"linli/mqtt/mqtttest"
)

func dial(t *testing.T, url, user string) *hubclient.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := hubclient.Dial(ctx, &hubclient.Options{Broker: url, User: user})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestCall(t *testing.T) {
	for _, b := range mqtttest.Brokers(t) {
		t.Run(b.Name, func(t *testing.T) {
			url := b.Start(t)
			hub := hubclienttest.New(t, url)
			want := []contract.Alert{{ID: "a-1", Device: "mb-0001", State: contract.StateAlarm}}
			hub.Reply(contract.OpAlertsList, want)
			c := dial(t, url, "wang")

			var got []contract.Alert
			err := c.Call(ctxT(t, 10*time.Second), contract.OpAlertsList, map[string]string{"all": "true"}, nil, &got)
			if err != nil {
				t.Fatalf("Call: %v", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			reqs := hub.Requests()
			if len(reqs) != 1 {
				t.Fatalf("hub got %d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.From != "wang" || r.Op != contract.OpAlertsList || r.Args["all"] != "true" || r.ID == "" {
				t.Errorf("request: got %+v, want from wang, op alerts.list, all=true and an id", r)
			}
		})
	}
}

func TestCallBody(t *testing.T) {
	url := mqtttest.Embedded(t)
	hub := hubclienttest.New(t, url)
	hub.Handle(contract.OpNotice, func(r contract.Request) (any, error) {
		return map[string]string{"echo": string(r.Body)}, nil
	})
	c := dial(t, url, "wang")
	var got map[string]string
	if err := c.Call(ctxT(t, 10*time.Second), contract.OpNotice, nil, contract.Notice{Title: "台风"}, &got); err != nil {
		t.Fatal(err)
	}
	if want := `{"id":"","title":"台风","body":"","level":"","published":"0001-01-01T00:00:00Z"}`; got["echo"] != want {
		t.Errorf("body seen by the hub: got %s, want %s", got["echo"], want)
	}
}

func TestCallsAreMatchedByID(t *testing.T) {
	url := mqtttest.Embedded(t)
	hub := hubclienttest.New(t, url)
	hub.Handle(contract.OpTicketGet, func(r contract.Request) (any, error) {
		return contract.TicketStatus{Number: r.Args["number"]}, nil
	})
	c := dial(t, url, "wang")
	other := dial(t, url, "wang") // the same user's second tool sees both answers
	errs := make(chan error, 20)
	for i := range 20 {
		cl := c
		if i%2 == 1 {
			cl = other
		}
		go func() {
			n := string(rune('a' + i))
			var ts contract.TicketStatus
			err := cl.Call(ctxT(t, 10*time.Second), contract.OpTicketGet, map[string]string{"number": n}, nil, &ts)
			if err == nil && ts.Number != n {
				err = errors.New("answer of another call: got " + ts.Number + ", want " + n)
			}
			errs <- err
		}()
	}
	for range 20 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestHubError(t *testing.T) {
	url := mqtttest.Embedded(t)
	hub := hubclienttest.New(t, url)
	hub.Handle(contract.OpAlertAck, func(contract.Request) (any, error) { return nil, errors.New(`no alert "x"`) })
	c := dial(t, url, "wang")
	tests := []struct {
		op, want string
	}{
		{contract.OpAlertAck, `no alert "x"`},
		{"no.such.op", `unknown operation "no.such.op"`},
	}
	for _, tt := range tests {
		err := c.Call(ctxT(t, 10*time.Second), tt.op, nil, nil, nil)
		var he *hubclient.HubError
		if !errors.As(err, &he) {
			t.Fatalf("Call(%s): got %v, want a *HubError", tt.op, err)
		}
		if he.Op != tt.op || he.Message != tt.want {
			t.Errorf("got %+v, want op %s message %s", he, tt.op, tt.want)
		}
	}
}

func TestNoAnswer(t *testing.T) {
	url := mqtttest.Embedded(t)
	hub := hubclienttest.New(t, url)
	hub.SetSilent(true)
	c := dial(t, url, "wang")
	err := c.Call(ctxT(t, 200*time.Millisecond), contract.OpDevices, nil, nil, nil)
	if !errors.Is(err, hubclient.ErrNoAnswer) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want ErrNoAnswer and DeadlineExceeded", err)
	}
	if n := len(hub.Requests()); n != 1 {
		t.Errorf("hub got %d requests, want 1", n)
	}
}

func TestDialErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "tcp://" + l.Addr().String()
	l.Close()
	_, err = hubclient.Dial(ctxT(t, 5*time.Second), &hubclient.Options{Broker: closed, User: "wang"})
	if !errors.Is(err, hubclient.ErrConnect) {
		t.Errorf("Dial of a closed port: got %v, want ErrConnect", err)
	}
	for _, user := range []string{"", "a/b", "a b", "+"} {
		if _, err := hubclient.Dial(ctxT(t, 5*time.Second), &hubclient.Options{Broker: closed, User: user}); err == nil {
			t.Errorf("Dial with user %q: got no error", user)
		}
	}
}

func alert(id, grid string, level string) contract.Alert {
	return contract.Alert{ID: id, Device: "mb-0001", State: contract.StateAlarm, Level: level,
		Location: contract.Location{Community: "c", Grid: grid}}
}

func next(t *testing.T, ch <-chan contract.Alert) contract.Alert {
	t.Helper()
	select {
	case a, ok := <-ch:
		if !ok {
			t.Fatal("alert channel closed")
		}
		return a
	case <-time.After(10 * time.Second):
		t.Fatal("no alert within 10s")
	}
	return contract.Alert{}
}

func TestAlerts(t *testing.T) {
	for _, b := range mqtttest.Brokers(t) {
		t.Run(b.Name, func(t *testing.T) {
			url := b.Start(t)
			hub := hubclienttest.New(t, url)
			c := dial(t, url, "wang")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			all, err := c.Alerts(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			g1, err := c.Alerts(ctx, "g1")
			if err != nil {
				t.Fatal(err)
			}
			hub.PublishAlert(alert("a-1", "g1", "grid"))
			hub.PublishAlert(alert("a-2", "g2", "grid"))
			hub.PublishAlert(alert("a-1", "g1", "community"))
			for _, want := range []string{"a-1 grid", "a-2 grid", "a-1 community"} {
				if a := next(t, all); a.ID+" "+a.Level != want {
					t.Errorf("all grids: got %s %s, want %s", a.ID, a.Level, want)
				}
			}
			for _, want := range []string{"a-1 grid", "a-1 community"} {
				if a := next(t, g1); a.ID+" "+a.Level != want {
					t.Errorf("grid g1: got %s %s, want %s", a.ID, a.Level, want)
				}
			}
			cancel()
			for range all {
			}
		})
	}
}

func TestAlertsSurviveBrokerRestart(t *testing.T) {
	m := mqtttest.Mosquitto(t, nil)
	c := dial(t, m.URL(), "wang")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := c.Alerts(ctx, "g1")
	if err != nil {
		t.Fatal(err)
	}
	m.Stop()
	m.Start()
	hub := hubclienttest.New(t, m.URL())
	// The client reconnects and subscribes again in the background; publish
	// until an alert gets through.
	for i := 0; ; i++ {
		hub.PublishAlert(alert("a-1", "g1", "grid"))
		select {
		case a := <-ch:
			if a.ID != "a-1" {
				t.Fatalf("got %s, want a-1", a.ID)
			}
			return
		case <-time.After(500 * time.Millisecond):
		}
		if i == 60 {
			t.Fatal("no alert 30s after the broker restarted")
		}
	}
}

func TestCloseEndsAlerts(t *testing.T) {
	url := mqtttest.Embedded(t)
	c := dial(t, url, "wang")
	ch, err := c.Alerts(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, ok := <-ch; ok {
		t.Error("got an alert after Close, want the channel closed")
	}
	if err := c.Call(context.Background(), contract.OpDevices, nil, nil, nil); !errors.Is(err, hubclient.ErrClosed) {
		t.Errorf("Call after Close: got %v, want ErrClosed", err)
	}
	c.Close() // twice is fine
}

// TestRefusedSubscription dials the project's broker, whose ACL lets an
// account read only its own topics: a meter box's account may not read a
// worker's response topic nor the grid alerts, and Dial and Alerts say which
// filter was refused instead of waiting for answers that never come.
func TestRefusedSubscription(t *testing.T) {
	accounts := broker.NewStatic(
		broker.Entry{Account: broker.Account{ID: "mb-0001", Role: broker.RoleDevice}, Password: "dev"},
		broker.Entry{Account: broker.Account{ID: "k-01", Role: broker.RoleKiosk}, Password: "kiosk"},
		broker.Entry{Account: broker.Account{ID: "wang", Role: broker.RoleWorker}, Password: "wang"},
	)
	srv, err := broker.New(&broker.Options{Listen: "127.0.0.1:0", Accounts: accounts,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	url := "tcp://" + srv.Addr()

	// The device's own client id: the broker binds ids to accounts, and the
	// refusal under test is the subscription's, not the connection's.
	_, err = hubclient.Dial(ctxT(t, 10*time.Second), &hubclient.Options{Broker: url, User: "mb-0001", Password: "dev", ClientID: "mb-0001"})
	var re *hubclient.RefusedError
	if !errors.Is(err, hubclient.ErrRefused) || !errors.As(err, &re) {
		t.Fatalf("Dial as a device: got %v, want a *RefusedError", err)
	}
	if want := contract.ResponseTopic("mb-0001"); re.Filter != want || re.User != "mb-0001" || re.Code < 0x80 {
		t.Errorf("got %+v, want filter %s refused for mb-0001", re, want)
	}
	if !strings.Contains(err.Error(), contract.ResponseTopic("mb-0001")) {
		t.Errorf("error %q does not name the refused filter", err)
	}

	// The worker may read its topics and the alerts: no refusal, and calls work.
	c, err := hubclient.Dial(ctxT(t, 10*time.Second), &hubclient.Options{Broker: url, User: "wang", Password: "wang"})
	if err != nil {
		t.Fatalf("Dial as a worker: %v", err)
	}
	defer c.Close()
	if _, err := c.Alerts(ctxT(t, 10*time.Second), "g1"); err != nil {
		t.Errorf("Alerts as a worker: %v", err)
	}
	if got := srv.Stats().SubscribeDenied; got != 1 {
		t.Errorf("broker denied %d subscriptions, want 1 (the device's response topic)", got)
	}
}

// TestBrokerList dials a list whose first node is down: the client goes on
// to the next, as a worker's gridctl must when a cluster node dies.
func TestBrokerList(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "tcp://" + l.Addr().String()
	l.Close()
	url := mqtttest.Embedded(t)
	hub := hubclienttest.New(t, url)
	hub.Handle(contract.OpDevices, func(contract.Request) (any, error) { return []string{"mb-0001"}, nil })
	c := dial(t, down+", "+url, "wang")
	var got []string
	if err := c.Call(ctxT(t, 10*time.Second), contract.OpDevices, nil, nil, &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "mb-0001" {
		t.Errorf("got %v, want [mb-0001] from the second node", got)
	}
}
