package uplink

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
	bolt "go.etcd.io/bbolt"

	"linli/mqtt/contract"
	"linli/mqtt/outbox"
)

// conn is one MQTT connection: a fresh paho client with its own empty
// store, so that nothing but the outbox is ever resent.
type conn struct {
	u       *Uplink
	cl      paho.Client
	session uint32

	netMu  sync.Mutex
	nc     net.Conn // the transport, for an abrupt close (nil for ws)
	closed bool
	dialed string // host:port of the last dial that succeeded

	lostOnce sync.Once
	lost     chan struct{}
	lostErr  atomic.Value // error

	deathSent bool
}

func (c *conn) markLost(err error) {
	c.lostOnce.Do(func() {
		if err == nil {
			err = ErrConnLost
		}
		c.lostErr.Store(err)
		close(c.lost)
	})
}

func (c *conn) isLost() bool {
	select {
	case <-c.lost:
		return true
	default:
		return false
	}
}

func (c *conn) lostError() error {
	if err, ok := c.lostErr.Load().(error); ok {
		return fmt.Errorf("%w: %w", ErrConnLost, err)
	}
	return ErrConnLost
}

// closeNet drops the transport without an MQTT DISCONNECT, so that the
// broker publishes the will.
func (c *conn) closeNet() {
	c.netMu.Lock()
	c.closed = true
	nc := c.nc
	c.netMu.Unlock()
	if nc != nil {
		_ = nc.Close()
	} else if c.cl != nil {
		c.cl.Disconnect(0)
	}
	c.markLost(errors.New("closed by uplink"))
}

// dial opens the transport for tcp and TLS brokers (ws is left to paho).
func (c *conn) dial(uri *url.URL, _ paho.ClientOptions) (net.Conn, error) {
	host := uri.Host
	if uri.Port() == "" {
		port := "1883"
		if c.u.tls != nil {
			port = "8883"
		}
		host = net.JoinHostPort(uri.Hostname(), port)
	}
	d := net.Dialer{Timeout: c.u.opts.ConnectTimeout}
	var nc net.Conn
	var err error
	if c.u.tls != nil {
		cfg := c.u.tls.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName = uri.Hostname()
		}
		nc, err = tls.DialWithDialer(&d, "tcp", host, cfg)
	} else {
		nc, err = d.Dial("tcp", host)
	}
	if err != nil {
		return nil, err
	}
	c.netMu.Lock()
	defer c.netMu.Unlock()
	if c.closed {
		_ = nc.Close()
		return nil, ErrConnLost
	}
	c.nc = nc
	c.dialed = uri.Host
	return nc, nil
}

// wait bridges tok to ctx, the connection's loss and timeout.
func (c *conn) wait(ctx context.Context, tok paho.Token, timeout time.Duration, what string) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("uplink: %s: %w", what, err)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.lost:
		return fmt.Errorf("uplink: %s: %w", what, c.lostError())
	case <-t.C:
		return fmt.Errorf("%w: %s after %v", ErrAckTimeout, what, timeout)
	}
}

func (c *conn) publish(ctx context.Context, topic string, payload []byte, qos byte, retain bool) error {
	tok := c.cl.Publish(topic, qos, retain, payload)
	return c.wait(ctx, tok, c.u.opts.AckTimeout, "publish "+topic)
}

func (c *conn) publishBirth(ctx context.Context) error {
	u := c.u
	b := u.opts.Birth(c.session)
	if b == nil {
		return errors.New("uplink: Options.Birth returned nil")
	}
	b.Session = c.session
	if b.Device == "" {
		b.Device = u.opts.ClientID
	}
	p, err := contract.Encode(b)
	if err != nil {
		return fmt.Errorf("uplink: encode birth: %w", err)
	}
	return c.publish(ctx, contract.DeviceTopic(u.opts.ClientID, "birth"), p, 1, true)
}

func (c *conn) publishState(ctx context.Context) error {
	u := c.u
	s := u.opts.State(c.session)
	if s == nil {
		return nil
	}
	s.Session = c.session
	if s.Device == "" {
		s.Device = u.opts.ClientID
	}
	p, err := contract.Encode(s)
	if err != nil {
		return fmt.Errorf("uplink: encode state: %w", err)
	}
	return c.publish(ctx, contract.DeviceTopic(u.opts.ClientID, "state"), p, 1, true)
}

func (u *Uplink) death(session uint32) []byte {
	return contract.MustEncode(&contract.Death{Device: u.opts.ClientID, Session: session})
}

// publishDeath publishes the clean Death, waiting at most a few seconds:
// Run's context is done by then.
func (c *conn) publishDeath() {
	if c.deathSent || c.isLost() {
		return
	}
	c.deathSent = true
	timeout := min(c.u.opts.AckTimeout, 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	u := c.u
	err := c.publish(ctx, contract.DeviceTopic(u.opts.ClientID, "death"), u.death(c.session), 1, true)
	if err != nil {
		u.log.Warn("uplink: publish death", "err", err, "timeout", timeout)
	}
}

var refusals = []error{
	packets.ErrorRefusedBadUsernameOrPassword,
	packets.ErrorRefusedNotAuthorised,
	packets.ErrorRefusedIDRejected,
	packets.ErrorRefusedBadProtocolVersion,
	packets.ErrorRefusedServerUnavailable,
}

// serve makes one connection and serves it until it fails or ctx is done.
// connected reports whether the broker accepted the connection.
func (u *Uplink) serve(ctx context.Context) (connected bool, err error) {
	u.mu.Lock()
	session := u.session + 1
	u.mu.Unlock()
	c := &conn{u: u, session: session, lost: make(chan struct{})}
	o := u.opts
	po := paho.NewClientOptions()
	// paho tries the brokers in order at each Connect; start after the one
	// of the previous connection, which may be the node that died.
	for i := range u.brokers {
		po.AddBroker(u.brokers[(u.first+i)%len(u.brokers)])
	}
	defer func() { u.first = u.nextFirst(c, connected) }()
	po.SetClientID(o.ClientID).
		SetCleanSession(false).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetResumeSubs(false).
		SetProtocolVersion(4).
		SetOrderMatters(true).
		SetStore(paho.NewMemoryStore()).
		SetKeepAlive(o.KeepAlive).
		SetConnectTimeout(o.ConnectTimeout).
		SetWriteTimeout(o.AckTimeout).
		SetBinaryWill(contract.DeviceTopic(o.ClientID, "death"), u.death(session), 1, true).
		SetConnectionLostHandler(func(_ paho.Client, err error) { c.markLost(err) }).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
			u.log.Debug("uplink: message on no subscription", "topic", m.Topic())
		})
	if o.Username != "" {
		po.SetUsername(o.Username)
		po.SetPassword(o.Password)
	}
	switch scheme, _, _ := cutScheme(o.Broker); scheme {
	case "ws", "wss":
		if u.tls != nil {
			po.SetTLSConfig(u.tls)
		}
	default:
		po.SetCustomOpenConnectionFn(c.dial)
	}
	c.cl = paho.NewClient(po)
	c.cl.AddRoute(u.cmdTopic, u.onCommandMessage)
	for i := range o.Subscriptions {
		s := &u.opts.Subscriptions[i]
		c.cl.AddRoute(s.Topic, func(_ paho.Client, m paho.Message) { u.onSubMessage(s, m) })
	}

	connectTimeout := time.Duration(len(u.brokers))*o.ConnectTimeout + time.Second
	if err := c.wait(ctx, c.cl.Connect(), connectTimeout, "connect "+o.Broker); err != nil {
		c.closeNet()
		for _, r := range refusals {
			if errors.Is(err, r) {
				return false, fmt.Errorf("%w: %w", ErrRefused, err)
			}
		}
		return false, err
	}
	connected = true
	u.mu.Lock()
	u.session = session
	u.conns++
	u.mu.Unlock()
	if err := u.db.Update(func(tx *bolt.Tx) error {
		var v [4]byte
		binary.BigEndian.PutUint32(v[:], session)
		return tx.Bucket(bucketName).Put(keySession, v[:])
	}); err != nil {
		u.log.Error("uplink: store session counter", "err", err)
	}
	defer func() {
		u.setReady(nil)
		if c.isLost() {
			return
		}
		if ctx.Err() != nil {
			c.publishDeath()
			c.cl.Disconnect(250)
			return
		}
		c.closeNet()
	}()

	if err := c.publishBirth(ctx); err != nil {
		return true, err
	}
	if o.State != nil {
		if err := c.publishState(ctx); err != nil {
			return true, err
		}
	}
	filters := map[string]byte{u.cmdTopic: 1}
	for _, s := range o.Subscriptions {
		filters[s.Topic] = s.QoS
	}
	tok := c.cl.SubscribeMultiple(filters, nil)
	if err := c.wait(ctx, tok, o.AckTimeout, "subscribe"); err != nil {
		return true, err
	}
	for topic, code := range tok.(*paho.SubscribeToken).Result() {
		if code == 0x80 {
			u.log.Error("uplink: broker refused subscription", "topic", topic)
		}
	}
	u.setReady(c)
	u.log.Info("uplink: connected", "broker", c.broker(), "session", session)
	return true, c.drain(ctx)
}

// broker returns the host:port of the broker c connected to, or the broker
// option when that is not known (websockets).
func (c *conn) broker() string {
	c.netMu.Lock()
	defer c.netMu.Unlock()
	if c.dialed == "" {
		return c.u.opts.Broker
	}
	return c.dialed
}

// nextFirst returns the index of the broker the next connection tries
// first: the one after the broker c used, or after the one tried first.
func (u *Uplink) nextFirst(c *conn, connected bool) int {
	n := len(u.brokers)
	if n < 2 {
		return 0
	}
	if connected {
		d := c.broker()
		for i, b := range u.brokers {
			if _, rest, _ := cutScheme(b); rest == d || strings.HasPrefix(rest, d+"/") {
				return (i + 1) % n
			}
		}
	}
	return (u.first + 1) % n
}

func cutScheme(s string) (scheme, rest string, ok bool) {
	for i := 0; i+2 < len(s); i++ {
		if s[i:i+3] == "://" {
			return s[:i], s[i+3:], true
		}
	}
	return "", s, false
}

type flight struct {
	it   outbox.Item
	tok  paho.Token
	sent time.Time
}

var errStopped = errors.New("uplink: stopped")

// drain publishes the outbox on this connection until it fails or ctx is
// done. The calling goroutine sends; an acker goroutine waits for the
// PUBACKs in order and hands the acknowledged prefix to a deleter goroutine,
// which removes it from the outbox in batches.
func (c *conn) drain(ctx context.Context) error {
	u := c.u
	window := u.opts.Window
	pending := make(chan flight, window)
	acked := make(chan outbox.Item, 2048)
	fail := make(chan error, 1)
	stop := make(chan struct{})

	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer close(acked)
		c.acker(pending, acked, fail, stop)
	}()
	go func() {
		defer wg.Done()
		c.deleter(acked)
	}()
	finish := func(err error) error {
		if err == nil {
			// Clean stop: the Death's PUBACK comes after every earlier one.
			c.publishDeath()
		} else {
			c.closeNet()
		}
		close(stop)
		wg.Wait()
		return err
	}

	peekN := max(2*window, 256)
	// cur is past every item sent on this connection: each is read once.
	// A new connection starts from the zero cursor, that is from the
	// oldest item not deleted.
	var cur outbox.Cursor
	for {
		ready := u.ob.Ready()
		items, err := u.ob.PeekAfter(cur, peekN)
		if err != nil {
			u.log.Error("uplink: read outbox", "err", err)
			return finish(fmt.Errorf("uplink: read outbox: %w", err))
		}
		sent := 0
	items:
		for _, it := range items {
			if it.Class == outbox.Telemetry && sent > 0 {
				select {
				case <-ready:
					break items // maybe new events: they go next
				default:
				}
			}
			tok := c.cl.Publish(it.Topic, it.QoS, it.Retain, it.Payload)
			select {
			case <-tok.Done():
				if err := tok.Error(); err != nil {
					return finish(fmt.Errorf("uplink: publish %s %d: %w", it.Class, it.Seq, err))
				}
			default:
			}
			select {
			case pending <- flight{it: it, tok: tok, sent: time.Now()}:
			case <-ctx.Done():
				return finish(nil)
			case <-c.lost:
				return finish(c.lostError())
			case err := <-fail:
				return finish(err)
			}
			cur.Advance(it)
			sent++
		}
		if sent > 0 {
			continue
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return finish(nil)
		case <-c.lost:
			return finish(c.lostError())
		case err := <-fail:
			return finish(err)
		}
	}
}

// acker waits for the PUBACKs in publish order and passes each
// acknowledged item on, stopping at the first one that is not: only an
// acknowledged prefix is ever deleted, so a resend never reorders.
func (c *conn) acker(pending <-chan flight, acked chan<- outbox.Item, fail chan<- error, stop <-chan struct{}) {
	u := c.u
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		var f flight
		select {
		case f = <-pending:
		case <-stop:
			select {
			case f = <-pending:
			default:
				return
			}
		case <-c.lost:
			select {
			case f = <-pending:
			default:
				return
			}
		}
		err := c.waitFlight(f, stop, timer)
		if err != nil {
			if !errors.Is(err, errStopped) {
				select {
				case fail <- err:
				default:
				}
			}
			return
		}
		u.published.Add(1)
		acked <- f.it
	}
}

func (c *conn) waitFlight(f flight, stop <-chan struct{}, timer *time.Timer) error {
	select {
	case <-f.tok.Done():
		return f.tok.Error()
	default:
	}
	d := c.u.opts.AckTimeout - time.Since(f.sent)
	if d <= 0 {
		d = time.Millisecond
	}
	timer.Reset(d)
	defer func() {
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}()
	select {
	case <-f.tok.Done():
		return f.tok.Error()
	case <-stop:
		return errStopped
	case <-c.lost:
		return errStopped
	case <-timer.C:
		return fmt.Errorf("%w: %s %d after %v", ErrAckTimeout, f.it.Class, f.it.Seq, c.u.opts.AckTimeout)
	}
}

// deleteEvery is the shortest interval between two delete transactions
// of the deleter while acknowledgements keep coming. Each is an fsync'd
// bbolt commit: back to back they cost a drain a good part of a core.
// Deleting late is safe: a crash in between only means a resend, which
// receivers de-duplicate.
const deleteEvery = 10 * time.Millisecond

// deleter removes acknowledged items from the outbox in batches: as many
// per bbolt transaction as arrive within deleteEvery of the previous one
// (at most maxBatch), and at once when the connection ends.
func (c *conn) deleter(acked <-chan outbox.Item) {
	u := c.u
	const maxBatch = 4096
	batch := make([]outbox.Item, 0, 256)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var last time.Time
	for it := range acked {
		batch = append(batch[:0], it)
		wait := deleteEvery - time.Since(last)
		if wait > 0 {
			timer.Reset(wait)
		}
	more:
		for len(batch) < maxBatch {
			if wait > 0 {
				select {
				case it, ok := <-acked:
					if !ok {
						break more
					}
					batch = append(batch, it)
					continue
				case <-timer.C:
					wait = 0
				}
			}
			select {
			case it, ok := <-acked:
				if !ok {
					break more
				}
				batch = append(batch, it)
			default:
				break more
			}
		}
		timer.Stop() // Go ≥ 1.23: no stale tick is received after Stop
		last = time.Now()
		if err := u.ob.Delete(batch...); err != nil {
			u.log.Error("uplink: delete acknowledged items", "err", err, "n", len(batch))
			u.setErr(err)
			continue
		}
	}
}
