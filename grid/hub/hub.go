package hub

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	bolt "go.etcd.io/bbolt"

	"linli/grid/config"
	"linli/internal/lograte"
	"linli/mqtt/contract"
	"linli/mqtt/outbox"
)

// Clock tells the time. Tests use a fake one to drive escalation.
type Clock interface {
	Now() time.Time
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// Options configures a Hub. The zero value of a field means its default.
type Options struct {
	// Broker is the broker URL: "tcp://host:port", "ssl://host:port".
	// Required. A comma-separated list names the nodes of a cluster: paho
	// tries them in order at every (re)connect, and the hub's session,
	// kept by the cluster, resumes on whichever answers.
	Broker string
	// ClientID is the hub's MQTT client id. Default "gridhub". It must stay
	// the same across restarts: the broker keeps the hub's session under it.
	ClientID string
	// Username and Password log in to the broker. Username defaults to the
	// configuration's hub id.
	Username string
	Password string
	// TLS configures "ssl://" connections; nil means the system roots.
	TLS *tls.Config
	// Clock tells the time; default the system clock.
	Clock Clock
	// Tick is how often escalations are checked, held events released and
	// the registry written to disk. Default 1 s.
	Tick time.Duration
	// CommandTimeout is how long device.cmd waits for the device's
	// CommandAck. Default 15 s.
	CommandTimeout time.Duration
	// ReorderWindow is how long an event that arrives ahead of a missing one
	// waits for it. Default 3 s.
	ReorderWindow time.Duration
	// SeenFor is how long event ids are kept for de-duplication. Default 30
	// days; a device's outbox must not hold an event longer than that.
	SeenFor time.Duration
	// MayConnect, when set, is asked before every attempt to connect to
	// the broker, the first and each reconnection; an error refuses the
	// attempt. A hub of an active/standby set passes its lease check
	// (replica.Journal.Holding): a deposed hub that runs again must not
	// take the broker session back from the one active now, which would
	// take it back in turn, and so on until the deposed one has stopped.
	MayConnect func() error
	// TelemetryFeed means the caller hands the hub every telemetry message
	// through Hub.Telemetry (gridhub does from its embedded broker), and
	// the hub opens no telemetry connection. False: the hub subscribes to
	// telemetry on a connection of its own.
	TelemetryFeed bool
	// Hubs is how many hubs share the broker, this one included: the
	// shards of Config.SharedBroker. With more than one the hub's web
	// console asks the others too (see AskPeers). 0 or 1: the hub is
	// alone; more needs Config.SharedBroker.
	Hubs int
	// Logger receives the hub's log lines. Default slog.Default().
	Logger *slog.Logger
}

// DefaultOptions holds the defaults applied to zero fields.
var DefaultOptions = Options{
	ClientID:       "gridhub",
	Tick:           time.Second,
	CommandTimeout: 15 * time.Second,
	ReorderWindow:  3 * time.Second,
	SeenFor:        30 * 24 * time.Hour,
}

func (o *Options) ensureDefaults(cfg *config.Config) {
	d := DefaultOptions
	if o.ClientID == "" {
		o.ClientID = d.ClientID
	}
	if o.Username == "" {
		o.Username = cfg.Hub.ID
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	if o.Tick <= 0 {
		o.Tick = d.Tick
	}
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = d.CommandTimeout
	}
	if o.ReorderWindow <= 0 {
		o.ReorderWindow = d.ReorderWindow
	}
	if o.SeenFor <= 0 {
		o.SeenFor = d.SeenFor
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Errors.
var (
	// ErrNoBroker means Options.Broker is empty.
	ErrNoBroker = errors.New("hub: no broker url")
	// ErrForbidden means the worker's role does not allow the operation.
	ErrForbidden = errors.New("hub: not allowed")
	// ErrNotFound means the alert, device or worker does not exist.
	ErrNotFound = errors.New("hub: not found")
	// ErrNoAnswer means a device did not acknowledge a command in time.
	ErrNoAnswer = errors.New("hub: device did not answer")
	// ErrBadRequest means a request lacks an argument or has a wrong one.
	ErrBadRequest = errors.New("hub: bad request")
)

// RequestFunc serves one request operation for worker from. The result is
// marshalled into Response.Body; an error becomes Response.Error.
type RequestFunc func(ctx context.Context, from config.Worker, req *contract.Request) (any, error)

// DeviceFunc handles a decoded message of a device on one topic leaf. dev
// is the hub's current view of the device. It runs on the hub's receiving
// goroutine, in arrival order, and must not block for long.
type DeviceFunc func(ctx context.Context, dev contract.DeviceInfo, m contract.Message) error

// Stats are the hub's counters.
type Stats struct {
	Received      uint64 // messages received
	Malformed     uint64 // not JSON, missing fields, wrong topic
	TooLarge      uint64 // over contract.MaxPayload
	BadVersion    uint64 // unknown schema version
	BadType       uint64 // unknown type or type not allowed on the topic
	Duplicates    uint64 // events already seen (by id)
	OutOfOrder    uint64 // events with a seq at or below the last one applied
	Foreign       uint64 // messages and requests of other shards' devices and workers, left to their hubs (Config.SharedBroker)
	Held          uint64 // events held for a missing predecessor
	Missing       uint64 // events never received (gaps given up on)
	AlertsRaised  uint64
	AlertsCleared uint64
	Escalations   uint64
	Acks          uint64
	Requests      uint64
	RequestErrors uint64
	HandlerErrors uint64 // errors of HandleDeviceMessage functions
	Resends       uint64 // devices asked to send again the events after a missing one (contract.CmdResend)
	StoreErrors   uint64 // bbolt failures (message left unacknowledged)
	QueueDepth    int    // messages waiting in the hub's outbox
	MaxQueueDepth int    // the largest QueueDepth seen since New
	// LinesSuppressed counts refused messages logged only in a summary
	// (each is still counted above).
	LinesSuppressed uint64
}

type counters struct {
	received, malformed, tooLarge, badVersion, badType, duplicates, outOfOrder,
	held, missing, raised, cleared, escalations, acks, requests, requestErrors,
	handlerErrors, storeErrors, foreign, resends atomic.Uint64
	depth, maxDepth atomic.Int64
}

// Hub is gridhub's service. Create it with New, configure it with
// HandleRequest and HandleDeviceMessage, then Run it.
type Hub struct {
	db   *bolt.DB
	cfg  *config.Config
	opts Options
	log  *slog.Logger
	out  *outbox.Outbox
	c    counters
	// refusals rate-limits the lines of refused messages (see refuse).
	refusals *lograte.Limiter

	reqFns map[string]RequestFunc
	devFns map[string]DeviceFunc

	mu      sync.Mutex // guards the state below and serialises bbolt writes of it
	devices map[string]*devRecord
	dirty   map[string]bool
	alerts  map[string]*contract.Alert // active (not cleared)
	held    map[string][]heldEvent
	asked   map[string]time.Time // device → when it was last asked to send again (see askResend)
	pruned  time.Time

	resendq chan *contract.Command // askResend's commands, for resendLoop

	seenMu sync.Mutex          // guards seen only; never held across I/O
	seen   map[string]seenNote // telemetry since the last foldSeen

	pendMu  sync.Mutex
	pending map[string]chan *contract.CommandAck

	client   paho.Client
	tele     paho.Client // the telemetry connection
	stopping atomic.Bool
	online   atomic.Bool // connected and subscribed, for Connected
	// runCtx is Run's context, for work started by paho callbacks, which
	// have none of their own. Set once in Run before the client connects.
	runCtx context.Context
	wg     sync.WaitGroup
	reqSem chan struct{}

	events chan queuedEvent // to eventLoop
	conn   atomic.Uint64    // counts lost connections: tells a queued event's connection

	readyOnce sync.Once
	ready     chan struct{} // closed once subscribed for the first time

	subs  subscribers // Subscribe's channels (local.go)
	peers peerCalls   // AskPeers' calls waiting for answers (peers.go)
}

// New returns a hub keeping its state in db, which the caller opens (with
// bbolt's Options.Timeout set) and closes after Run returned. opts must not
// be nil: Options.Broker is required.
func New(db *bolt.DB, cfg *config.Config, opts *Options) (*Hub, error) {
	if opts == nil || opts.Broker == "" {
		return nil, ErrNoBroker
	}
	o := *opts
	o.ensureDefaults(cfg)
	if o.Hubs > 1 && !cfg.SharedBroker {
		return nil, fmt.Errorf("hub: %d hubs share the broker, but the configuration is not marked \"shared_broker\"", o.Hubs)
	}
	out, err := outbox.Open(db, &outbox.Options{Prefix: "hub.outbox"})
	if err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	h := &Hub{
		db: db, cfg: cfg, opts: o, out: out,
		log:     o.Logger.With("component", "hub"),
		reqFns:  map[string]RequestFunc{},
		devFns:  map[string]DeviceFunc{},
		pending: map[string]chan *contract.CommandAck{},
		reqSem:  make(chan struct{}, 16),
		asked:   map[string]time.Time{},
		resendq: make(chan *contract.Command, 64),
		ready:   make(chan struct{}),
		seen:    map[string]seenNote{},
		events:  make(chan queuedEvent, 1024),
	}
	h.refusals = lograte.New(h.log, nil)
	if err := h.load(); err != nil {
		return nil, err
	}
	st, err := out.Stats()
	if err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	h.c.depth.Store(int64(st.Depth()))
	h.c.maxDepth.Store(int64(st.Depth()))
	h.HandleRequest(contract.OpAlertsList, h.opAlertsList)
	h.HandleRequest(contract.OpAlertAck, h.opAlertAck)
	h.HandleRequest(contract.OpDevices, h.opDevices)
	h.HandleRequest(contract.OpDeviceCmd, h.opDeviceCmd)
	return h, nil
}

// HandleRequest registers fn for request operation op, replacing any
// earlier one. Call it before Run.
func (h *Hub) HandleRequest(op string, fn RequestFunc) { h.reqFns[op] = fn }

// HandleDeviceMessage registers fn for decoded device messages on leaf
// (e.g. "report"). Call it before Run. The hub acknowledges the message to
// the broker after fn returns, whatever it returns; an error is logged and
// counted.
func (h *Hub) HandleDeviceMessage(leaf string, fn DeviceFunc) { h.devFns[leaf] = fn }

// Stats returns the hub's counters.
func (h *Hub) Stats() Stats {
	c := &h.c
	return Stats{
		Received: c.received.Load(), Malformed: c.malformed.Load(), TooLarge: c.tooLarge.Load(),
		BadVersion: c.badVersion.Load(), BadType: c.badType.Load(), Duplicates: c.duplicates.Load(),
		OutOfOrder: c.outOfOrder.Load(), Foreign: c.foreign.Load(), Held: c.held.Load(), Missing: c.missing.Load(),
		AlertsRaised: c.raised.Load(), AlertsCleared: c.cleared.Load(), Escalations: c.escalations.Load(),
		Acks: c.acks.Load(), Requests: c.requests.Load(), RequestErrors: c.requestErrors.Load(),
		HandlerErrors: c.handlerErrors.Load(), StoreErrors: c.storeErrors.Load(), Resends: c.resends.Load(),
		QueueDepth: int(c.depth.Load()), MaxQueueDepth: int(c.maxDepth.Load()),
		LinesSuppressed: h.refusals.Suppressed(),
	}
}

func (h *Hub) now() time.Time { return h.opts.Clock.Now() }

func (h *Hub) addDepth(n int) {
	d := h.c.depth.Add(int64(n))
	for {
		m := h.c.maxDepth.Load()
		if d <= m || h.c.maxDepth.CompareAndSwap(m, d) {
			return
		}
	}
}

// addBrokers adds each URL of the comma-separated list to o.
func addBrokers(o *paho.ClientOptions, list string) *paho.ClientOptions {
	for _, u := range strings.Split(list, ",") {
		if u = strings.TrimSpace(u); u != "" {
			o.AddBroker(u)
		}
	}
	return o
}

// Run connects to the broker and serves until ctx is done. Stopping does
// not acknowledge anything that was not committed, so a Run cut short at
// any point loses nothing. Run returns nil after ctx is done, or the error
// that stopped it.
func (h *Hub) Run(ctx context.Context) error {
	h.runCtx = ctx
	h.stopping.Store(false)
	o := addBrokers(paho.NewClientOptions(), h.opts.Broker).
		SetClientID(h.opts.ClientID).
		SetUsername(h.opts.Username).
		SetPassword(h.opts.Password).
		SetCleanSession(false).
		SetAutoAckDisabled(true).
		SetOrderMatters(true).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).
		SetMaxReconnectInterval(10 * time.Second).
		// A cluster node whose machine is off never refuses: give up on
		// it after 5 s, not paho's 30, and try the next one in the list.
		SetConnectTimeout(5 * time.Second).
		SetKeepAlive(30 * time.Second).
		// Bounds a Publish made while the connection is lost (paho's
		// default, 30 s, held a deposed hub's stop that long).
		SetWriteTimeout(5 * time.Second).
		SetProtocolVersion(4).
		SetDialer(h.dialer(5 * time.Second)).
		SetDefaultPublishHandler(h.onMessage).
		SetOnConnectHandler(h.onConnect).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			h.online.Store(false)
			h.log.Warn("broker connection lost", "error", err)
			// Held events were never acknowledged; the broker sends them
			// again on the resumed session. Acknowledging the old copies
			// on the new connection could acknowledge other messages that
			// reuse their packet ids.
			h.mu.Lock()
			clear(h.held)
			h.conn.Add(1)
			h.mu.Unlock()
		})
	if h.opts.TLS != nil {
		o.SetTLSConfig(h.opts.TLS)
	}
	h.client = paho.NewClient(o)
	if err := wait(ctx, h.client.Connect()); err != nil {
		h.client.Disconnect(0)
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("hub: connect %s: %w", h.opts.Broker, err)
	}
	h.log.Info("hub connected", "broker", h.opts.Broker, "client", h.opts.ClientID)
	if !h.opts.TelemetryFeed {
		h.tele = paho.NewClient(h.telemetryOptions())
		h.tele.Connect() // retries by itself; telemetry only refreshes last-seen
	}
	if err := h.publishAllAreas(); err != nil {
		h.log.Error("publish area alerts", "error", err)
	}
	h.wg.Add(4)
	go func() { defer h.wg.Done(); h.eventLoop(ctx) }()
	go func() { defer h.wg.Done(); h.sendLoop(ctx) }()
	go func() { defer h.wg.Done(); h.tickLoop(ctx) }()
	go func() { defer h.wg.Done(); h.resendLoop(ctx) }()
	<-ctx.Done()
	h.stopping.Store(true)
	h.online.Store(false)
	h.wg.Wait()
	h.refusals.Flush()
	h.mu.Lock()
	err := h.flush(0)
	h.mu.Unlock()
	if h.tele != nil {
		h.tele.Disconnect(0)
	}
	h.client.Disconnect(250)
	h.log.Info("hub stopped")
	if err != nil {
		return fmt.Errorf("hub: flush registry: %w", err)
	}
	return nil
}

// errStopped refuses a connection attempt of a hub that is stopping.
var errStopped = errors.New("hub: stopping: not connecting")

// dialer returns the dialer of the hub's connections: it refuses to
// connect once the hub is stopping or Options.MayConnect says no (paho
// reconnects by itself, from a goroutine of its own, until Disconnect).
func (h *Hub) dialer(timeout time.Duration) *net.Dialer {
	return &net.Dialer{Timeout: timeout, Control: func(_, _ string, _ syscall.RawConn) error {
		if h.stopping.Load() || h.runCtx.Err() != nil {
			return errStopped
		}
		if h.opts.MayConnect != nil {
			return h.opts.MayConnect()
		}
		return nil
	}}
}

func wait(ctx context.Context, tok paho.Token) error {
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// subscriptions of the hub's main connection. Telemetry has a connection
// of its own: see telemetry.go.
func subscriptions() map[string]byte {
	r := contract.Root
	return map[string]byte{
		r + "/dev/+/birth":  1,
		r + "/dev/+/death":  1,
		r + "/dev/+/state":  1,
		r + "/dev/+/event":  1,
		r + "/dev/+/report": 1,
		r + "/dev/+/cmdack": 1,
		r + "/hub/req/+":    1,
	}
}

func (h *Hub) onConnect(c paho.Client) {
	// A persistent session of an older hub may still hold the telemetry
	// subscription; telemetry on this connection would delay events.
	c.Unsubscribe(telemetryFilter())
	tok := c.SubscribeMultiple(subscriptions(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := wait(ctx, tok); err != nil {
		h.log.Error("subscribe", "error", err)
		return
	}
	if tok := h.subscribePeers(c); tok != nil {
		if err := wait(ctx, tok); err != nil {
			h.log.Error("subscribe to the other hubs", "error", err)
			return
		}
	}
	h.log.Debug("subscribed")
	h.online.Store(true)
	h.readyOnce.Do(func() { close(h.ready) })
}

// Connected reports whether the hub is connected to the broker and
// subscribed now (Ready only tells that it was once). Safe to call from
// any goroutine; /readyz asks it.
func (h *Hub) Connected() bool { return h.online.Load() }

// Ready returns a channel closed once Run has connected and subscribed.
func (h *Hub) Ready() <-chan struct{} { return h.ready }

func (h *Hub) tickLoop(ctx context.Context) {
	t := time.NewTicker(h.opts.Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.tick()
		}
	}
}

// tick runs the periodic work: release held events, escalate, flush the
// registry, prune old event ids.
func (h *Hub) tick() {
	h.mu.Lock()
	h.foldSeen()
	var acks []func()
	for dev := range h.held {
		acks = append(acks, h.drainHeld(nil, dev)...)
		if _, still := h.held[dev]; still {
			h.askResend(dev)
		}
	}
	h.escalateDue()
	if err := h.flush(flushMax); err != nil {
		h.c.storeErrors.Add(1)
		h.log.Error("flush registry", "error", err)
	}
	if now := h.now(); now.Sub(h.pruned) > time.Hour {
		h.pruned = now
		if err := h.prune(now); err != nil {
			h.log.Error("prune event ids", "error", err)
		}
	}
	h.mu.Unlock()
	for _, a := range acks {
		a()
	}
}
