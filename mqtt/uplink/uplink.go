package uplink

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"linli/mqtt/contract"
	"linli/mqtt/outbox"
)

// Errors of the uplink.
var (
	// ErrNotConnected means a direct publish was asked for while no
	// connection is up.
	ErrNotConnected = errors.New("uplink: not connected")
	// ErrRefused means the broker refused the connection (bad user name or
	// password, not authorised, client id rejected, …). The uplink keeps
	// retrying with back-off.
	ErrRefused = errors.New("uplink: connection refused by broker")
	// ErrAckTimeout means the broker did not acknowledge a publish within
	// Options.AckTimeout; the connection is dropped and made again.
	ErrAckTimeout = errors.New("uplink: no acknowledgement from broker")
	// ErrConnLost means the connection went down.
	ErrConnLost = errors.New("uplink: connection lost")
	// ErrRunning means Run was called while another Run is active.
	ErrRunning = errors.New("uplink: already running")
)

// Subscription is an extra topic the uplink subscribes to on every connect
// (a kiosk's area alerts, tickets, notices).
type Subscription struct {
	Topic string // topic filter, may hold + and #
	QoS   byte
	// Handle is called with each message, one at a time and in the order
	// they arrived, from a goroutine owned by Run (not from paho's). When
	// it is slower than the messages arrive, up to 256 wait; beyond that
	// messages are dropped and logged.
	Handle func(topic string, payload []byte)
}

// Clock is the time seam of the back-off: tests replace it so that they do
// not sleep. Network timeouts (ConnectTimeout, AckTimeout) use real time.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Options configures an Uplink. The zero value of a field means its default.
type Options struct {
	// Broker is the broker's URL: tcp://host:port, ssl://host:port (TLS;
	// also tls://, mqtts://), ws://host:port/path or wss://. Required. A
	// comma-separated list names the nodes of a cluster (all plain, all
	// TLS or all websocket): each connection tries them in turn, starting
	// after the node of the previous connection, so a device whose node
	// dies resumes its session on the next one.
	Broker string
	// ClientID is the MQTT client id and the device id of every topic.
	// Required, a valid contract id.
	ClientID string
	// Username and Password authenticate the device; empty means none.
	Username, Password string
	// CAFile is a PEM file of the CAs that sign the broker's certificate;
	// empty means the system roots. CertFile and KeyFile are the device's
	// PEM client certificate and key; empty means none.
	CAFile, CertFile, KeyFile string
	// TLSConfig, when set, is used as the base TLS configuration (cloned);
	// the files above are added to it.
	TLSConfig *tls.Config

	// Birth builds the birth message at every connect; the uplink sets its
	// Session (and Device when empty). Required.
	Birth func(session uint32) *contract.Birth
	// State builds the device's state; nil means no state is published.
	// It is published retained after the birth and by PublishState.
	State func(session uint32) *contract.DeviceState
	// OnCommand runs a command received on DeviceTopic(id, "cmd"), other
	// than "rebirth", which the uplink handles. It is called from one
	// goroutine owned by Run, one command at a time, with Run's context.
	// It returns the ack to publish; nil means OK. The uplink fills in the
	// ack's ID and Device. nil OnCommand answers every such command with
	// OK false, "not supported".
	OnCommand func(ctx context.Context, c *contract.Command) *contract.CommandAck
	// Subscriptions are extra topics subscribed on every connect.
	Subscriptions []Subscription

	// Window is the maximum number of outbox publishes awaiting their
	// PUBACK; after a connection fails, up to that many may reach the
	// receiver twice. Default 1024: with 256, draining a backlog cost
	// about 15 % more CPU per item (the sender parked and woke for every
	// few acknowledgements; see BenchmarkBacklogDrain).
	Window int
	// MinBackoff and MaxBackoff bound the reconnect delay (see package
	// doc). Defaults 500ms and 30s.
	MinBackoff, MaxBackoff time.Duration
	// ConnectTimeout bounds dialling plus the MQTT handshake. Default 10s.
	ConnectTimeout time.Duration
	// AckTimeout bounds the wait for a PUBACK or SUBACK; when it expires
	// the connection is dropped and made again. Default 20s.
	AckTimeout time.Duration
	// KeepAlive is the MQTT keep-alive interval. Default 30s.
	KeepAlive time.Duration
	// DedupCommands is how many command ids are remembered to answer
	// redeliveries without running them again. Default 256.
	DedupCommands int

	// Logger receives the uplink's logs; nil means slog.Default().
	Logger *slog.Logger `yaml:"-"`
	// Clock is the back-off's time; nil means real time.
	Clock Clock `yaml:"-"`
	// Rand returns a number in [0, 1) for the back-off jitter; nil means
	// math/rand/v2.
	Rand func() float64 `yaml:"-"`
}

// DefaultOptions holds the defaults of the tunables.
var DefaultOptions = Options{
	Window:         1024,
	MinBackoff:     500 * time.Millisecond,
	MaxBackoff:     30 * time.Second,
	ConnectTimeout: 10 * time.Second,
	AckTimeout:     20 * time.Second,
	KeepAlive:      30 * time.Second,
	DedupCommands:  256,
}

func (o *Options) ensureDefaults() {
	d := DefaultOptions
	if o.Window <= 0 {
		o.Window = d.Window
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = d.MinBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = d.MaxBackoff
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = d.ConnectTimeout
	}
	if o.AckTimeout <= 0 {
		o.AckTimeout = d.AckTimeout
	}
	if o.KeepAlive <= 0 {
		o.KeepAlive = d.KeepAlive
	}
	if o.DedupCommands <= 0 {
		o.DedupCommands = d.DedupCommands
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
}

// Stats is a snapshot of the uplink's counters.
type Stats struct {
	Connected   bool
	Session     uint32 // session number of the current or last connection
	Reconnects  uint64 // successful connections after the first
	Published   uint64 // outbox items acknowledged by the broker
	QueueDepth  int    // items waiting in the outbox
	Dropped     uint64 // telemetry dropped by the outbox bound, ever
	Corrupt     uint64 // unreadable outbox items set aside, ever
	BadCommands uint64 // commands refused as malformed, unknown or oversized
	LastError   string // the last connection or delivery error
}

// Uplink is a device's MQTT connection. Create it with New and run it with
// Run; its other methods are safe for concurrent use.
type Uplink struct {
	db   *bolt.DB
	ob   *outbox.Outbox
	opts Options
	log  *slog.Logger
	tls  *tls.Config // nil for plain connections

	cmdTopic string
	brokers  []string // Options.Broker split
	first    int      // index in brokers tried first; only serve uses it

	running atomic.Bool

	mu      sync.Mutex
	cur     *conn         // the connection ready for direct publishes, or nil
	up      chan struct{} // closed while cur != nil
	session uint32
	lastErr string
	conns   uint64

	published   atomic.Uint64
	badCommands atomic.Uint64

	cmdq chan []byte
	subq chan inbound
	dd   dedup
}

type inbound struct {
	sub     *Subscription
	topic   string
	payload []byte
}

var bucketName = []byte("uplink")
var keySession = []byte("session")

// New returns an uplink for the device opts.ClientID that drains ob. db is
// the bbolt file holding ob; the session counter is kept in its bucket
// "uplink". It reads the TLS files, so a missing or bad file is an error
// here and not a reason to retry. opts must not be nil.
func New(db *bolt.DB, ob *outbox.Outbox, opts *Options) (*Uplink, error) {
	if opts == nil {
		return nil, errors.New("uplink: nil options")
	}
	u := &Uplink{db: db, ob: ob, opts: *opts, up: make(chan struct{})}
	u.opts.ensureDefaults()
	o := &u.opts
	switch {
	case db == nil || ob == nil:
		return nil, errors.New("uplink: nil db or outbox")
	case !contract.ValidID(o.ClientID):
		return nil, fmt.Errorf("uplink: bad client id %q", o.ClientID)
	case o.Birth == nil:
		return nil, errors.New("uplink: Options.Birth is required")
	}
	kind := ""
	for _, b := range strings.Split(o.Broker, ",") {
		b = strings.TrimSpace(b)
		bu, err := url.Parse(b)
		if err != nil || bu.Host == "" {
			return nil, fmt.Errorf("uplink: bad broker url %q", b)
		}
		k := ""
		switch bu.Scheme {
		case "tcp", "mqtt":
			k = "plain"
		case "ws":
			k = "ws"
		case "ssl", "tls", "mqtts", "tcps":
			k = "tls"
		case "wss":
			k = "wss"
		default:
			return nil, fmt.Errorf("uplink: unsupported broker scheme %q", bu.Scheme)
		}
		if kind != "" && k != kind {
			return nil, fmt.Errorf("uplink: broker list %q mixes %s and %s urls", o.Broker, kind, k)
		}
		kind = k
		u.brokers = append(u.brokers, b)
	}
	if kind == "tls" || kind == "wss" {
		var err error
		if u.tls, err = loadTLS(o); err != nil {
			return nil, err
		}
	}
	for i, s := range o.Subscriptions {
		if s.Topic == "" || s.Handle == nil || s.QoS > 2 {
			return nil, fmt.Errorf("uplink: bad subscription %d (%q)", i, s.Topic)
		}
	}
	u.log = o.Logger.With("component", "uplink", "device", o.ClientID)
	u.cmdTopic = contract.DeviceTopic(o.ClientID, "cmd")
	u.cmdq = make(chan []byte, 64)
	u.subq = make(chan inbound, 256)
	u.dd = newDedup(o.DedupCommands)
	err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketName)
		if err != nil {
			return err
		}
		if v := b.Get(keySession); len(v) == 4 {
			u.session = binary.BigEndian.Uint32(v)
		} else {
			// A new file: start above what a lost one may have used.
			u.session = contract.FirstCounter(u.opts.Clock.Now())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("uplink: open session counter: %w", err)
	}
	return u, nil
}

func loadTLS(o *Options) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.TLSConfig != nil {
		c = o.TLSConfig.Clone()
	}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("uplink: read CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("uplink: no certificate in CA file %s", o.CAFile)
		}
		c.RootCAs = pool
	}
	if o.CertFile != "" || o.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("uplink: load client certificate: %w", err)
		}
		c.Certificates = append(c.Certificates, cert)
	}
	return c, nil
}

// Stats returns the uplink's counters. QueueDepth, Dropped and Corrupt are
// read from the outbox (a short bbolt read transaction).
func (u *Uplink) Stats() Stats {
	u.mu.Lock()
	s := Stats{
		Connected: u.cur != nil,
		Session:   u.session,
		LastError: u.lastErr,
	}
	if u.conns > 1 {
		s.Reconnects = u.conns - 1
	}
	u.mu.Unlock()
	s.Published = u.published.Load()
	s.BadCommands = u.badCommands.Load()
	if qs, err := u.ob.Stats(); err == nil {
		s.QueueDepth = qs.Depth()
		s.Dropped = qs.Dropped
		s.Corrupt = qs.Corrupt
	}
	return s
}

func (u *Uplink) setErr(err error) {
	u.mu.Lock()
	u.lastErr = err.Error()
	u.mu.Unlock()
}

// Run connects and keeps the device connected until ctx is done: it
// reconnects with back-off, publishes the birth on every connection,
// drains the outbox and runs commands. It returns nil once ctx is done,
// after publishing a clean Death if it was connected and waiting for its
// goroutines. It returns ErrRunning if another Run is active.
func (u *Uplink) Run(ctx context.Context) error {
	if !u.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer u.running.Store(false)

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); u.commandWorker(ctx) }()
	go func() { defer wg.Done(); u.subscriptionWorker(ctx) }()
	defer wg.Wait()

	attempt := 0
	for {
		start := u.opts.Clock.Now()
		connected, err := u.serve(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if connected && u.opts.Clock.Now().Sub(start) >= u.opts.MaxBackoff {
			attempt = 0
		}
		attempt++
		d := backoff(attempt, u.opts.MinBackoff, u.opts.MaxBackoff, u.opts.Rand())
		if err == nil {
			err = ErrConnLost
		}
		u.setErr(err)
		u.log.Warn("uplink: connection failed", "attempt", attempt, "next", d, "err", err)
		select {
		case <-u.opts.Clock.After(d):
		case <-ctx.Done():
			return nil
		}
	}
}

// backoff returns the delay before attempt n (1-based): a random duration in
// [b/2, b] with b = min(max, min·2^(n-1)); r is in [0, 1).
func backoff(n int, min, max time.Duration, r float64) time.Duration {
	b := min
	for i := 1; i < n && b < max; i++ {
		b *= 2
	}
	if b > max {
		b = max
	}
	return b/2 + time.Duration(r*float64(b/2))
}

// client waits until a connection other than not is ready, or ctx is done.
func (u *Uplink) client(ctx context.Context, not *conn) (*conn, error) {
	for {
		u.mu.Lock()
		c, up := u.cur, u.up
		u.mu.Unlock()
		if c != nil && c != not {
			return c, nil
		}
		if c != nil { // the one that failed, not yet torn down
			select {
			case <-c.lost:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			u.setReadyNilIf(c)
			continue
		}
		select {
		case <-up:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// setReadyNilIf clears cur if it still is c.
func (u *Uplink) setReadyNilIf(c *conn) {
	u.mu.Lock()
	stale := u.cur == c
	u.mu.Unlock()
	if stale {
		u.setReady(nil)
	}
}

func (u *Uplink) setReady(c *conn) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if c != nil {
		u.cur = c
		close(u.up)
		return
	}
	if u.cur != nil {
		u.cur = nil
		u.up = make(chan struct{})
	}
}

// Publish publishes payload on topic directly, not through the outbox, and
// waits for the broker's acknowledgement (QoS 1, 2) or the write (QoS 0). It
// returns ErrNotConnected at once when no connection is up.
func (u *Uplink) Publish(ctx context.Context, topic string, payload []byte, qos byte, retain bool) error {
	u.mu.Lock()
	c := u.cur
	u.mu.Unlock()
	if c == nil {
		return ErrNotConnected
	}
	return c.publish(ctx, topic, payload, qos, retain)
}

// PublishState builds Options.State and publishes it, retained, QoS 1. It
// does nothing when Options.State is nil and returns ErrNotConnected when no
// connection is up.
func (u *Uplink) PublishState(ctx context.Context) error {
	if u.opts.State == nil {
		return nil
	}
	u.mu.Lock()
	c := u.cur
	u.mu.Unlock()
	if c == nil {
		return ErrNotConnected
	}
	return c.publishState(ctx)
}
