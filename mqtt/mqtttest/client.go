package mqtttest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// Timeout bounds every blocking call of Conn (connect, subscribe, publish)
// and Conn.Next.
const Timeout = 10 * time.Second

// Message is a message received by a Conn.
type Message struct {
	Topic    string
	Payload  []byte
	QoS      byte
	Retained bool
}

// Conn is a paho client connected for a test. Its methods fail the test on
// any error, so they must be called from the test's goroutine.
type Conn struct {
	t  testing.TB
	c  paho.Client
	mu sync.Mutex
	// closed is closed by Close; handlers stop delivering after it.
	closed chan struct{}
	stray  chan Message
}

// ClientOpts adjusts the client that Client connects. A nil *ClientOpts
// means a clean session, no will and no reconnects.
type ClientOpts struct {
	// Persistent asks for a persistent session (clean session false).
	Persistent bool
	// Will, when not nil, is the client's last will.
	Will *Message
	// Configure, when not nil, may change anything else before connecting.
	Configure func(*paho.ClientOptions)
}

// Client connects a paho MQTT 3.1.1 client with id to the broker at url and
// disconnects it with t.Cleanup.
func Client(t testing.TB, url, id string) *Conn {
	t.Helper()
	return ClientWith(t, url, id, nil)
}

// ClientWith is Client with options.
func ClientWith(t testing.TB, url, id string, opts *ClientOpts) *Conn {
	t.Helper()
	if opts == nil {
		opts = new(ClientOpts)
	}
	o := paho.NewClientOptions().
		AddBroker(url).
		SetClientID(id).
		SetCleanSession(!opts.Persistent).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(Timeout).
		SetOrderMatters(true)
	if w := opts.Will; w != nil {
		o.SetBinaryWill(w.Topic, w.Payload, w.QoS, w.Retained)
	}
	if opts.Configure != nil {
		opts.Configure(o)
	}
	c := &Conn{t: t, closed: make(chan struct{}), stray: make(chan Message, 1024)}
	o.SetDefaultPublishHandler(c.handler(c.stray))
	c.c = paho.NewClient(o)
	if err := c.wait(c.c.Connect()); err != nil {
		t.Fatalf("mqtttest: connect %s to %s: %v", id, url, err)
	}
	t.Cleanup(c.Close)
	return c
}

// Paho returns the underlying paho client.
func (c *Conn) Paho() paho.Client { return c.c }

// wait bridges a paho token to a context with Timeout.
func (c *Conn) wait(tok paho.Token) error {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	return Wait(ctx, tok)
}

// Wait waits for tok or ctx, whichever is first, and returns the token's
// error or ctx's.
func Wait(ctx context.Context, tok paho.Token) error {
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Subscribe subscribes to filter and returns a channel that receives every
// matching message, in order. The channel holds up to 1024 messages; the
// handler blocks (and with it the client) when it is full.
func (c *Conn) Subscribe(filter string, qos byte) <-chan Message {
	c.t.Helper()
	ch := make(chan Message, 1024)
	if err := c.wait(c.c.Subscribe(filter, qos, c.handler(ch))); err != nil {
		c.t.Fatalf("mqtttest: subscribe %q: %v", filter, err)
	}
	return ch
}

// Stray returns the channel of messages that matched no Subscribe of this
// Conn: with a persistent session, the broker sends queued messages right
// after connecting, before Subscribe has registered its handler.
func (c *Conn) Stray() <-chan Message { return c.stray }

func (c *Conn) handler(ch chan<- Message) paho.MessageHandler {
	return func(_ paho.Client, m paho.Message) {
		msg := Message{Topic: m.Topic(), Payload: append([]byte(nil), m.Payload()...), QoS: m.Qos(), Retained: m.Retained()}
		select {
		case ch <- msg:
		case <-c.closed:
		}
	}
}

// Publish publishes payload on topic and waits for the broker's
// acknowledgement (for QoS 1 and 2).
func (c *Conn) Publish(topic string, payload []byte, qos byte, retained bool) {
	c.t.Helper()
	if err := c.wait(c.c.Publish(topic, qos, retained, payload)); err != nil {
		c.t.Fatalf("mqtttest: publish %q: %v", topic, err)
	}
}

// Close disconnects the client. It is safe to call more than once.
func (c *Conn) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.closed:
		return
	default:
	}
	close(c.closed)
	c.c.Disconnect(100)
}

// Next returns the next message from ch, failing the test after Timeout.
func Next(t testing.TB, ch <-chan Message) Message {
	t.Helper()
	select {
	case m, ok := <-ch:
		if !ok {
			t.Fatal("mqtttest: subscription closed")
		}
		return m
	case <-time.After(Timeout):
		t.Fatalf("mqtttest: no message within %v", Timeout)
	}
	return Message{}
}

// String renders m for test messages.
func (m Message) String() string {
	return fmt.Sprintf("%s q%d r=%v %q", m.Topic, m.QoS, m.Retained, m.Payload)
}
