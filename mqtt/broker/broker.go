package broker

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	bbolt "go.etcd.io/bbolt"

	"linli/internal/lograte"
	"linli/mqtt/contract"
)

// Options configures a Server. The zero value of a field means its default.
type Options struct {
	// Listen is the TCP address of the plain MQTT listener, e.g.
	// "127.0.0.1:1883"; port 0 picks a free port (see Server.Addr). Empty
	// means no plain listener.
	Listen string
	// TLSListen is the address of the MQTT-over-TLS listener; empty means
	// none. CertFile and KeyFile are then required; with CAFile set, clients
	// must present a certificate signed by that CA.
	TLSListen string
	CertFile  string
	KeyFile   string
	CAFile    string
	// DataDir keeps the broker's bbolt file (broker.db): sessions,
	// subscriptions, in-flight and retained messages. Empty means memory only.
	DataDir string
	// Accounts checks logins and gives each client its role. Required.
	Accounts Accounts
	// MaxPacketSize is the largest MQTT packet accepted, in bytes; a client
	// sending a larger one is disconnected. Default 256 KiB.
	MaxPacketSize uint32
	// Admit, when not nil, keeps every account but hub and admin out until
	// it is closed: gridhub closes it once its session is subscribed, so
	// that on the very first start no device publishes into a broker that
	// has nobody to keep its messages for. Refused clients retry.
	Admit <-chan struct{}
	// Telemetry, when not nil, is called with every telemetry message the
	// broker accepts (a device's publish to its dev/ID/telemetry topic),
	// on the publishing client's goroutine: it must be quick and must not
	// block. gridhub reads telemetry this way from its embedded broker
	// instead of through a subscription: one delivery (a write, a read and
	// a parse of every message on a loopback connection) less per device
	// a second.
	Telemetry func(topic string, payload []byte)
	// MaxQueued is how many messages the broker queues for one client's
	// connection before it drops what comes next for it (mochi's
	// MaximumClientWritesPending; default 8,192). A dropped QoS 1
	// message is lost for that session: the publisher already has its
	// PUBACK. Each client's queue is allocated whole when it connects,
	// 8 bytes a place: 64 KiB a client at the default.
	MaxQueued int
	// DeviceQueue is the send queue of a device's connection (RoleDevice:
	// a meter box, which takes a command now and then and firmware
	// blocks a window, 64, at a time); default DefaultDeviceQueue. At
	// thousands of devices MaxQueued's 64 KiB a connection was most of
	// the broker's memory and of its garbage collector's work.
	DeviceQueue int
	// WriteTimeout closes the connection of a client that takes no byte
	// the broker sends it for this long (it stopped reading: a stuck
	// tool, a dead link, or on purpose), so that it cannot hold up the
	// publishers of the topics it subscribes to. Its session stays.
	// Default DefaultWriteTimeout.
	WriteTimeout time.Duration
	// Logger receives the broker's log lines. Default slog.Default().
	Logger *slog.Logger
}

// DefaultMaxPacketSize is the default of Options.MaxPacketSize.
const DefaultMaxPacketSize = 256 << 10

// Stats counts what the broker refused. ConnectsRefused is the sum of the
// Refused* fields; each refusal is counted exactly, even when its log line
// is only summarised (see package internal/lograte).
type Stats struct {
	ConnectsRefused  uint64 // every refused connection but the deferred ones
	RefusedLogin     uint64 // wrong user or password
	RefusedWill      uint64 // a will on a topic the account may not publish
	RefusedClientID  uint64 // a client id of another account (see ClientIDAllowed)
	ConnectsDeferred uint64 // refused because Options.Admit is not closed yet
	PublishDenied    uint64 // publishes on a topic the client may not use
	SubscribeDenied  uint64 // subscriptions to a filter the client may not read
	DeliveriesDenied uint64 // messages not delivered to a subscriber not allowed to read them
	// DeliveriesDropped counts messages dropped for a subscriber that
	// reads too slowly: its send queue (Options.MaxQueued, or DeviceQueue
	// for a device) or its store of unacknowledged QoS 1 messages (8,192)
	// was full. Each is lost for that subscriber's session; one to the
	// hub may be an alarm.
	DeliveriesDropped uint64
	// ClientsStalled counts connections closed because the client took
	// nothing the broker sent for Options.WriteTimeout.
	ClientsStalled  uint64
	LinesSuppressed uint64 // refusal log lines counted into a summary instead of written
	StoreErrors     uint64 // failed commits of the session store (Options.DataDir)
}

// Errors returned by New.
var (
	// ErrNoAccounts means Options.Accounts is nil.
	ErrNoAccounts = errors.New("broker: no accounts")
	// ErrNoListener means neither Listen nor TLSListen is set.
	ErrNoListener = errors.New("broker: no listener")
)

// Server is the embedded broker.
type Server struct {
	opts    Options
	log     *slog.Logger
	mochi   *mqtt.Server
	auth    *authHook
	store   *storeHook // nil without DataDir
	drops   *dropHook
	stalled atomic.Uint64 // connections the listeners closed (see listener)

	mu   sync.Mutex
	addr map[string]string // listener id → bound address
}

// New builds a broker from opts; it does not listen until Run.
func New(opts *Options) (*Server, error) {
	if opts == nil || opts.Accounts == nil {
		return nil, ErrNoAccounts
	}
	o := *opts
	if o.Listen == "" && o.TLSListen == "" {
		return nil, ErrNoListener
	}
	if o.MaxPacketSize == 0 {
		o.MaxPacketSize = DefaultMaxPacketSize
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	log := o.Logger.With("component", "broker")
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumPacketSize = o.MaxPacketSize
	if o.MaxQueued > 0 {
		caps.MaximumClientWritesPending = int32(min(o.MaxQueued, math.MaxInt32))
	}
	if o.DeviceQueue <= 0 {
		o.DeviceQueue = DefaultDeviceQueue
	}
	var qs *queues
	if dq := int32(min(o.DeviceQueue, math.MaxInt32)); dq != caps.MaximumClientWritesPending {
		qs = &queues{caps: caps, accounts: o.Accounts, device: dq, other: caps.MaximumClientWritesPending, maxSize: int(o.MaxPacketSize), log: log}
	}
	m := mqtt.New(&mqtt.Options{
		Capabilities:           caps,
		Logger:                 slog.New(&mochiHandler{next: log.Handler()}),
		InlineClient:           true,
		SysTopicResendInterval: 60,
	})
	s := &Server{opts: o, log: log, mochi: m, addr: map[string]string{}}
	s.auth = &authHook{accounts: o.Accounts, log: log, admit: o.Admit, srv: m, limit: lograte.New(log, nil)}
	if err := m.AddHook(s.auth, nil); err != nil {
		return nil, fmt.Errorf("broker: auth hook: %w", err)
	}
	s.drops = &dropHook{limit: lograte.New(log, nil)}
	if err := m.AddHook(s.drops, nil); err != nil {
		return nil, fmt.Errorf("broker: drop hook: %w", err)
	}
	if o.DataDir != "" {
		if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("broker: data dir: %w", err)
		}
		st, err := openStore(filepath.Join(o.DataDir, "broker.db"), &bbolt.Options{Timeout: 2 * time.Second}, log)
		if err != nil {
			return nil, err
		}
		s.store = st
		if err := m.AddHook(st, nil); err != nil {
			_ = st.Stop()
			return nil, fmt.Errorf("broker: storage: %w", err)
		}
		if err := m.AddHook(&durableHook{srv: m}, nil); err != nil {
			return nil, fmt.Errorf("broker: durable hook: %w", err)
		}
	}
	if o.Telemetry != nil {
		if err := m.AddHook(&tapHook{fn: o.Telemetry}, nil); err != nil {
			return nil, fmt.Errorf("broker: telemetry hook: %w", err)
		}
	}
	stalled := func(remote string) {
		s.stalled.Add(1)
		s.drops.limit.Log(context.Background(), slog.LevelWarn, remote, "stalled",
			"client disconnected: it took nothing the broker sent for too long (it stopped reading)", "remote", remote, "timeout", o.WriteTimeout)
	}
	if o.Listen != "" {
		if err := m.AddListener(&listener{id: "tcp", address: o.Listen, timeout: o.WriteTimeout, stalled: stalled, queues: qs, log: log}); err != nil {
			return nil, fmt.Errorf("broker: listen: %w", err)
		}
	}
	if o.TLSListen != "" {
		tc, err := tlsConfig(o.CertFile, o.KeyFile, o.CAFile)
		if err != nil {
			return nil, err
		}
		if err := m.AddListener(&listener{id: "tls", address: o.TLSListen, tls: tc, timeout: o.WriteTimeout, stalled: stalled, queues: qs, log: log}); err != nil {
			return nil, fmt.Errorf("broker: tls listen: %w", err)
		}
	}
	return s, nil
}

func tlsConfig(certFile, keyFile, caFile string) (*tls.Config, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("broker: tls listener needs a certificate and a key")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("broker: tls key pair: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("broker: tls ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("broker: tls ca: no certificate in %s", caFile)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// Start opens the listeners and restores stored sessions. It returns once
// the broker accepts connections; Addr is valid after it. Call Close to
// stop. Run is Start, wait for ctx, Close.
func (s *Server) Start() error {
	if err := s.mochi.Serve(); err != nil {
		return fmt.Errorf("broker: serve: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range []string{"tcp", "tls"} {
		if l, ok := s.mochi.Listeners.Get(id); ok {
			s.addr[id] = l.Address()
		}
	}
	s.log.Info("broker listening", "tcp", s.addr["tcp"], "tls", s.addr["tls"], "data", s.opts.DataDir)
	return nil
}

// Close disconnects every client, closes the listeners and the store.
// Persistent sessions stay on disk.
func (s *Server) Close() error {
	err := s.mochi.Close()
	s.auth.limit.Flush()
	s.log.Info("broker stopped")
	return err
}

// Run serves until ctx is done, then closes the broker. It returns nil
// after a clean shutdown.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	return s.Close()
}

// Addr returns the bound address of the plain listener ("" before Start or
// without one); TLSAddr that of the TLS listener.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr["tcp"]
}

// TLSAddr returns the bound address of the TLS listener.
func (s *Server) TLSAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr["tls"]
}

// Stats returns the refusal counters.
func (s *Server) Stats() Stats {
	a := s.auth
	var storeErrs uint64
	if s.store != nil {
		storeErrs = s.store.errs.Load()
	}
	return Stats{
		StoreErrors:       storeErrs,
		ConnectsRefused:   a.refusedLogin.Load() + a.refusedWill.Load() + a.refusedID.Load(),
		RefusedLogin:      a.refusedLogin.Load(),
		RefusedWill:       a.refusedWill.Load(),
		RefusedClientID:   a.refusedID.Load(),
		ConnectsDeferred:  a.deferred.Load(),
		PublishDenied:     a.pubDenied.Load(),
		SubscribeDenied:   a.subDenied.Load(),
		DeliveriesDenied:  a.delivDenied.Load(),
		ClientsStalled:    s.stalled.Load(),
		DeliveriesDropped: s.drops.n.Load() + uint64(max(atomic.LoadInt64(&s.mochi.Info.InflightDropped), 0)),
		LinesSuppressed:   a.limit.Suppressed() + s.drops.limit.Suppressed(),
	}
}

// authHook checks logins, client ids and ACLs against Accounts.
type authHook struct {
	mqtt.HookBase
	accounts Accounts
	log      *slog.Logger
	limit    *lograte.Limiter // refusal lines, per user and reason
	admit    <-chan struct{}
	srv      *mqtt.Server

	// passed holds the clients OnConnect let through, for
	// OnConnectAuthenticate (mochi calls it right after OnConnect).
	passed sync.Map // *mqtt.Client → struct{}

	refusedLogin, refusedWill, refusedID, deferred, pubDenied, subDenied, delivDenied atomic.Uint64
}

func (h *authHook) ID() string { return "linli-auth" }

func (h *authHook) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnSubscribe}, []byte{b})
}

// warn writes a refusal line through the rate limiter.
func (h *authHook) warn(user, reason, msg string, args ...any) {
	h.limit.Log(context.Background(), slog.LevelWarn, user, reason, msg, args...)
}

// OnConnect checks the login, the will and the client id before mochi looks
// at the client id, so that a refused client never takes over another's
// connection or session. A wrong login is left to OnConnectAuthenticate
// (mochi answers "bad user name or password", 3.1.1's "not authorized"); a
// forbidden will or client id is answered here with "not authorized" or
// "client identifier not valid", a deferred one with "server unavailable".
func (h *authHook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	user := string(pk.Connect.Username)
	acc, ok := h.accounts.Authenticate(user, pk.Connect.Password)
	if !ok {
		h.refusedLogin.Add(1)
		h.warn(user, "login", "connect refused: bad user or password", "user", user, "client", cl.ID, "remote", cl.Net.Remote)
		return nil
	}
	if h.admit != nil && acc.Role != RoleHub && acc.Role != RoleAdmin {
		select {
		case <-h.admit:
		default:
			h.deferred.Add(1)
			h.log.Info("connect deferred: the hub is not subscribed yet", "user", user, "client", cl.ID)
			return h.refuse(cl, packets.ErrServerUnavailable) // "server unavailable": retry later
		}
	}
	if pk.Connect.WillFlag && !Allowed(acc, pk.Connect.WillTopic, true) {
		h.refusedWill.Add(1)
		h.warn(user, "will", "connect refused: will topic not allowed", "user", user, "client", cl.ID, "topic", pk.Connect.WillTopic)
		return h.refuse(cl, packets.ErrNotAuthorized)
	}
	if !clientIDFor(h.accounts, acc, cl.ID) {
		h.refusedID.Add(1)
		h.warn(user, "client-id", "connect refused: client id of another account", "user", user, "client", cl.ID, "remote", cl.Net.Remote)
		return h.refuse(cl, packets.ErrClientIdentifierNotValid)
	}
	if old, ok := h.srv.Clients.Get(cl.ID); ok && string(old.Properties.Username) != user {
		// A session left by an account that no longer owns the id (a
		// changed configuration): never hand it to another account.
		h.refusedID.Add(1)
		h.warn(user, "client-id", "connect refused: client id holds another account's session", "user", user, "client", cl.ID, "owner", string(old.Properties.Username))
		return h.refuse(cl, packets.ErrClientIdentifierNotValid)
	}
	h.passed.Store(cl, struct{}{})
	return nil
}

// refuse answers cl's CONNECT with code; mochi then closes the connection
// without touching the client id's session.
func (h *authHook) refuse(cl *mqtt.Client, code packets.Code) error {
	if code == packets.ErrNotAuthorized && cl.Properties.ProtocolVersion < 5 {
		code = packets.ErrBadUsernameOrPassword // sent as 3.1.1's "not authorized"
	}
	if err := h.srv.SendConnack(cl, code, false, nil); err != nil {
		return fmt.Errorf("broker: refuse %s: %w", cl.ID, err)
	}
	return code
}

// OnConnectAuthenticate lets in the clients OnConnect passed.
func (h *authHook) OnConnectAuthenticate(cl *mqtt.Client, _ packets.Packet) bool {
	_, ok := h.passed.LoadAndDelete(cl)
	return ok
}

func (h *authHook) account(cl *mqtt.Client) (Account, bool) {
	return h.accounts.Lookup(string(cl.Properties.Username))
}

// OnSubscribe counts and logs denied filters; mochi then answers them with
// "not authorized" after its own OnACLCheck.
func (h *authHook) OnSubscribe(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	if cl.Net.Inline {
		return pk
	}
	acc, ok := h.account(cl)
	for _, f := range pk.Filters {
		if !ok || !Allowed(acc, f.Filter, false) {
			h.subDenied.Add(1)
			h.warn(acc.ID, "subscribe", "subscribe denied", "user", acc.ID, "client", cl.ID, "filter", f.Filter)
		}
	}
	return pk
}

func (h *authHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if cl.Net.Inline {
		return true
	}
	acc, ok := h.account(cl)
	if ok && Allowed(acc, topic, write) {
		return true
	}
	if write {
		h.pubDenied.Add(1)
		h.warn(acc.ID, "publish", "publish denied", "user", acc.ID, "client", cl.ID, "topic", topic)
	} else if topic != "" && !isFilter(topic) {
		// A delivery check (subscribe checks are counted in OnSubscribe).
		h.delivDenied.Add(1)
	}
	return false
}

func isFilter(s string) bool { return bytes.ContainsAny([]byte(s), "+#") }

// durableHook makes mochi queue a QoS > 0 publish for its subscribers (and
// so write it to the store for persistent sessions) before it sends the
// PUBACK: it re-publishes the message through the inline client and tells
// mochi to acknowledge the original without delivering it again.
type durableHook struct {
	mqtt.HookBase
	srv *mqtt.Server
}

func (h *durableHook) ID() string { return "linli-durable" }

func (h *durableHook) Provides(b byte) bool { return b == mqtt.OnPublish }

func (h *durableHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline || pk.FixedHeader.Qos == 0 || pk.FixedHeader.Type != packets.Publish {
		return pk, nil
	}
	if err := h.srv.Publish(pk.TopicName, pk.Payload, pk.FixedHeader.Retain, pk.FixedHeader.Qos); err != nil {
		// Fall back to mochi's own path.
		return pk, nil
	}
	return pk, packets.CodeSuccessIgnore
}

// dropHook counts and logs the messages mochi drops for a subscriber
// whose send queue is full. mochi v2.7.9 drops them silently (a counter
// in its $SYS info), after the publisher had its PUBACK: for the hub's
// session that is an event the hub must ask its device for again
// (contract.CmdResend), for a worker's an alert it never sees, so it is
// an ERROR.
type dropHook struct {
	mqtt.HookBase
	n     atomic.Uint64
	limit *lograte.Limiter // per client; the listeners' stall lines use it too
}

func (h *dropHook) ID() string { return "linli-drops" }

func (h *dropHook) Provides(b byte) bool { return b == mqtt.OnPublishDropped }

func (h *dropHook) OnPublishDropped(cl *mqtt.Client, pk packets.Packet) {
	h.n.Add(1)
	level := slog.LevelWarn
	if pk.FixedHeader.Qos > 0 {
		level = slog.LevelError
	}
	h.limit.Log(context.Background(), level, cl.ID, "queue-full",
		"message dropped: the client reads too slowly and its send queue is full; it never gets this message",
		"client", cl.ID, "topic", pk.TopicName, "qos", pk.FixedHeader.Qos)
}

// tapHook hands every accepted telemetry message to Options.Telemetry.
// mochi calls OnPublished after the ACL check and the delivery.
type tapHook struct {
	mqtt.HookBase
	fn func(topic string, payload []byte)
}

func (h *tapHook) ID() string { return "linli-telemetry" }

func (h *tapHook) Provides(b byte) bool { return b == mqtt.OnPublished }

func (h *tapHook) OnPublished(_ *mqtt.Client, pk packets.Packet) {
	if strings.HasPrefix(pk.TopicName, contract.Root+"/dev/") && strings.HasSuffix(pk.TopicName, "/telemetry") {
		h.fn(pk.TopicName, pk.Payload)
	}
}

var _ io.Closer = (*Server)(nil)
