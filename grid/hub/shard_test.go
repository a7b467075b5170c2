package hub

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"linli/grid/config"
	"linli/mqtt/broker"
	"linli/mqtt/contract"
	"linli/mqtt/hubclient"
	"linli/mqtt/natsbroker"
)

// shardConfig is one of two hub configurations sharing a broker: its own
// hub, community, grid worker and sensor, and the subdistrict worker "s1"
// of both.
func shardConfig(t *testing.T, name string) *config.Config {
	t.Helper()
	r := strings.NewReplacer("NAME", name)
	cfg, err := config.Parse([]byte(r.Replace(`{
  "subdistrict": "sd", "shared_broker": true,
  "hub": {"id": "hub-NAME", "password": "hubpw"},
  "communities": [{"id": "NAME", "name": "NAME", "grids": [{"id": "g-NAME", "name": "G", "buildings": ["b1"]}]}],
  "workers": [
    {"id": "w-NAME", "name": "W", "role": "grid-worker", "grid": "g-NAME", "on_duty": true, "password": "pw"},
    {"id": "s1", "name": "Liu", "role": "subdistrict", "on_duty": true, "password": "pw"}
  ],
  "devices": [{"id": "dev-NAME", "kind": "sensor", "password": "pw", "location": {"community": "NAME", "building": "b1", "unit": "1"}}]
}`)))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestShards runs two hubs of different configurations on one broker
// (Config.SharedBroker): each raises alerts only for its own devices,
// answers only its own workers, and a worker of both sees both through
// hubclient's merged lists.
func TestShards(t *testing.T) {
	cfgs := []*config.Config{shardConfig(t, "east"), shardConfig(t, "west")}
	var es []broker.Entry
	for _, c := range cfgs {
		for _, e := range c.Accounts() {
			if !slices.ContainsFunc(es, func(x broker.Entry) bool { return x.ID == e.ID }) {
				es = append(es, e)
			}
		}
	}
	t.Run("embedded", func(t *testing.T) {
		s, err := broker.New(&broker.Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Accounts: broker.NewStatic(es...), Logger: logger(t)})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		testShards(t, cfgs, "tcp://"+s.Addr())
	})
	// A NATS node's MQTT listener: the hubs' telemetry subscriptions per
	// device are plain NATS subscriptions there.
	t.Run("nats", func(t *testing.T) {
		srv, err := natsbroker.New(&natsbroker.Options{Name: "shards", MQTTListen: "127.0.0.1:0", Listen: "127.0.0.1:0",
			DataDir: t.TempDir(), Accounts: broker.NewStatic(es...), Logger: logger(t)})
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
		testShards(t, cfgs, srv.MQTTURL())
	})
}

func testShards(t *testing.T, cfgs []*config.Config, url string) {
	var envs []*env
	var hubs []*running
	for _, c := range cfgs {
		e := newEnv(t, url)
		e.cfg = c
		e.hubs = 2
		envs = append(envs, e)
		hubs = append(hubs, e.start())
	}
	east, west := hubs[0].h, hubs[1].h
	changes, stopChanges := east.Subscribe()
	defer stopChanges()

	de, dw := envs[0].device("dev-east"), envs[1].device("dev-west")
	de.event("t1", contract.StateAlarm, "threshold")
	dw.event("t1", contract.StateAlarm, "threshold")
	for i, r := range hubs {
		envs[i].eventually("one alert on each hub", func() bool {
			as, _ := r.h.Alerts(false)
			return len(as) == 1
		})
	}
	envs[0].eventually("each hub leaves the other's device alone", func() bool {
		return east.Stats().Foreign > 0 && west.Stats().Foreign > 0
	})

	// Each hub's telemetry connection subscribes to its own devices only:
	// west's telemetry, the bulk of a fleet's messages, never reaches east,
	// so a shard added to a broker adds the broker's capacity too. West's
	// are acknowledged before east's is sent: subscribed to them, east
	// would get them first.
	foreign, received := east.Stats().Foreign, east.Stats().Received
	for i := range 5 {
		dw.send(&contract.Telemetry{Device: "dev-west", Session: 1, Seq: uint64(i + 1)}, "telemetry", false)
	}
	de.send(&contract.Telemetry{Device: "dev-east", Session: 1, Seq: 1}, "telemetry", false)
	envs[0].eventually("east's telemetry on east", func() bool { return east.Stats().Received > received })
	time.Sleep(200 * time.Millisecond)
	if n := east.Stats().Foreign - foreign; n != 0 {
		t.Errorf("east received %d messages of west's device with its telemetry, want none", n)
	}

	ea, _ := east.Alerts(false)
	wa, _ := west.Alerts(false)
	if ea[0].Device != "dev-east" || ea[0].ID != "hub-east-A00000001" || wa[0].Device != "dev-west" || wa[0].ID != "hub-west-A00000001" {
		t.Fatalf("alerts: east %s of %s, west %s of %s; want each hub's own device, ids prefixed with the hub",
			ea[0].ID, ea[0].Device, wa[0].ID, wa[0].Device)
	}
	if d := east.Devices(); len(d) != 1 || d[0].Device != "dev-east" {
		t.Errorf("east's devices: %+v, want only dev-east", d)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dial := func(user string, hubs int) *hubclient.Client {
		c, err := hubclient.Dial(ctx, &hubclient.Options{Broker: url, User: user, Password: "pw", Hubs: hubs})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}

	// The subdistrict worker, in both shards, sees both alerts and
	// acknowledges the west one: only the west hub holds it.
	sub := dial("s1", 2)
	var all []contract.Alert
	if err := sub.Call(ctx, contract.OpAlertsList, nil, nil, &all); err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, a := range all {
		ids = append(ids, a.ID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"hub-east-A00000001", "hub-west-A00000001"}) {
		t.Fatalf("s1's merged alert list: %v", ids)
	}
	var acked contract.Alert
	if err := sub.Call(ctx, contract.OpAlertAck, map[string]string{"id": "hub-west-A00000001"}, nil, &acked); err != nil {
		t.Fatalf("ack through two hubs: %v", err)
	}
	if acked.AckedBy != "s1" || acked.ID != "hub-west-A00000001" {
		t.Fatalf("acked: %+v", acked)
	}
	err := sub.Call(ctx, contract.OpAlertAck, map[string]string{"id": "hub-west-A00000099"}, nil, &acked)
	var he *hubclient.HubError
	if !errors.As(err, &he) {
		t.Fatalf("ack of an alert no hub holds: %v, want the hubs' refusal", err)
	}

	// East's console asks west for s1 (AskPeers): west answers with its
	// alert, east does not serve its own relayed request a second time,
	// and west refuses at once for a worker it does not know.
	served := east.Stats().Requests
	answers, err := east.AskPeers(ctx, "s1", &contract.Request{Op: contract.OpAlertsList}, true)
	if err != nil || len(answers) != 1 || !answers[0].OK || answers[0].Hub != "hub-west" ||
		!strings.Contains(string(answers[0].Body), "hub-west-A00000001") {
		t.Fatalf("east asks west for s1: %+v, %v", answers, err)
	}
	if n := east.Stats().Requests; n != served {
		t.Errorf("east served %d requests while asking its peers, want none", n-served)
	}
	answers, err = east.AskPeers(ctx, "w-east", &contract.Request{Op: contract.OpAlertsList}, true)
	if err != nil || len(answers) != 1 || answers[0].OK || !strings.Contains(answers[0].Error, `"w-east" is not a worker of hub hub-west`) {
		t.Fatalf("east asks west for its own worker: %+v, %v", answers, err)
	}
	// West's alert, acknowledged above, reached east's subscribers as a
	// peer's change; east's own alerts are not passed on twice.
	deadline := time.After(10 * time.Second)
	for got := false; !got; {
		select {
		case c := <-changes:
			if a, ok := c.Msg.(*contract.Alert); ok && c.Peer {
				if strings.HasPrefix(a.ID, "hub-east-") {
					t.Fatalf("east's own alert came back as a peer's: %+v", a)
				}
				got = a.ID == "hub-west-A00000001" && a.AckedBy == "s1"
			}
		case <-deadline:
			t.Fatal("west's acknowledged alert did not reach east's subscribers")
		}
	}

	// The east grid worker is answered by the east hub only: the west hub
	// neither refuses nor answers it.
	w := envs[0].client("w-east")
	resp := w.Subscribe(contract.ResponseTopic("w-east"), 1)
	r := request(t, w, resp, "w-east", contract.OpAlertsList, nil)
	if !r.OK || r.Hub != "hub-east" {
		t.Fatalf("w-east's answer: %+v", r)
	}
	select {
	case m := <-resp:
		t.Fatalf("a second answer to w-east: %s", m.Payload)
	case <-time.After(300 * time.Millisecond):
	}

	// With one shard's hub down, a merged list is an error naming who
	// answered, with what they hold: never a silently shorter list.
	hubs[1].stop()
	short, cancel2 := context.WithTimeout(ctx, time.Second)
	defer cancel2()
	all = nil
	err = sub.Call(short, contract.OpAlertsList, nil, nil, &all)
	var pe *hubclient.PartialError
	if !errors.Is(err, hubclient.ErrNoAnswer) || !errors.As(err, &pe) || !pe.List || !strings.Contains(err.Error(), "1 of 2 hubs answered (hub-east)") {
		t.Fatalf("list with the west hub down: %v", err)
	}
	if len(all) != 1 || all[0].ID != "hub-east-A00000001" {
		t.Errorf("the partial list holds %+v, want the east hub's alert", all)
	}
	short2, cancel3 := context.WithTimeout(ctx, time.Second)
	defer cancel3()
	if answers, err := east.AskPeers(short2, "s1", &contract.Request{Op: contract.OpAlertsList}, true); !errors.Is(err, ErrPeersMissing) || len(answers) != 0 ||
		!strings.Contains(err.Error(), "0 of 1 answered") {
		t.Fatalf("east asks its peers with west down: %+v, %v", answers, err)
	}
	// An alert of the live shard is still acknowledged.
	if err := sub.Call(ctx, contract.OpAlertAck, map[string]string{"id": "hub-east-A00000001"}, nil, &acked); err != nil {
		t.Fatalf("ack with the other hub down: %v", err)
	}
}

// TestTelemetryFilters: a shard subscribes to its devices' telemetry one
// by one, in SUBSCRIBE packets of subscribeBatch filters, up to
// maxDeviceFilters devices; a hub alone on its broker, or a larger shard,
// with one wildcard.
func TestTelemetryFilters(t *testing.T) {
	count := func(n int, shared bool) (batches, filters int, wildcard bool) {
		cfg := &config.Config{SharedBroker: shared}
		for i := range n {
			cfg.Devices = append(cfg.Devices, config.Device{ID: fmt.Sprintf("dev-%d", i)})
		}
		for _, b := range (&Hub{cfg: cfg}).telemetryFilters() {
			batches++
			filters += len(b)
			_, w := b[telemetryFilter()]
			wildcard = wildcard || w
			if len(b) > subscribeBatch {
				t.Errorf("%d devices: a SUBSCRIBE of %d filters", n, len(b))
			}
		}
		return
	}
	for _, tt := range []struct {
		n                int
		shared, wildcard bool
		batches          int
	}{
		{4500, true, false, 5},
		{maxDeviceFilters, true, false, maxDeviceFilters / subscribeBatch},
		{maxDeviceFilters + 1, true, true, 1},
		{10, false, true, 1},
	} {
		b, f, w := count(tt.n, tt.shared)
		if b != tt.batches || w != tt.wildcard || (!w && f != tt.n) {
			t.Errorf("%d devices, shared %v: %d SUBSCRIBEs, %d filters, wildcard %v; want %d SUBSCRIBEs, wildcard %v",
				tt.n, tt.shared, b, f, w, tt.batches, tt.wildcard)
		}
	}
}
