package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"linli/firmware/bundle"
	"linli/firmware/campaign"
	"linli/firmware/transfer"
	"linli/mqtt/contract"
	"linli/mqtt/hubclient"
)

// flashCampaign runs a staged campaign of f's bundle to the chosen devices.
func flashCampaign(ctx context.Context, a *app, f *flashFlags, m *bundle.Manifest, verified bool) error {
	var list []contract.DeviceInfo
	if err := a.call(ctx, contract.OpDevices, nil, nil, &list); err != nil {
		return err
	}
	devs, refs, err := flashTargets(f, m, list)
	if err != nil {
		return err
	}
	id := newTransferID(a.clock.now())
	var ts []campaign.Target
	for _, d := range devs {
		ts = append(ts, campaign.Target{ID: d.Device, Running: d.Firmware})
	}
	camp, err := campaign.New(m.Version, ts, &campaign.Options{Transfer: id, FirstGroup: f.first,
		FailureThreshold: thresholdOption(f.threshold), Parallel: f.parallel, Timeout: f.deviceTimeout,
		Force: f.force, Now: a.clock.now})
	if err != nil {
		return fmt.Errorf("flash: %w", err)
	}
	if !a.cfg.json {
		printPlan(a, m, verified, devs, refs, camp.Options())
	}
	if !f.yes {
		if a.cfg.json {
			return a.printJSON(struct {
				Manifest *bundle.Manifest      `json:"manifest"`
				Devices  []contract.DeviceInfo `json:"devices"`
				Refused  []refused             `json:"refused,omitempty"`
			}{m, devs, refs})
		}
		fmt.Fprintln(a.out, "nothing flashed: add --yes to start the campaign")
		return nil
	}
	hc, err := a.hub(ctx)
	if err != nil {
		return err
	}
	r := &flashRun{app: a, camp: camp, hc: hc, transfer: id, wake: make(chan struct{}, 1), shown: map[string]campaign.State{},
		reqs: make(chan *contract.FirmwareRequest, 1024)}
	defer r.close()
	if err := r.connect(ctx); err != nil {
		return err
	}
	o, err := r.sender.Add(id, m.Version, f.bundle, f.blockSize)
	if err != nil {
		return err
	}
	o.Security = m.Security // devices refuse rolled-back and too old bundles before downloading
	r.offer = o.Args()
	return r.run(ctx)
}

func thresholdOption(v float64) float64 {
	if v <= 0 {
		return -1 // pause on any failure
	}
	return v
}

// flashRun is a running campaign: the broker connection that serves the
// blocks and follows the statuses, and the progress display.
type flashRun struct {
	*app
	camp     *campaign.Campaign
	hc       *hubclient.Client
	transfer string

	conn   paho.Client
	pub    *blockPublisher
	sender *transfer.Sender
	offer  map[string]string // the update command's arguments
	// reqs holds block requests for the servers; when it is full a request
	// is dropped and the device asks again after its timeout.
	reqs      chan *contract.FirmwareRequest
	stats     queue[*contract.FirmwareStatus]
	wake      chan struct{} // something arrived
	wg        sync.WaitGroup
	stop      context.CancelFunc
	shown     map[string]campaign.State // last state printed per device
	drawn     bool
	errMu     sync.Mutex
	serveErrs []string // block requests that could not be served
}

// queue is an unbounded FIFO: paho handlers must never block, or the
// client stops reading the acknowledgements the block publisher waits for.
type queue[T any] struct {
	mu    sync.Mutex
	items []T
}

func (q *queue[T]) push(v T) {
	q.mu.Lock()
	q.items = append(q.items, v)
	q.mu.Unlock()
}

func (q *queue[T]) take() []T {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.items
	q.items = nil
	return out
}

func (r *flashRun) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// connect opens the campaign's own broker connection and subscribes to the
// devices' block requests and statuses.
func (r *flashRun) connect(ctx context.Context) error {
	handlers := map[string]paho.MessageHandler{
		contract.Root + "/dev/+/" + contract.TypeFirmwareRequest: func(_ paho.Client, msg paho.Message) {
			if m, err := contract.Decode(msg.Topic(), msg.Payload()); err == nil {
				if req, ok := m.(*contract.FirmwareRequest); ok && req.Transfer == r.transfer {
					select {
					case r.reqs <- req:
					default:
					}
				}
			}
		},
		contract.Root + "/dev/+/" + contract.TypeFirmwareStatus: func(_ paho.Client, msg paho.Message) {
			if m, err := contract.Decode(msg.Topic(), msg.Payload()); err == nil {
				if st, ok := m.(*contract.FirmwareStatus); ok && st.Transfer == r.transfer {
					r.stats.push(st)
					r.poke()
				}
			}
		},
	}
	filters := map[string]byte{}
	for f := range handlers {
		filters[f] = 1
	}
	var connects atomic.Int32
	o := paho.NewClientOptions().AddBroker(r.cfg.broker).
		SetClientID("gridctl-flash-" + r.cfg.user + "-" + r.transfer[len(r.transfer)-8:]).
		SetUsername(r.cfg.user).SetPassword(r.cfg.pass).
		SetCleanSession(true).SetAutoReconnect(true).SetConnectRetry(false).
		SetConnectTimeout(r.cfg.timeout).SetOrderMatters(true). // handlers never block
		SetOnConnectHandler(func(c paho.Client) {
			// A clean session loses its subscriptions with the connection:
			// subscribe again after a reconnect (the first connect
			// subscribes below and waits for it).
			if connects.Add(1) == 1 {
				return
			}
			if err := r.subscribe(context.Background(), c, filters); err != nil {
				r.errMu.Lock()
				r.serveErrs = append(r.serveErrs, "after a reconnect: "+err.Error())
				r.errMu.Unlock()
			}
		})
	r.conn = paho.NewClient(o)
	for f, h := range handlers {
		r.conn.AddRoute(f, h)
	}
	cctx, cancel := context.WithTimeout(ctx, r.cfg.timeout)
	defer cancel()
	if err := waitToken(cctx, r.conn.Connect()); err != nil {
		return fmt.Errorf("flash: connect to %s: %w", r.cfg.broker, err)
	}
	if err := r.subscribe(cctx, r.conn, filters); err != nil {
		return err
	}
	sctx, stop := context.WithCancel(context.Background())
	r.stop = stop
	r.pub = &blockPublisher{c: r.conn, toks: make(chan paho.Token, 64)}
	r.wg.Add(1)
	go func() { defer r.wg.Done(); r.pub.run(sctx) }()
	r.sender = transfer.NewSender(r.pub.publish)
	// Serve block requests off the main loop, a few at a time.
	for range 4 {
		r.wg.Add(1)
		go func() { defer r.wg.Done(); r.serve(sctx) }()
	}
	return nil
}

// subscribe subscribes c to filters in one SUBSCRIBE and checks what the
// broker granted. One packet, because mochi (2.7.9) takes the packet ids of
// its own QoS 1 deliveries to the client as in use for the client's
// packets too: a second SUBSCRIBE sent while the retained statuses the
// first one brought were not acknowledged yet was refused with 0x91
// (packet identifier in use), and the campaign then never saw a block
// request.
func (r *flashRun) subscribe(ctx context.Context, c paho.Client, filters map[string]byte) error {
	tok := c.SubscribeMultiple(filters, nil)
	if err := waitToken(ctx, tok); err != nil {
		return fmt.Errorf("flash: subscribe: %w", err)
	}
	st, ok := tok.(*paho.SubscribeToken)
	if !ok {
		return nil
	}
	for f, code := range st.Result() {
		if code >= 0x80 {
			return fmt.Errorf("flash: the broker refused the subscription to %s (code %#x; is %s a maintenance account?)", f, code, r.cfg.user)
		}
	}
	return nil
}

// serve answers block requests of devices the campaign started.
func (r *flashRun) serve(ctx context.Context) {
	for {
		var req *contract.FirmwareRequest
		select {
		case <-ctx.Done():
			return
		case req = <-r.reqs:
		}
		d, known := r.camp.Device(req.Device)
		if !known || d.State == campaign.Pending || d.State.Final() {
			continue
		}
		if err := r.sender.HandleRequest(ctx, req); err != nil && ctx.Err() == nil {
			r.errMu.Lock()
			r.serveErrs = append(r.serveErrs, req.Device+": "+err.Error())
			r.errMu.Unlock()
		}
	}
}

func (r *flashRun) close() {
	if r.stop != nil {
		r.stop()
	}
	r.wg.Wait()
	if r.sender != nil {
		r.sender.Close()
	}
	if r.conn != nil {
		r.conn.Disconnect(250)
	}
}

// run drives the campaign until it is done, paused or cancelled, then
// prints the report.
func (r *flashRun) run(ctx context.Context) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var cmds sync.WaitGroup
	defer cmds.Wait()
	cctx, cancelCmds := context.WithCancel(ctx)
	defer cancelCmds()
	for {
		for _, st := range r.stats.take() {
			r.camp.Update(st)
		}
		r.camp.Tick()
		for _, id := range r.camp.Next() {
			cmds.Add(1)
			go func() {
				defer cmds.Done()
				if err := r.command(cctx, id, r.offer); err != nil && cctx.Err() == nil {
					r.camp.Fail(id, err.Error())
					r.poke()
				}
			}()
		}
		r.progress()
		if r.camp.Done() {
			break
		}
		select {
		case <-ctx.Done():
			r.camp.Cancel()
			cancelCmds()
		case <-r.wake:
		case <-tick.C:
		}
	}
	cancelCmds()
	return r.report()
}

// command asks the hub to send the update command to id.
func (r *flashRun) command(ctx context.Context, id string, offer map[string]string) error {
	args := map[string]string{"device": id, "name": contract.CmdUpdate}
	for k, v := range offer {
		args[k] = v
	}
	var ack contract.CommandAck
	cctx, cancel := context.WithTimeout(ctx, r.cfg.timeout+15*time.Second)
	defer cancel()
	err := r.hc.Call(cctx, contract.OpDeviceCmd, args, nil, &ack)
	var he *hubclient.HubError
	switch {
	case errors.As(err, &he):
		return fmt.Errorf("hub refused the update: %s", clean(he.Message))
	case errors.Is(err, hubclient.ErrNoAnswer):
		return fmt.Errorf("no answer to the update command (hub or device down)")
	case err != nil:
		return err
	case !ack.OK:
		return fmt.Errorf("device refused the update: %s", clean(ack.Error))
	}
	return nil
}

// progress shows the campaign: a live table on a terminal, one line per
// state change otherwise, nothing with --json.
func (r *flashRun) progress() {
	if r.cfg.json {
		return
	}
	devs := r.camp.Devices()
	now := r.clock.now()
	if r.sys.terminal {
		var b strings.Builder
		b.WriteString("\x1b[H\x1b[2J")
		fmt.Fprintf(&b, "flashing %s to %d devices — %s   (Ctrl-C cancels)\n", r.camp.Version(), len(devs), now.In(r.clock.loc).Format("15:04:05"))
		if p, why := r.camp.Paused(); p {
			fmt.Fprintf(&b, "PAUSED: %s; waiting for the devices in flight\n", why)
		}
		b.WriteByte('\n')
		for _, d := range devs {
			fmt.Fprintf(&b, "%-16s %s  %s\n", d.ID, bar(d, 24), progressText(d, now))
		}
		fmt.Fprint(r.out, b.String())
		r.drawn = true
		return
	}
	for _, d := range devs {
		if r.shown[d.ID] == d.State || d.State == campaign.Pending {
			continue
		}
		r.shown[d.ID] = d.State
		fmt.Fprintf(r.out, "%s  %-16s %s\n", now.In(r.clock.loc).Format("15:04:05"), d.ID, progressText(d, now))
	}
}

// bar draws a progress bar of width cells for d.
func bar(d campaign.Device, width int) string {
	frac := 0.0
	switch d.State {
	case campaign.Downloading:
		if d.Of > 0 {
			frac = 0.8 * float64(d.Count) / float64(d.Of)
		}
	case campaign.Verifying:
		frac = 0.85
	case campaign.Installing:
		frac = 0.9
	case campaign.Trial:
		frac = 0.95
	case campaign.Committed, campaign.Skipped:
		frac = 1
	}
	n := int(frac * float64(width))
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}

func progressText(d campaign.Device, now time.Time) string {
	s := string(d.State)
	if d.State == campaign.Downloading && d.Of > 0 {
		s += fmt.Sprintf(" %d/%d", d.Count, d.Of)
	}
	if d.Reason != "" {
		s += ": " + clean(d.Reason)
	}
	if dur := d.Duration(now); dur > 0 && d.State != campaign.Pending {
		s += "  " + dur.Truncate(time.Second/10).String()
	}
	return s
}

// report prints the campaign's report and returns the campaign's verdict.
func (r *flashRun) report() error {
	rep := r.camp.Report()
	if r.cfg.json {
		if err := r.printJSON(rep); err != nil {
			return err
		}
	} else {
		if r.drawn {
			fmt.Fprintln(r.out)
		}
		t := newTable("DEVICE", "VERSION", "RESULT", "REASON", "TIME")
		for _, d := range rep.Devices {
			t.add(d.ID, orDash(d.From)+" → "+orDash(d.Running), string(d.State), d.Reason, d.Duration.Truncate(time.Second/10).String())
		}
		if err := t.write(r.out); err != nil {
			return err
		}
		// The table cuts long cells; the reason a device did not update
		// is what the worker acts on, so it is shown whole below it.
		for _, d := range rep.Devices {
			if reason := strings.TrimSpace(clean(d.Reason)); width(reason) > maxCell {
				fmt.Fprintf(r.out, "%s: %s\n", d.ID, reason)
			}
		}
		var parts []string
		for _, s := range []campaign.State{campaign.Committed, campaign.Skipped, campaign.Failed, campaign.RolledBack, campaign.Cancelled, campaign.Pending} {
			if n := rep.Counts[s]; n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", n, s))
			}
		}
		fmt.Fprintf(r.out, "%s in %s: %s\n", rep.Version, rep.Finished.Sub(rep.Started).Truncate(time.Second/10), strings.Join(parts, ", "))
		r.errMu.Lock()
		if n := len(r.serveErrs); n > 0 {
			fmt.Fprintf(r.out, "%d block requests could not be served, e.g. %s\n", n, clean(r.serveErrs[0]))
		}
		r.errMu.Unlock()
	}
	switch {
	case rep.Cancelled:
		return errors.New("flash: campaign cancelled")
	case rep.Paused != "":
		return fmt.Errorf("flash: campaign paused: %s; %d devices not started", rep.Paused, rep.Counts[campaign.Pending])
	case !rep.OK():
		return fmt.Errorf("flash: %d of %d devices did not update", len(rep.Devices)-rep.Counts[campaign.Committed]-rep.Counts[campaign.Skipped], len(rep.Devices))
	}
	return nil
}

// waitToken waits for a paho token or ctx.
func waitToken(ctx context.Context, tok paho.Token) error {
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// blockPublisher publishes firmware blocks with QoS 1 without waiting for
// each acknowledgement: up to cap(toks) blocks are in flight, and run waits
// for their acknowledgements in order. A block that is lost (the connection
// dropped) is asked for again by its device.
type blockPublisher struct {
	c    paho.Client
	toks chan paho.Token
	mu   sync.Mutex
	lost int
}

// publish implements the transfer.Sender's publish function.
func (p *blockPublisher) publish(ctx context.Context, topic string, payload []byte) error {
	tok := p.c.Publish(topic, 1, false, payload)
	select {
	case p.toks <- tok:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run waits for the acknowledgements until ctx is done.
func (p *blockPublisher) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case tok := <-p.toks:
			if err := waitToken(ctx, tok); err != nil && ctx.Err() == nil {
				p.mu.Lock()
				p.lost++
				p.mu.Unlock()
			}
		}
	}
}
