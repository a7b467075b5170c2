package natsbroker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"linli/internal/freeport"
	"linli/mqtt/broker"
)

// DefaultAckWait is the default of Options.AckWait: below the hub's
// reorder window, so that a message a dead node had in flight reaches the
// hub again before the hub gives up waiting for it.
const DefaultAckWait = 2 * time.Second

// Options configures a Server. The zero value of a field means its default.
type Options struct {
	// Name is the node's server name, unique in its cluster; JetStream's
	// Raft groups know a node by it, so it must stay the same across
	// restarts. Default "linli".
	Name string
	// MQTTListen is the address of the MQTT listener, default
	// "127.0.0.1:1883". Port 0 picks a free port once, in New, so that a
	// restarted Server (same Options, see Server.Options) listens on it
	// again.
	MQTTListen string
	// Listen is the address of the NATS client listener (nats.go clients,
	// the `nats` CLI), default "127.0.0.1:4222"; port 0 as for MQTTListen.
	Listen string
	// ClusterListen is the address peers route to ("0.0.0.0:6222"); empty
	// means a node on its own. Port 0 as for MQTTListen.
	ClusterListen string
	// ClusterName names the cluster; every node must agree. Default "linli".
	ClusterName string
	// Routes are the peers' cluster URLs, "nats-route://host:6222". A node
	// may list itself: every node of a cluster can be given the same list.
	Routes []string
	// Replicas is the number of copies of the MQTT streams (sessions, QoS 1
	// messages, retained messages). Default 3 in a cluster, 1 alone.
	Replicas int
	// DataDir keeps JetStream's files. Required.
	DataDir string
	// Accounts checks logins and gives each client its role, whose topics
	// become the client's NATS permissions (see Permissions). Required.
	Accounts broker.Accounts
	// AckWait is how long the node waits for a subscriber's PUBACK before
	// it sends a QoS 1 message again. NATS keeps a message that was in
	// flight when a node died, or when the subscriber's connection moved
	// to another node, unacknowledged until then, and only then sends it
	// again; the hub waits Options.ReorderWindow (3 s) for a missing event
	// before it gives up on it. Default DefaultAckWait; NATS's own is 30 s.
	AckWait time.Duration
	// StartTimeout is how long Start waits for the listeners. Default 10 s.
	StartTimeout time.Duration
	// Logger receives the node's log lines. Default slog.Default().
	Logger *slog.Logger
}

// Defaults of Options.
const (
	DefaultName         = "linli"
	DefaultMQTTListen   = "127.0.0.1:1883"
	DefaultListen       = "127.0.0.1:4222"
	DefaultClusterName  = "linli"
	DefaultStartTimeout = 10 * time.Second
)

// Errors returned by New.
var (
	// ErrNoAccounts means Options.Accounts is nil.
	ErrNoAccounts = errors.New("natsbroker: no accounts")
	// ErrNoDataDir means Options.DataDir is empty.
	ErrNoDataDir = errors.New("natsbroker: no data directory")
)

// ErrListen is returned by Start when the node cannot listen: a port is
// taken, or the address is not this machine's. The error names the
// listener NATS could not open.
var ErrListen = errors.New("natsbroker: cannot listen")

// Stats counts what the node refused.
type Stats struct {
	ConnectsRefused uint64 // wrong user or password, or topics NATS cannot express
}

// UnlimitedConsumers is the JetStream default_max_consumers a node runs
// with (nats-server's own default is 1,000 per stream): one consumer per
// device session, see New.
const UnlimitedConsumers = -1

// Server is one embedded NATS node with JetStream and the MQTT listener.
type Server struct {
	opts Options
	log  *slog.Logger
	nopt *server.Options
	auth *auth

	mu   sync.Mutex
	nats *server.Server
}

// New checks opts and prepares a node; it does not listen until Start.
func New(opts *Options) (*Server, error) {
	if opts == nil || opts.Accounts == nil {
		return nil, ErrNoAccounts
	}
	o := *opts
	if o.DataDir == "" {
		return nil, ErrNoDataDir
	}
	if o.Name == "" {
		o.Name = DefaultName
	}
	if o.MQTTListen == "" {
		o.MQTTListen = DefaultMQTTListen
	}
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	if o.ClusterName == "" {
		o.ClusterName = DefaultClusterName
	}
	if o.Replicas <= 0 {
		o.Replicas = 1
		if o.ClusterListen != "" {
			o.Replicas = 3
		}
	}
	if o.AckWait <= 0 {
		o.AckWait = DefaultAckWait
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = DefaultStartTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	log := o.Logger.With("component", "nats", "node", o.Name)
	s := &Server{log: log}
	s.auth = &auth{accounts: o.Accounts, log: log}
	n := &server.Options{
		ServerName:                 o.Name,
		JetStream:                  true,
		StoreDir:                   o.DataDir,
		NoSigs:                     true,
		CustomClientAuthentication: s.auth,
	}
	var err error
	if o.Listen, n.Host, n.Port, err = hostPort(o.Listen); err != nil {
		return nil, fmt.Errorf("natsbroker: listen: %w", err)
	}
	if o.MQTTListen, n.MQTT.Host, n.MQTT.Port, err = hostPort(o.MQTTListen); err != nil {
		return nil, fmt.Errorf("natsbroker: mqtt listen: %w", err)
	}
	n.MQTT.StreamReplicas = o.Replicas
	// NATS keeps each QoS 1 subscription of a persistent session as a
	// consumer of one stream ($MQTT_msgs), and caps a stream at 1,000
	// consumers by default: past about 1,000 devices (each subscribes to
	// its cmd topic) every new subscription, the hub's and gridctl's too,
	// was refused (SUBACK 0x80, "maximum consumers limit reached").
	n.JetStreamLimits.DefaultMaxConsumers = UnlimitedConsumers
	// A QoS 1 message delivered to a session whose client died unacked is
	// delivered again only after the ack wait: the hub's session, taken
	// over by a standby, would otherwise get the alarms in flight to the
	// dead hub half a minute late. The hub drops copies by event id.
	n.MQTT.AckWait = o.AckWait
	if o.ClusterListen != "" {
		if o.ClusterListen, n.Cluster.Host, n.Cluster.Port, err = hostPort(o.ClusterListen); err != nil {
			return nil, fmt.Errorf("natsbroker: cluster listen: %w", err)
		}
		n.Cluster.Name = o.ClusterName
		for _, r := range o.Routes {
			u, err := url.Parse(strings.TrimSpace(r))
			if err != nil || u.Host == "" {
				return nil, fmt.Errorf("natsbroker: bad route %q: want nats-route://host:port", r)
			}
			n.Routes = append(n.Routes, u)
		}
	} else if len(o.Routes) > 0 {
		return nil, errors.New("natsbroker: routes without a cluster listener")
	}
	s.opts, s.nopt = o, n
	return s, nil
}

// hostPort splits addr and, for port 0, picks a free port now (NATS must
// be told its ports, and peers must know them before it starts). It
// returns the address with that port. On loopback the port comes from
// freeport, below the kernel's ephemeral range: a port the kernel handed
// out would be free for any client's local end until NATS binds it.
func hostPort(addr string) (string, string, int, error) {
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return "", "", 0, err
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < 0 || port > 65535 {
		return "", "", 0, fmt.Errorf("bad port in %q", addr)
	}
	if ip := net.ParseIP(host); port == 0 && ip != nil && ip.Equal(net.IPv4(127, 0, 0, 1)) {
		if port, err = freeport.Port(); err != nil {
			return "", "", 0, err
		}
	}
	if port == 0 {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return "", "", 0, err
		}
		port = l.Addr().(*net.TCPAddr).Port
		if err := l.Close(); err != nil {
			return "", "", 0, err
		}
	}
	return net.JoinHostPort(host, strconv.Itoa(port)), host, port, nil
}

// Start starts the node and returns once its listeners accept
// connections. In a cluster, MQTT clients are refused until JetStream has
// a quorum of nodes (they retry); Ready reports when it has. Call Close to
// stop; a closed Server can be started again (its data stays).
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nats != nil {
		return errors.New("natsbroker: already started")
	}
	if err := os.MkdirAll(s.opts.DataDir, 0o700); err != nil {
		return fmt.Errorf("natsbroker: data dir: %w", err)
	}
	n := *s.nopt
	n.Routes = append([]*url.URL(nil), s.nopt.Routes...)
	ns, err := server.NewServer(&n)
	if err != nil {
		return fmt.Errorf("natsbroker: %w", err)
	}
	lg := &logger{log: s.log}
	ns.SetLoggerV2(lg, false, false, false)
	ns.Start()
	// NATS logs a listener it cannot open as fatal and goes on without
	// it; ReadyForConnections would only time out. Stop at once instead,
	// with what NATS said.
	deadline := time.Now().Add(s.opts.StartTimeout)
	for !ns.ReadyForConnections(100 * time.Millisecond) {
		fatal := lg.fatal()
		if fatal == "" && time.Now().Before(deadline) {
			continue
		}
		ns.Shutdown()
		ns.WaitForShutdown()
		if fatal != "" {
			return fmt.Errorf("%w: node %s: %s", ErrListen, s.opts.Name, fatal)
		}
		return fmt.Errorf("natsbroker: node %s not listening after %v", s.opts.Name, s.opts.StartTimeout)
	}
	s.nats = ns
	s.log.Info("nats node listening", "mqtt", s.opts.MQTTListen, "nats", s.opts.Listen,
		"cluster", s.opts.ClusterListen, "data", s.opts.DataDir)
	return nil
}

// Ready reports whether the node's JetStream is usable: alone, once
// started; in a cluster, once the meta group has a leader and this node is
// current with it.
func (s *Server) Ready() bool {
	ns := s.NATS()
	if ns == nil || !ns.JetStreamEnabled() {
		return false
	}
	if !ns.JetStreamIsClustered() {
		return true
	}
	return ns.JetStreamIsCurrent()
}

// WaitReady waits until Ready or ctx is done. In a cluster that is until
// a quorum of nodes is up: a node on its own cannot store anything.
func (s *Server) WaitReady(ctx context.Context) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for !s.Ready() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("natsbroker: node %s: JetStream not ready: %w", s.opts.Name, ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// Close stops the node and waits until it has stopped. Sessions, queued
// QoS 1 messages and retained messages stay in JetStream (in DataDir, and
// on the peers). Closing a stopped Server does nothing.
func (s *Server) Close() error {
	s.mu.Lock()
	ns := s.nats
	s.nats = nil
	s.mu.Unlock()
	if ns == nil {
		return nil
	}
	ns.Shutdown()
	ns.WaitForShutdown()
	s.log.Debug("nats node stopped")
	return nil
}

// Run starts the node, serves until ctx is done, then closes it. It
// returns nil after a clean shutdown.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	return s.Close()
}

// MQTTAddr returns the MQTT listener's address, host:port.
func (s *Server) MQTTAddr() string { return s.opts.MQTTListen }

// MQTTURL returns the MQTT listener's URL, tcp://host:port.
func (s *Server) MQTTURL() string { return "tcp://" + s.opts.MQTTListen }

// NATSURL returns the NATS client listener's URL, nats://host:port.
func (s *Server) NATSURL() string { return "nats://" + s.opts.Listen }

// RouteURL returns the URL peers route to, nats-route://host:port, or ""
// for a node without a cluster listener.
func (s *Server) RouteURL() string {
	if s.opts.ClusterListen == "" {
		return ""
	}
	return "nats-route://" + s.opts.ClusterListen
}

// Options returns the options of s with defaults applied and free ports
// chosen.
func (s *Server) Options() Options { return s.opts }

// NATS returns the running nats-server, or nil when stopped: for
// in-process nats.go connections (nats.InProcessServer) and JetStream
// status.
func (s *Server) NATS() *server.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nats
}

// Stats returns the refusal counters.
func (s *Server) Stats() Stats { return Stats{ConnectsRefused: s.auth.refused.Load()} }

// auth checks NATS and MQTT logins against Accounts and gives each client
// the permissions of its role.
type auth struct {
	accounts broker.Accounts
	log      *slog.Logger
	refused  atomic.Uint64
}

// Check implements server.Authentication.
func (a *auth) Check(c server.ClientAuthentication) bool {
	o := c.GetOpts()
	acc, ok := a.accounts.Authenticate(o.Username, []byte(o.Password))
	if !ok {
		a.refused.Add(1)
		a.log.Warn("connect refused: bad user or password", "user", o.Username, "remote", c.RemoteAddress())
		return false
	}
	perms, err := Permissions(acc)
	if err != nil {
		a.refused.Add(1)
		a.log.Warn("connect refused", "user", o.Username, "error", err)
		return false
	}
	c.RegisterUser(&server.User{Username: acc.ID, Permissions: perms})
	return true
}

var (
	_ server.Authentication = (*auth)(nil)
	_ io.Closer             = (*Server)(nil)
)
