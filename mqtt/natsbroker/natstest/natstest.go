package natstest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"linli/internal/freeport"
	"linli/mqtt/broker"
	"linli/mqtt/natsbroker"
)

// Options configures Start. Accounts is required.
type Options struct {
	// Nodes is the number of nodes, default 3.
	Nodes int
	// Accounts checks every node's logins (as gridhub's configuration does).
	Accounts broker.Accounts
	// Dir holds the nodes' data directories; empty means a new temporary
	// directory that Close removes.
	Dir string
	// ReadyTimeout bounds Start's and Restart's wait for JetStream to be
	// ready on every node. Default 60 s.
	ReadyTimeout time.Duration
	// Logger receives the nodes' log lines; default discards them.
	Logger *slog.Logger
}

// Cluster is a running test cluster.
type Cluster struct {
	opts    Options
	tempDir bool

	mu    sync.Mutex
	nodes []*natsbroker.Server
	up    []bool
}

// Start starts the nodes and waits until JetStream is ready on each. On
// error, what was started is stopped again. A node that cannot bind its
// ports (another process took one first) makes Start try again, twice, on
// new ports.
func Start(opts *Options) (*Cluster, error) {
	if opts == nil || opts.Accounts == nil {
		return nil, errors.New("natstest: no accounts")
	}
	o := *opts
	if o.Nodes <= 0 {
		o.Nodes = 3
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = 60 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	var err error
	for try := range 3 {
		var c *Cluster
		c, err = start(o, try)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, natsbroker.ErrListen) {
			return nil, err
		}
		o.Logger.Warn("natstest: starting again on other ports", "err", err)
	}
	return nil, err
}

// start makes one try of Start, in the try'th data directory.
func start(o Options, try int) (*Cluster, error) {
	c := &Cluster{opts: o}
	if o.Dir == "" {
		d, err := os.MkdirTemp("", "natstest-")
		if err != nil {
			return nil, fmt.Errorf("natstest: %w", err)
		}
		c.opts.Dir, c.tempDir = d, true
	} else if try > 0 {
		c.opts.Dir = filepath.Join(o.Dir, "try"+strconv.Itoa(try))
	}
	// Choose every node's ports first: each needs all routes. They come
	// from freeport, below the kernel's ephemeral range, so no other
	// test's client takes one before the node binds it.
	addr := func() string {
		a, err := freeport.Addr()
		if err != nil {
			return "127.0.0.1:0" // New picks one; a rare race, retried
		}
		return a
	}
	for i := range o.Nodes {
		s, err := natsbroker.New(&natsbroker.Options{
			Name:          "n" + strconv.Itoa(i+1),
			MQTTListen:    addr(),
			Listen:        addr(),
			ClusterListen: addr(),
			ClusterName:   "linli-test",
			Replicas:      min(3, o.Nodes),
			DataDir:       filepath.Join(c.opts.Dir, "n"+strconv.Itoa(i+1)),
			Accounts:      o.Accounts,
			Logger:        o.Logger,
		})
		if err != nil {
			c.Close()
			return nil, err
		}
		c.nodes = append(c.nodes, s)
		c.up = append(c.up, false)
	}
	routes := c.Routes()
	for i, s := range c.nodes {
		so := s.Options()
		so.Routes = routes
		n, err := natsbroker.New(&so)
		if err != nil {
			c.Close()
			return nil, err
		}
		c.nodes[i] = n
	}
	for i := range c.nodes {
		if err := c.start(i); err != nil {
			c.Close()
			return nil, err
		}
	}
	if err := c.WaitReady(o.ReadyTimeout); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start(i int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.up[i] {
		return nil
	}
	if err := c.nodes[i].Start(); err != nil {
		return fmt.Errorf("natstest: node %d: %w", i, err)
	}
	c.up[i] = true
	return nil
}

// WaitReady waits until JetStream is ready on every running node.
func (c *Cluster) WaitReady(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		ready := true
		c.mu.Lock()
		for i, s := range c.nodes {
			if c.up[i] && !s.Ready() {
				ready = false
			}
		}
		c.mu.Unlock()
		if ready {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("natstest: JetStream not ready after %v", timeout)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Len returns the number of nodes.
func (c *Cluster) Len() int { return len(c.nodes) }

// Node returns node i (0-based).
func (c *Cluster) Node(i int) *natsbroker.Server { return c.nodes[i] }

// MQTTURLs returns every node's MQTT URL, tcp://127.0.0.1:PORT, in node
// order; they stay the same across Kill and Restart.
func (c *Cluster) MQTTURLs() []string {
	var u []string
	for _, s := range c.nodes {
		u = append(u, s.MQTTURL())
	}
	return u
}

// BrokerList returns MQTTURLs joined by commas, as gridhub's --broker and
// sensord's "broker" take them.
func (c *Cluster) BrokerList() string { return strings.Join(c.MQTTURLs(), ",") }

// NATSURLs returns every node's NATS client URL, nats://127.0.0.1:PORT.
func (c *Cluster) NATSURLs() []string {
	var u []string
	for _, s := range c.nodes {
		u = append(u, s.NATSURL())
	}
	return u
}

// Routes returns every node's route URL.
func (c *Cluster) Routes() []string {
	var u []string
	for _, s := range c.nodes {
		u = append(u, s.RouteURL())
	}
	return u
}

// Kill stops node i at once; its clients are disconnected and fail over to
// the other nodes. Its data directory stays. Unlike a machine that dies,
// the node closes its connections, so clients learn of it at once instead
// of by their keep-alive. Killing a stopped node does nothing.
func (c *Cluster) Kill(i int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.up[i] {
		return nil
	}
	c.up[i] = false
	return c.nodes[i].Close()
}

// Restart starts a killed node again on its ports with its data, and
// waits until JetStream is ready on every running node. Restarting a
// running node only waits.
func (c *Cluster) Restart(i int) error {
	if err := c.start(i); err != nil {
		return err
	}
	return c.WaitReady(c.opts.ReadyTimeout)
}

// Close stops every node and removes the data when Start made the
// directory.
func (c *Cluster) Close() {
	for i := range c.nodes {
		_ = c.Kill(i)
	}
	if c.tempDir {
		_ = os.RemoveAll(c.opts.Dir)
	}
}
