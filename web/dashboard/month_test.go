package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	bolt "go.etcd.io/bbolt"

	"linli/grid/config"
	"linli/grid/hub"
	"linli/grid/tickets"
	"linli/mqtt/broker"
	"linli/mqtt/contract"
)

// clock is the month's fake time, moved by the filler.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// end is "now" for the month's dashboard: the evening of 27 Nov 2026,
// Beijing time.
var (
	shanghai = time.FixedZone("CST", 8*3600)
	end      = time.Date(2026, 11, 27, 20, 0, 0, 0, shanghai)
)

// month is a subdistrict with two communities after a realistic month (or
// year, for the benchmark):
// the example community "east" and a smaller "west", a real hub on the
// embedded broker (alerts raised, acknowledged and cleared by real
// messages), a real ticket store on bbolt.
type month struct {
	cfg     *config.Config
	hub     *hub.Hub
	tickets *tickets.Store
	clock   *clock
	stop    func()
}

var (
	monthOnce sync.Once
	theMonth  *month
	monthErr  error
	monthDir  string
)

// getMonth builds the month once per test binary.
func getMonth(t testing.TB) *month {
	t.Helper()
	monthOnce.Do(func() {
		monthDir, monthErr = os.MkdirTemp("", "dashboard-month")
		if monthErr == nil {
			theMonth, monthErr = buildPeriod(monthDir, 30)
		}
	})
	if monthErr != nil {
		t.Fatal(monthErr)
	}
	return theMonth
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func twoCommunities() (*config.Config, error) {
	var raw map[string]any
	if err := json.Unmarshal(config.Example(), &raw); err != nil {
		return nil, err
	}
	raw["communities"] = append(raw["communities"].([]any), map[string]any{
		"id": "west", "name": "西园社区 West Park", "grids": []any{
			map[string]any{"id": "west-1", "name": "第一网格 Grid 1", "buildings": []any{"w1", "w2"}},
			map[string]any{"id": "west-2", "name": "第二网格 Grid 2", "buildings": []any{"w3", "w4"}},
		}})
	raw["workers"] = append(raw["workers"].([]any),
		map[string]any{"id": "w-he", "name": "何静", "role": "grid-worker", "grid": "west-1", "on_duty": true, "password": "he-dev"},
		map[string]any{"id": "w-ma", "name": "马超", "role": "grid-worker", "grid": "west-2", "on_duty": true, "password": "ma-dev"})
	for i, b := range []string{"w1", "w2", "w3", "w4"} {
		raw["devices"] = append(raw["devices"].([]any), map[string]any{
			"id": fmt.Sprintf("mb-01%02d", i+1), "kind": "sensor", "password": "mb-dev",
			"location": map[string]any{"community": "west", "building": b, "unit": "1"}})
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	return config.Parse(b)
}

// buildPeriod lives the given number of days up to end in dir.
func buildPeriod(dir string, days int) (*month, error) {
	cfg, err := twoCommunities()
	if err != nil {
		return nil, err
	}
	srv, err := broker.New(&broker.Options{Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "broker"), Accounts: cfg.Accounts(), Logger: quiet()})
	if err != nil {
		return nil, err
	}
	if err := srv.Start(); err != nil {
		return nil, err
	}
	db, err := bolt.Open(filepath.Join(dir, "hub.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	start := end.AddDate(0, 0, -days)
	clk := &clock{t: start}
	url := "tcp://" + srv.Addr()
	h, err := hub.New(db, cfg, &hub.Options{Broker: url, Password: "hub-dev", Clock: clk, Tick: time.Hour, Logger: quiet()})
	if err != nil {
		return nil, err
	}
	tdb, err := bolt.Open(filepath.Join(dir, "tickets.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	ts, err := tickets.Open(tdb, &tickets.Options{Clock: clk.Now})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = h.Run(ctx) }()
	var conns []paho.Client
	m := &month{cfg: cfg, hub: h, tickets: ts, clock: clk, stop: func() {
		for _, c := range conns {
			c.Disconnect(0)
		}
		cancel()
		wg.Wait()
		db.Close()
		tdb.Close()
		srv.Close()
	}}
	select {
	case <-h.Ready():
	case <-time.After(15 * time.Second):
		m.stop()
		return nil, fmt.Errorf("hub did not connect")
	}
	connect := func(id, pass string) (paho.Client, error) {
		c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID(id).SetUsername(id).SetPassword(pass).SetProtocolVersion(4))
		tok := c.Connect()
		if !tok.WaitTimeout(10 * time.Second) {
			return nil, fmt.Errorf("connect %s: timed out", id)
		}
		if err := tok.Error(); err != nil {
			return nil, fmt.Errorf("connect %s: %w", id, err)
		}
		conns = append(conns, c)
		return c, nil
	}
	if err := fillAlerts(m, connect, start); err != nil {
		m.stop()
		return nil, err
	}
	if err := fillTickets(m, start, days); err != nil {
		m.stop()
		return nil, err
	}
	clk.Set(end)
	return m, nil
}

func wait(what string, cond func() bool) error {
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return nil
}

// fillAlerts plays a month of alarms and faults through the hub: each one
// raised by a device's event, most acknowledged by a worker's request
// after a minute to an hour, most cleared by the device's reset after
// that.
func fillAlerts(m *month, connect func(id, pass string) (paho.Client, error), start time.Time) error {
	h := m.hub
	devs := map[string]paho.Client{}
	seq := map[string]uint64{}
	for _, d := range m.cfg.Devices {
		c, err := connect(d.ID, d.Password)
		if err != nil {
			return err
		}
		devs[d.ID] = c
		c.Publish(contract.DeviceTopic(d.ID, "birth"), 1, true, contract.MustEncode(&contract.Birth{Device: d.ID, Kind: d.Kind, Session: 1, Firmware: "1.4.2"}))
	}
	if err := wait("every device online", func() bool {
		n := 0
		for _, d := range h.Devices() {
			if d.Online {
				n++
			}
		}
		return n == len(m.cfg.Devices)
	}); err != nil {
		return err
	}
	worker, err := connect("s-liu", "liu-dev")
	if err != nil {
		return err
	}
	send := func(dev, channel, kind string, from, to contract.State, cause string, v float64) {
		seq[dev]++
		ev := &contract.Event{ID: fmt.Sprintf("%s-e%d", dev, seq[dev]), Device: dev, Session: 1, Seq: seq[dev],
			Channel: channel, Kind: kind, From: from, To: to, Cause: cause, Value: v, Unit: "mA", SetPoint: 300}
		devs[dev].Publish(contract.DeviceTopic(dev, "event"), 1, false, contract.MustEncode(ev))
	}
	rng := rand.New(rand.NewPCG(8, 27))
	sensors := []string{"mb-0001", "mb-0002", "mb-0003", "mb-0004", "mb-0005", "mb-0006", "mb-0101", "mb-0102"}
	// Where alarms come from: mb-0001 (east-1) often, mb-0103 and mb-0104
	// (west-2) never, so one grid stays quiet.
	weights := []int{6, 2, 3, 1, 2, 2, 2, 1}
	pick := func() string {
		n := 0
		for _, w := range weights {
			n += w
		}
		r := rng.IntN(n)
		for i, w := range weights {
			if r < w {
				return sensors[i]
			}
			r -= w
		}
		return sensors[0]
	}
	t := start.Add(9 * time.Hour)
	req := 0
	for t.Before(end.Add(-2 * time.Hour)) {
		t = t.Add(time.Duration(8+rng.IntN(28)) * time.Hour)
		if !t.Before(end.Add(-2 * time.Hour)) {
			break
		}
		dev := pick()
		fault := rng.IntN(6) == 0
		m.clock.Set(t)
		raised := h.Stats().AlertsRaised
		state := contract.StateAlarm
		if fault {
			state = contract.StateFault
			send(dev, "temp-1", "temperature", contract.StateNormal, contract.StateFault, "sensor-fault:open", 0)
		} else {
			send(dev, "residual", "residual", contract.StatePreAlarm, contract.StateAlarm, "threshold", 300+float64(rng.IntN(200)))
		}
		if err := wait("alert raised", func() bool { return h.Stats().AlertsRaised == raised+1 }); err != nil {
			return err
		}
		active, _ := h.Alerts(false)
		id := active[len(active)-1].ID
		last := end.Sub(t) < 10*time.Hour
		if !fault && !(last && rng.IntN(2) == 0) {
			// Acknowledged after 20 s to ~40 min; a few much later.
			d := time.Duration(20+rng.IntN(300)) * time.Second
			if rng.IntN(5) == 0 {
				d = time.Duration(5+rng.IntN(40)) * time.Minute
			}
			m.clock.Set(t.Add(d))
			acks := h.Stats().Acks
			req++
			r := &contract.Request{ID: fmt.Sprintf("q-%d", req), From: "s-liu", Op: contract.OpAlertAck, Args: map[string]string{"id": id}}
			worker.Publish(contract.RequestTopic("s-liu"), 1, false, contract.MustEncode(r))
			if err := wait("ack", func() bool { return h.Stats().Acks == acks+1 }); err != nil {
				return err
			}
			t = t.Add(d)
		}
		if last {
			continue // still active at the end of the month
		}
		// Cleared on site after 10 min to 3 h (faults: the sensor fixed).
		t = t.Add(time.Duration(10+rng.IntN(170)) * time.Minute)
		m.clock.Set(t)
		cleared := h.Stats().AlertsCleared
		if fault {
			send(dev, "temp-1", "temperature", contract.StateFault, contract.StateNormal, "sensor-recovered", 0)
		} else {
			send(dev, "residual", "residual", state, contract.StateNormal, "reset", 120)
		}
		if err := wait("alert cleared", func() bool { return h.Stats().AlertsCleared == cleared+1 }); err != nil {
			return err
		}
	}
	// Two devices went offline.
	for _, id := range []string{"mb-0005", "kiosk-02"} {
		devs[id].Publish(contract.DeviceTopic(id, "death"), 1, true, contract.MustEncode(&contract.Death{Device: id, Session: 1}))
	}
	return wait("two devices offline", func() bool {
		n := 0
		for _, d := range h.Devices() {
			if !d.Online {
				n++
			}
		}
		return n == 2
	})
}

// fillTickets files a month of residents' reports and works them: most
// accepted within hours, resolved within a day or two, rated.
func fillTickets(m *month, start time.Time, days int) error {
	s := m.tickets
	rng := rand.New(rand.NewPCG(11, 27))
	cats := []string{"lift", "leak", "street-light", "rubbish", "noise", "parking", "meter-box", "lift", "leak", "rubbish"}
	places := []struct{ community, building, grid, kiosk string }{
		{"east", "b1", "east-1", "kiosk-01"}, {"east", "b4", "east-2", "kiosk-01"}, {"east", "b6", "east-3", "kiosk-02"},
		{"west", "w1", "west-1", "kiosk-01"}, {"west", "w3", "west-2", "kiosk-01"},
	}
	n := 0
	for day := range days {
		for range rng.IntN(4) {
			n++
			p := places[rng.IntN(len(places))]
			filed := start.AddDate(0, 0, day).Add(time.Duration(8*60+rng.IntN(12*60)) * time.Minute)
			if filed.After(end) {
				continue
			}
			m.clock.Set(filed)
			num := fmt.Sprintf("K1-%s-%04d0", filed.Format("060102"), n)
			r := &contract.Report{Number: num, Device: p.kiosk, Category: cats[rng.IntN(len(cats))], Urgency: contract.UrgencyNormal,
				Location: contract.Location{Community: p.community, Building: p.building, Unit: "1"}, Phrases: []string{"-"}}
			if _, _, err := s.File(r, p.grid); err != nil {
				return err
			}
			age := end.Sub(filed)
			step := func(after time.Duration, f func() error) bool {
				at := m.clock.Now().Add(after)
				if at.After(end) {
					return false
				}
				m.clock.Set(at)
				return f() == nil
			}
			by := "w-li"
			if !step(time.Duration(20+rng.IntN(300))*time.Minute, func() error { _, err := s.Accept(num, by); return err }) {
				continue
			}
			if rng.IntN(3) > 0 && !step(time.Duration(10+rng.IntN(120))*time.Minute, func() error { _, err := s.Start(num, by); return err }) {
				continue
			}
			if age < 30*time.Hour && rng.IntN(2) == 0 {
				continue // still being worked on
			}
			if !step(time.Duration(1+rng.IntN(30))*time.Hour, func() error { _, err := s.Resolve(num, by, "已处理"); return err }) {
				continue
			}
			rating := contract.RatingSatisfied
			switch rng.IntN(10) {
			case 0:
				rating = contract.RatingUnsatisfied
			case 1, 2:
				rating = contract.RatingBasically
			case 3:
				continue // nobody rated
			}
			step(time.Duration(1+rng.IntN(20))*time.Hour, func() error {
				_, _, err := s.Rate(&contract.Rating{ID: "r-" + num, Number: num, Device: p.kiosk, Rating: rating})
				return err
			})
		}
	}
	return nil
}
