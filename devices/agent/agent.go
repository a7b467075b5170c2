package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"linli/devices/hazard"
	"linli/devices/store"
	"linli/mqtt/contract"
)

// Sensor reads one channel: a value in the channel's unit (°C, mA, A, 1/0
// for smoke) or an error wrapping one of the devices sentinels. Read must
// not block longer than a bus transaction.
type Sensor interface {
	Read() (float64, error)
}

// SensorFunc adapts a function to Sensor.
type SensorFunc func() (float64, error)

// Read implements Sensor.
func (f SensorFunc) Read() (float64, error) { return f() }

// Output is a local signal: the buzzer or the LED.
type Output interface {
	Set(on bool) error
}

// Channel is a configured hazard channel and its sensor.
type Channel struct {
	Config hazard.Config
	Sensor Sensor
}

// Options configures an Agent. nil means defaults; the zero value of a
// field means its default.
type Options struct {
	// Device is the device id. Required.
	Device   string
	Location contract.Location
	Firmware string
	// Interval is the sampling period. Default 1 s.
	Interval time.Duration
	// Heartbeat is the longest time between two telemetry messages; a
	// state change or a value moving by more than the channel's delta
	// (1 °C, 10 mA, 1 A, any smoke change) sends one at once. Default 10 s.
	Heartbeat time.Duration
	// FlushEvery is how often buffered readings are written (one
	// db.Batch). Default 10 s. Events never wait for it.
	FlushEvery time.Duration
	// Now is the clock (the simulator's when simulating). Default time.Now.
	Now func() time.Time
	// Synced tells whether a wall-clock time is real; see hazard.Options.
	Synced func(time.Time) bool
	// TestFor is how long a test lasts. Default 10 s.
	TestFor time.Duration
	// Buzzer and LED; nil means none.
	Buzzer, LED Output
	// OnEvent is called with each event once it is durable, in seq order,
	// from the goroutine that committed it. It must not block.
	OnEvent func(contract.Event)
	// Health, when set, completes the health of State (e.g. the uplink's
	// reconnect count).
	Health func(*contract.Health)
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// Agent samples the channels, decides their states, stores and queues the
// events, sounds the buzzer and queues telemetry. It only needs the store
// (and its outbox): the uplink, when there is one, drains the outbox and
// calls HandleCommand, Birth and State.
type Agent struct {
	db    *store.DB
	eng   *hazard.Engine
	chans []Channel
	opts  Options
	log   *slog.Logger
	boot  time.Time

	mu        sync.Mutex // serialises commits and announcements, and guards below
	pending   []contract.Event
	readings  []store.Reading
	lastFlush time.Time
	lastTele  time.Time
	sent      map[string]float64 // value last sent in telemetry
	silenced  bool
	blink     bool
	last      map[string]sample
	storeErrs atomic.Uint64 // failed database writes, for Health.StorageErrors
}

type sample struct {
	v   float64
	err error
}

const thresholdsKey = "thresholds"

// New returns an agent over db. It restores the channels' states from db
// (a latched alarm stays latched, without a new event) and set-points
// changed by command, and, if db had to start afresh from a corrupt file,
// records a fault on the "storage" channel.
func New(db *store.DB, chans []Channel, opts *Options) (*Agent, error) {
	a := &Agent{db: db, chans: chans, sent: map[string]float64{}, last: map[string]sample{}}
	if opts != nil {
		a.opts = *opts
	}
	o := &a.opts
	if o.Device == "" {
		return nil, errors.New("agent: Options.Device is empty")
	}
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 10 * time.Second
	}
	if o.FlushEvery <= 0 {
		o.FlushEvery = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	a.log = o.Logger.With("component", "agent")
	cfgs := make([]hazard.Config, len(chans))
	for i, c := range chans {
		if c.Sensor == nil {
			return nil, fmt.Errorf("agent: channel %q has no sensor", c.Config.Name)
		}
		cfgs[i] = c.Config
	}
	eng, err := hazard.New(cfgs, &hazard.Options{Device: o.Device, Location: o.Location, Session: db.Boot(),
		Now: o.Now, Synced: o.Synced, TestFor: o.TestFor, Logger: o.Logger})
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	a.eng = eng
	a.boot = o.Now()
	a.lastFlush, a.lastTele = a.boot, time.Time{}

	// Set-points changed by command survive restarts.
	if b, err := db.Config(thresholdsKey); err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	} else if b != nil {
		var th map[string][2]float64
		if err := json.Unmarshal(b, &th); err != nil {
			a.log.Error("stored set-points unreadable; using the configuration", "err", err)
		}
		for ch, v := range th {
			if err := eng.SetThresholds(ch, v[0], v[1]); err != nil {
				a.log.Warn("stored set-points no longer apply", "channel", ch, "err", err)
			}
		}
	}
	states, err := db.Channels()
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	for _, st := range states {
		eng.Restore(st.Channel, st.Kind, st.State)
	}
	if aside, cause := db.Recovered(); aside != "" {
		a.pending = append(a.pending, eng.DeviceFault("storage", "corrupt-db",
			fmt.Sprintf("database moved aside to %s: %v", aside, cause))...)
	}
	return a, nil
}

// Engine returns the hazard engine, for inspection.
func (a *Agent) Engine() *hazard.Engine { return a.eng }

// Run samples every Options.Interval until ctx is done, then writes the
// buffered readings and returns nil. Storage errors are logged and retried;
// they never stop the sampling or the buzzer.
func (a *Agent) Run(ctx context.Context) error {
	t := time.NewTicker(a.opts.Interval)
	defer t.Stop()
	for {
		a.Step(ctx)
		select {
		case <-ctx.Done():
			return a.Flush()
		case <-t.C:
		}
	}
}

// Step runs one sampling round: read every sensor, decide, commit and
// announce the events, drive the buzzer and LED, queue telemetry when due,
// and write the buffered readings when due. It returns the events
// committed in this round.
func (a *Agent) Step(ctx context.Context) []contract.Event {
	samples := make([]hazard.Sample, 0, len(a.chans))
	for _, c := range a.chans {
		v, err := c.Sensor.Read()
		samples = append(samples, hazard.Sample{Channel: c.Config.Name, Value: v, Err: err})
	}
	evs := a.eng.Observe(samples)
	now := a.opts.Now()

	a.mu.Lock()
	defer a.mu.Unlock()
	for _, s := range samples {
		a.last[s.Channel] = sample{s.Value, s.Err}
		r := store.Reading{At: now, Channel: s.Channel, Value: s.Value}
		if s.Err != nil {
			r.Value, r.Err = 0, s.Err.Error()
		}
		a.readings = append(a.readings, r)
	}
	done := a.commitLocked(evs)
	a.outputsLocked()
	a.telemetryLocked(now, len(evs) > 0)
	if now.Sub(a.lastFlush) >= a.opts.FlushEvery {
		_ = a.flushLocked(now) // logged and counted inside; the next flush retries
	}
	return done
}

// commitLocked commits the pending events and evs, announces them, and
// returns those committed. On a storage error they stay pending (the buzzer
// does not wait for storage).
func (a *Agent) commitLocked(evs []contract.Event) []contract.Event {
	a.pending = append(a.pending, evs...)
	if len(a.pending) == 0 {
		return nil
	}
	for _, ev := range a.pending {
		if ev.To == contract.StateAlarm && ev.From != contract.StateAlarm {
			a.silenced = false // a new alarm sounds again
		}
	}
	done, err := a.db.Commit(a.pending)
	if err != nil {
		a.storeErrs.Add(1)
		a.log.Error("events not stored; will retry", "events", len(a.pending), "err", err)
		return nil
	}
	a.pending = nil
	if a.opts.OnEvent != nil {
		for _, ev := range done {
			a.opts.OnEvent(ev)
		}
	}
	return done
}

// outputsLocked drives the buzzer (any alarm not silenced, or a test) and
// the LED (steady for alarm, blinking for fault or pre-alarm).
func (a *Agent) outputsLocked() {
	var alarm, warn, test bool
	for _, st := range a.eng.Statuses() {
		switch st.State {
		case contract.StateAlarm:
			alarm = true
		case contract.StateFault, contract.StatePreAlarm:
			warn = true
		case contract.StateTest:
			test = true
		}
	}
	a.blink = !a.blink
	set := func(o Output, name string, on bool) {
		if o == nil {
			return
		}
		if err := o.Set(on); err != nil {
			a.log.Error("output", "output", name, "err", err)
		}
	}
	set(a.opts.Buzzer, "buzzer", (alarm && !a.silenced) || test)
	set(a.opts.LED, "led", alarm || test || (warn && a.blink))
}

// Buzzing reports whether the buzzer should be on now.
func (a *Agent) Buzzing() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, st := range a.eng.Statuses() {
		if st.State == contract.StateTest || (st.State == contract.StateAlarm && !a.silenced) {
			return true
		}
	}
	return false
}

func delta(k hazard.Kind) float64 {
	switch k {
	case hazard.Temperature:
		return 1
	case hazard.Residual:
		return 10
	case hazard.Load:
		return 1
	}
	return 0.5
}

func (a *Agent) telemetryLocked(now time.Time, changed bool) {
	if !changed && !a.lastTele.IsZero() && now.Sub(a.lastTele) < a.opts.Heartbeat {
		for _, c := range a.chans {
			s := a.last[c.Config.Name]
			prev, ok := a.sent[c.Config.Name]
			if s.err == nil && (!ok || math.Abs(s.v-prev) >= delta(c.Config.Kind)) {
				changed = true
				break
			}
		}
		if !changed {
			return
		}
	}
	stamp := a.eng.Stamp(now)
	t := &contract.Telemetry{Device: a.opts.Device, Session: a.db.Boot()}
	for _, c := range a.chans {
		s := a.last[c.Config.Name]
		r := contract.Reading{Channel: c.Config.Name, Value: s.v, Unit: c.Config.Kind.Unit(), Time: stamp}
		if s.err != nil {
			r.Value, r.Err = 0, s.err.Error()
		} else {
			a.sent[c.Config.Name] = s.v
		}
		t.Readings = append(t.Readings, r)
	}
	if err := a.db.PutTelemetry(t); err != nil {
		a.storeErrs.Add(1)
		a.log.Error("telemetry not queued", "err", err)
		return
	}
	a.lastTele = now
}

func (a *Agent) flushLocked(now time.Time) error {
	if len(a.readings) == 0 {
		return nil
	}
	if err := a.db.AddReadings(a.readings); err != nil {
		a.storeErrs.Add(1)
		a.log.Error("readings not stored", "readings", len(a.readings), "err", err)
		if len(a.readings) > 10_000 { // bound the memory while storage is broken
			a.readings = a.readings[len(a.readings)-10_000:]
		}
		return err
	}
	a.readings = a.readings[:0]
	a.lastFlush = now
	return nil
}

// Flush writes the buffered readings and retries pending events now.
func (a *Agent) Flush() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.commitLocked(nil)
	err := a.flushLocked(a.opts.Now())
	if len(a.pending) > 0 {
		return fmt.Errorf("agent: %d events not stored", len(a.pending))
	}
	return err
}

// HandleCommand runs a command and returns its ack. The caller (the
// uplink, or the hub behind it) has authorised it. Commands:
//
//	ack             silence the buzzer; alarms stay latched (a new alarm sounds again)
//	reset           reset latched alarms and device faults; args: channel ("" = all)
//	test            put channels in test (buzzer and LED on); args: channel
//	set-thresholds  args: channel, pre_alarm, alarm (in the channel's unit);
//	                refused outside the allowed ranges, kept across restarts
//	rebirth         nothing to do here (the uplink publishes birth and state)
//	resend          queue again the logged events after seq; args: after
func (a *Agent) HandleCommand(ctx context.Context, c *contract.Command) *contract.CommandAck {
	ack := &contract.CommandAck{ID: c.ID, Device: a.opts.Device, OK: true}
	fail := func(err error) *contract.CommandAck {
		ack.OK, ack.Error = false, err.Error()
		a.log.Warn("command refused", "command", c.Name, "id", c.ID, "by", c.By, "err", err)
		return ack
	}
	a.log.Info("command", "command", c.Name, "id", c.ID, "by", c.By, "args", c.Args)
	switch c.Name {
	case contract.CmdAck:
		a.mu.Lock()
		a.silenced = true
		a.outputsLocked()
		a.mu.Unlock()
	case contract.CmdReset, contract.CmdTest:
		op := a.eng.Reset
		if c.Name == contract.CmdTest {
			op = a.eng.Test
		}
		evs, err := op(c.Args["channel"], c.By)
		if err != nil {
			return fail(err)
		}
		a.mu.Lock()
		a.commitLocked(evs)
		stored := len(a.pending) == 0
		a.outputsLocked()
		a.mu.Unlock()
		if !stored {
			return fail(errors.New("agent: done, but the events are not stored yet (storage failing)"))
		}
	case contract.CmdSetThresholds:
		ch := c.Args["channel"]
		pre, err1 := strconv.ParseFloat(c.Args["pre_alarm"], 64)
		alarm, err2 := strconv.ParseFloat(c.Args["alarm"], 64)
		if err := errors.Join(err1, err2); err != nil {
			return fail(fmt.Errorf("agent: set-thresholds: args pre_alarm and alarm must be numbers: %w", err))
		}
		if err := a.setThresholds(ch, pre, alarm); err != nil {
			return fail(err)
		}
	case contract.CmdRebirth:
	case contract.CmdResend:
		after, err := strconv.ParseUint(c.Args["after"], 10, 64)
		if err != nil {
			return fail(fmt.Errorf("agent: resend: arg after must be an event seq: %w", err))
		}
		n, err := a.db.Resend(after)
		if err != nil {
			return fail(err)
		}
		a.log.Info("events sent again", "after", after, "events", n, "by", c.By)
	default:
		return fail(fmt.Errorf("agent: unknown command %q", c.Name))
	}
	return ack
}

// setThresholds changes the set-points of ch and adds them to those kept
// for restarts. The stored set-points of the other channels are read first:
// a storage error refuses the command rather than overwrite them.
func (a *Agent) setThresholds(ch string, pre, alarm float64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	b, err := a.db.Config(thresholdsKey)
	if err != nil {
		return fmt.Errorf("agent: set-thresholds: %w", err)
	}
	th := map[string][2]float64{}
	if b != nil {
		if err := json.Unmarshal(b, &th); err != nil {
			// New ignored them too: the configuration's set-points are in
			// effect, and what is stored now replaces the unreadable value.
			a.log.Error("stored set-points unreadable; replacing them", "err", err)
			th = map[string][2]float64{}
		}
	}
	if err := a.eng.SetThresholds(ch, pre, alarm); err != nil {
		return err
	}
	th[ch] = [2]float64{pre, alarm}
	if b, err = json.Marshal(th); err != nil {
		return fmt.Errorf("agent: set-thresholds: %w", err)
	}
	if err := a.db.PutConfig(thresholdsKey, b); err != nil {
		return fmt.Errorf("agent: set-thresholds: in effect until restart, not stored: %w", err)
	}
	return nil
}

// Birth returns the device's birth message for session.
func (a *Agent) Birth(session uint32) *contract.Birth {
	b := &contract.Birth{Device: a.opts.Device, Kind: "sensor", Session: session, Firmware: a.opts.Firmware,
		Location: a.opts.Location, Time: a.eng.Stamp(a.opts.Now())}
	for _, st := range a.eng.Statuses() {
		if st.Kind == hazard.Device {
			continue
		}
		info := contract.ChannelInfo{Name: st.Channel, Kind: string(st.Kind), Unit: st.Kind.Unit()}
		if st.Kind != hazard.Smoke {
			info.PreAlarm, info.Alarm = st.PreAlarm, st.Alarm
		}
		b.Channels = append(b.Channels, info)
	}
	return b
}

// State returns the device's current state (session 0 means the boot
// counter), with its health.
func (a *Agent) State(session uint32) *contract.DeviceState {
	if session == 0 {
		session = a.db.Boot()
	}
	now := a.opts.Now()
	s := &contract.DeviceState{Device: a.opts.Device, Session: session, Time: a.eng.Stamp(now)}
	for _, st := range a.eng.Statuses() {
		s.Channels = append(s.Channels, contract.ChannelState{Channel: st.Channel, State: st.State, Value: st.Value, Latched: st.Latched})
	}
	s.Health = contract.Health{Uptime: now.Sub(a.boot), StorageUsed: a.db.Size(), StorageErrors: a.storeErrs.Load(), Firmware: a.opts.Firmware}
	if ob := a.db.Outbox(); ob != nil {
		if st, err := ob.Stats(); err == nil {
			s.Health.QueueDepth, s.Health.Dropped = st.Depth(), st.Dropped
		}
	}
	if a.opts.Health != nil {
		a.opts.Health(&s.Health)
	}
	return s
}
