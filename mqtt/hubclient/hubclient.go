package hubclient

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"linli/mqtt/contract"
)

// DefaultBroker is the broker URL used when Options.Broker is empty: the
// hub's embedded broker on this machine.
const DefaultBroker = "tcp://127.0.0.1:1883"

// Errors of Dial and Call.
var (
	// ErrConnect means the broker could not be reached or refused the
	// connection.
	ErrConnect = errors.New("hubclient: cannot connect to the broker")
	// ErrNoAnswer means no response with the request's id arrived before
	// the context ended: the hub is not running, or not subscribed.
	ErrNoAnswer = errors.New("hubclient: hub did not answer")
	// ErrClosed means the client was closed.
	ErrClosed = errors.New("hubclient: client closed")
	// ErrRefused means the broker refused a subscription (SUBACK code
	// 0x80 or higher): the account may not read that topic. The error is a
	// *RefusedError naming the filter.
	ErrRefused = errors.New("hubclient: subscription refused")
)

// RefusedError is the broker's refusal of a subscription. It matches
// ErrRefused with errors.Is.
type RefusedError struct {
	User   string // the account that subscribed
	Filter string // the refused topic filter
	Code   byte   // the SUBACK return code (0x80 in MQTT 3.1.1)
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("hubclient: the broker refused the subscription to %s (code %#x): may %s read it?", e.Filter, e.Code, e.User)
}

// Is reports whether target is ErrRefused.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// ConnectError is Dial's failure to connect. It matches ErrConnect with
// errors.Is and unwraps to the cause.
type ConnectError struct {
	Broker string // the broker URL
	Err    error  // the cause
}

func (e *ConnectError) Error() string {
	return "hubclient: cannot connect to the broker at " + e.Broker + ": " + e.Err.Error()
}

// Is reports whether target is ErrConnect.
func (e *ConnectError) Is(target error) bool { return target == ErrConnect }

// Unwrap returns the cause.
func (e *ConnectError) Unwrap() error { return e.Err }

// HubError is the hub's refusal of a request (Response.OK false).
type HubError struct {
	Op      string // the operation, e.g. "alert.ack"
	Message string // the hub's Response.Error
}

func (e *HubError) Error() string { return "hubclient: " + e.Op + ": " + e.Message }

// Options configure Dial. A nil *Options means the defaults.
type Options struct {
	// Broker is the broker URL (tcp://, ssl://, ws://), or a
	// comma-separated list of the nodes of a cluster, tried in turn; ""
	// means DefaultBroker.
	Broker string
	// User is the worker id: the MQTT user name and the {client} part of
	// the request and response topics. It must be a valid contract id.
	User string
	// Password is the MQTT password; "" sends none.
	Password string
	// ClientID is the MQTT client id; "" means "gridctl-<user>-<random>",
	// so that several tools of the same user can run at once.
	ClientID string
	// Hubs is how many hubs answer the user: the shards (hub
	// configurations on one broker, Config.SharedBroker) its communities
	// are in. 0 or 1: one hub, whose first answer is the answer. See Call
	// for how several answers are merged.
	Hubs int
	// Logger receives debug and error logs; nil discards them.
	Logger *slog.Logger
}

// Client is a connection to the hub through the broker. Its methods are
// safe for concurrent use.
type Client struct {
	user string
	hubs int
	cl   paho.Client
	log  *slog.Logger

	mu      sync.Mutex
	pending map[string]chan contract.Response
	subs    map[string]paho.MessageHandler // filter → handler, resubscribed on reconnect
	conns   int                            // connections made, to tell a reconnect from the first
	closed  bool
	done    chan struct{}
	wg      sync.WaitGroup // Alerts pumps
}

// Dial connects to the broker and subscribes to the response topic. It
// returns a *ConnectError (matching ErrConnect) when the broker cannot be reached
// before ctx ends, and a *RefusedError (matching ErrRefused) when the broker
// does not let the user read its response topic.
func Dial(ctx context.Context, opts *Options) (*Client, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Broker == "" {
		o.Broker = DefaultBroker
	}
	if !contract.ValidID(o.User) {
		return nil, fmt.Errorf("hubclient: user %q is not a valid id (1-64 characters, no spaces or /+#)", o.User)
	}
	if o.ClientID == "" {
		o.ClientID = "gridctl-" + o.User + "-" + randomID(4)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c := &Client{
		user:    o.User,
		hubs:    max(o.Hubs, 1),
		log:     o.Logger.With("component", "hubclient"),
		pending: make(map[string]chan contract.Response),
		subs:    make(map[string]paho.MessageHandler),
		done:    make(chan struct{}),
	}
	po := paho.NewClientOptions()
	// A comma-separated list names the nodes of a cluster: paho tries them
	// in turn at every connect, so a worker follows the cluster when one
	// node dies.
	for _, u := range strings.Split(o.Broker, ",") {
		if u = strings.TrimSpace(u); u != "" {
			po.AddBroker(u)
		}
	}
	po.SetConnectTimeout(5 * time.Second).
		SetClientID(o.ClientID).
		SetUsername(o.User).
		SetCleanSession(true).
		SetOrderMatters(true).
		SetAutoReconnect(true).
		SetConnectRetry(false).
		SetMaxReconnectInterval(30 * time.Second).
		SetKeepAlive(30 * time.Second).
		SetOnConnectHandler(c.onConnect).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			c.log.Warn("connection lost", "err", err)
		})
	if o.Password != "" {
		po.SetPassword(o.Password)
	}
	if d, ok := ctx.Deadline(); ok {
		po.SetConnectTimeout(time.Until(d))
	}
	c.cl = paho.NewClient(po)
	if err := wait(ctx, c.cl.Connect()); err != nil {
		c.cl.Disconnect(0)
		return nil, &ConnectError{Broker: o.Broker, Err: err}
	}
	if err := c.subscribe(ctx, map[string]paho.MessageHandler{contract.ResponseTopic(o.User): c.onResponse}); err != nil {
		c.cl.Disconnect(0)
		return nil, err
	}
	return c, nil
}

// User returns the worker id the client calls as.
func (c *Client) User() string { return c.user }

// Close ends the connection, fails pending calls with ErrClosed and waits
// for the goroutines of Alerts to stop. It is safe to call more than once.
func (c *Client) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	close(c.done)
	c.mu.Unlock()
	c.cl.Disconnect(250)
	c.wg.Wait()
}

// Call sends the request op with args and body (marshalled to JSON when
// not nil) and waits for the hub's response, which it unmarshals into out
// when out is not nil and the response has a body. It returns a *HubError
// when the hub refuses, and an error wrapping ErrNoAnswer and ctx.Err()
// when ctx ends first.
//
// With Options.Hubs n > 1 every hub of the user's shards answers. When
// out points to a slice (a list), Call waits for all n and returns the
// concatenation of the lists of those that accepted; when a hub does not
// answer in time, out holds the others' lists and the error is a
// *PartialError naming who answered, never a silently shorter list.
// Otherwise the first acceptance is the answer (an alert, a ticket: held
// by one shard; the others refuse with "not found"). Only when every hub
// refuses is the first refusal returned.
func (c *Client) Call(ctx context.Context, op string, args map[string]string, body, out any) error {
	req := &contract.Request{ID: randomID(8), From: c.user, Op: op, Args: args}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("hubclient: %s: encode body: %w", op, err)
		}
		req.Body = b
	}
	payload, err := contract.Encode(req)
	if err != nil {
		return fmt.Errorf("hubclient: %s: %w", op, err)
	}
	ch := make(chan contract.Response, 2*c.hubs)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	c.pending[req.ID] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, req.ID)
		c.mu.Unlock()
	}()

	if err := wait(ctx, c.cl.Publish(contract.RequestTopic(c.user), 1, false, payload)); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %s: %w", ErrNoAnswer, op, err)
		}
		return fmt.Errorf("hubclient: %s: publish: %w", op, err)
	}
	c.log.Debug("request", "op", op, "id", req.ID)
	list := c.hubs > 1 && contract.IsList(out)
	var answers []contract.Response
	seen := map[string]bool{}
	for len(answers) < c.hubs {
		var resp contract.Response
		select {
		case resp = <-ch:
		case <-ctx.Done():
			if len(answers) == 0 {
				return fmt.Errorf("%w: %s: %w", ErrNoAnswer, op, ctx.Err())
			}
			pe := &PartialError{Op: op, Answered: hubNames(answers), Want: c.hubs, Err: ctx.Err()}
			if list && slices.ContainsFunc(answers, accepted) {
				pe.List = true
				// What the living shards hold matters most while one is
				// down: out gets it, the error says it is not all.
				if err := mergeLists(op, answers, out); err != nil {
					return err
				}
			}
			return pe
		case <-c.done:
			return ErrClosed
		}
		if c.hubs > 1 && seen[resp.Hub] {
			continue // a duplicate (QoS 1 may deliver twice)
		}
		seen[resp.Hub] = true
		if c.hubs == 1 || (resp.OK && !list) {
			return decodeResponse(op, &resp, out)
		}
		answers = append(answers, resp)
	}
	if list && slices.ContainsFunc(answers, accepted) {
		return mergeLists(op, answers, out)
	}
	for _, r := range answers {
		if r.OK {
			return decodeResponse(op, &r, out)
		}
	}
	return decodeResponse(op, &answers[0], out)
}

// accepted reports whether the hub accepted the request.
func accepted(r contract.Response) bool { return r.OK }

// mergeLists sets the slice out points to to the concatenation of the
// lists of the answers that accepted.
func mergeLists(op string, answers []contract.Response, out any) error {
	var lists []json.RawMessage
	for _, r := range answers {
		if r.OK && len(r.Body) > 0 {
			lists = append(lists, r.Body)
		}
	}
	if err := contract.MergeLists(out, lists...); err != nil {
		return fmt.Errorf("hubclient: %s: decode response: %w", op, err)
	}
	return nil
}

// decodeResponse returns resp's refusal as a *HubError, or unmarshals its
// body into out.
func decodeResponse(op string, resp *contract.Response, out any) error {
	if !resp.OK {
		msg := resp.Error
		if msg == "" {
			msg = "refused without a reason"
		}
		return &HubError{Op: op, Message: msg}
	}
	if out != nil && len(resp.Body) > 0 { // no body: like JSON null, out is left alone
		if err := json.Unmarshal(resp.Body, out); err != nil {
			return fmt.Errorf("hubclient: %s: decode response: %w", op, err)
		}
	}
	return nil
}

// hubNames lists the hubs that answered.
func hubNames(rs []contract.Response) []string {
	var names []string
	for _, r := range rs {
		names = append(names, cmp.Or(r.Hub, "?"))
	}
	return names
}

// PartialError is the error of a call to several hubs (Options.Hubs) that
// not all of them answered in time. For a list, out holds the lists of
// those that did: the caller may show them, saying they are not all. It
// matches ErrNoAnswer.
type PartialError struct {
	Op       string
	Answered []string // the hubs that answered
	Want     int      // Options.Hubs
	List     bool     // out holds the lists of the hubs that answered
	Err      error    // the context's error
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("hubclient: %s: %d of %d hubs answered (%s): %v", e.Op, len(e.Answered), e.Want, strings.Join(e.Answered, ", "), e.Err)
}

// Is makes a PartialError match ErrNoAnswer.
func (e *PartialError) Is(target error) bool { return target == ErrNoAnswer }

func (e *PartialError) Unwrap() error { return e.Err }

// Alerts subscribes to the alerts of grid ("" or "+" for every grid) and
// returns once the broker has granted the subscription; a refusal is a
// *RefusedError (matching ErrRefused). Every alert that
// arrives afterwards is sent on the returned channel, in order of arrival
// and without bound on how many wait, until ctx ends or the client is
// closed; then the channel is closed. Malformed alerts are logged and
// skipped.
func (c *Client) Alerts(ctx context.Context, grid string) (<-chan contract.Alert, error) {
	if grid == "" {
		grid = "+"
	}
	if grid != "+" && !contract.ValidID(grid) {
		return nil, fmt.Errorf("hubclient: grid %q is not a valid id", grid)
	}
	q := &queue{wake: make(chan struct{}, 1)}
	topic := contract.GridAlertTopic(grid)
	h := func(_ paho.Client, m paho.Message) {
		msg, err := contract.Decode(m.Topic(), m.Payload())
		if err != nil {
			c.log.Warn("bad alert", "topic", m.Topic(), "err", err)
			return
		}
		if a, ok := msg.(*contract.Alert); ok {
			q.push(*a)
		}
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	c.wg.Add(1)
	c.mu.Unlock()
	if err := c.subscribe(ctx, map[string]paho.MessageHandler{topic: h}); err != nil {
		c.wg.Done()
		return nil, err
	}
	out := make(chan contract.Alert)
	go func() {
		defer c.wg.Done()
		defer close(out)
		defer func() {
			c.mu.Lock()
			delete(c.subs, topic)
			c.mu.Unlock()
			c.cl.Unsubscribe(topic) // best effort; the token is not awaited
		}()
		for {
			a, ok := q.pop()
			if !ok {
				select {
				case <-q.wake:
					continue
				case <-ctx.Done():
					return
				case <-c.done:
					return
				}
			}
			select {
			case out <- a:
			case <-ctx.Done():
				return
			case <-c.done:
				return
			}
		}
	}()
	return out, nil
}

// Watch calls fn for every alert of grid ("" for all) until ctx ends, and
// then returns ctx.Err(). fn runs on one goroutine, in order of arrival.
func (c *Client) Watch(ctx context.Context, grid string, fn func(contract.Alert)) error {
	ch, err := c.Alerts(ctx, grid)
	if err != nil {
		return err
	}
	for a := range ch {
		fn(a)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return ErrClosed
}

// subscribe subscribes to every filter of handlers in one SUBSCRIBE and
// checks each grant. One packet, because mochi (2.7.9) checks the packet id
// of a SUBSCRIBE against the ids of its own QoS 1 deliveries to the client
// and refuses it (0x91 in MQTT 5, 0x80 in 3.1.1) when they collide, so
// subscriptions are few and every grant is checked: a refusal is an error
// naming the filter, never a silent stall. On failure no filter of handlers
// stays registered.
func (c *Client) subscribe(ctx context.Context, handlers map[string]paho.MessageHandler) error {
	c.mu.Lock()
	for f, h := range handlers {
		c.subs[f] = h
		c.cl.AddRoute(f, h)
	}
	c.mu.Unlock()
	filters := make(map[string]byte, len(handlers))
	for f := range handlers {
		filters[f] = 1
	}
	tok := c.cl.SubscribeMultiple(filters, nil)
	err := wait(ctx, tok)
	if err != nil {
		err = fmt.Errorf("hubclient: subscribe %s: %w", strings.Join(slices.Sorted(maps.Keys(filters)), ", "), err)
	} else {
		err = c.refused(tok)
	}
	if err != nil {
		c.mu.Lock()
		for f := range handlers {
			delete(c.subs, f)
		}
		c.mu.Unlock()
		for f := range handlers {
			c.cl.Unsubscribe(f) // best effort: drops the route and any filter granted
		}
		return err
	}
	return nil
}

// refused returns a *RefusedError for the first filter (in sorted order)
// the SUBACK of tok refused, or nil.
func (c *Client) refused(tok paho.Token) error {
	st, ok := tok.(*paho.SubscribeToken)
	if !ok {
		return nil
	}
	res := st.Result()
	for _, f := range slices.Sorted(maps.Keys(res)) {
		if code := res[f]; code >= 0x80 {
			return &RefusedError{User: c.user, Filter: f, Code: code}
		}
	}
	return nil
}

// onConnect subscribes again after a reconnect, in one SUBSCRIBE: the
// session is clean, so the broker has forgotten the subscriptions. It runs
// on a goroutine of its own (paho starts one per connect); a refusal is
// logged at Error, and shows as calls that time out.
func (c *Client) onConnect(cl paho.Client) {
	c.mu.Lock()
	c.conns++
	first := c.conns == 1
	filters := make(map[string]byte, len(c.subs))
	for f := range c.subs {
		filters[f] = 1
	}
	c.mu.Unlock()
	if first || len(filters) == 0 {
		return // Dial and Alerts subscribe on the first connection themselves
	}
	tok := cl.SubscribeMultiple(filters, nil) // the routes stay from the first subscription
	select {
	case <-tok.Done():
	case <-c.done:
		return
	}
	if err := tok.Error(); err != nil {
		c.log.Error("subscribe after reconnect", "err", err)
		return
	}
	if err := c.refused(tok); err != nil {
		c.log.Error("subscribe after reconnect", "err", err)
	}
}

func (c *Client) onResponse(_ paho.Client, m paho.Message) {
	msg, err := contract.Decode(m.Topic(), m.Payload())
	if err != nil {
		c.log.Warn("bad response", "topic", m.Topic(), "err", err)
		return
	}
	r, ok := msg.(*contract.Response)
	if !ok {
		return
	}
	c.mu.Lock()
	ch := c.pending[r.ID]
	c.mu.Unlock()
	if ch == nil {
		// Another tool of the same user, or an answer after a timeout.
		c.log.Debug("response to another request", "id", r.ID)
		return
	}
	select {
	case ch <- *r:
	default: // a duplicate (QoS 1 may deliver twice)
	}
}

// wait bridges a paho token to ctx.
func wait(ctx context.Context, tok paho.Token) error {
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// randomID returns n random bytes in hex.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

// queue is an unbounded FIFO of alerts, so that paho's delivery goroutine
// never blocks on a slow reader (which would also hold up responses).
type queue struct {
	mu   sync.Mutex
	a    []contract.Alert
	wake chan struct{}
}

func (q *queue) push(a contract.Alert) {
	q.mu.Lock()
	q.a = append(q.a, a)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *queue) pop() (contract.Alert, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.a) == 0 {
		return contract.Alert{}, false
	}
	a := q.a[0]
	q.a = q.a[1:]
	return a, true
}
