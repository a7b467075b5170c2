package mqtttest_test

import (
	"net"
	"testing"
	"time"

	"linli/mqtt/mqtttest"
)

func TestBrokersRoundTrip(t *testing.T) {
	for _, b := range mqtttest.Brokers(t) {
		t.Run(b.Name, func(t *testing.T) {
			url := b.Start(t)
			sub := mqtttest.Client(t, url, "sub")
			msgs := sub.Subscribe("linli/v1/test/#", 1)
			pub := mqtttest.Client(t, url, "pub")
			pub.Publish("linli/v1/test/a", []byte("one"), 1, false)
			pub.Publish("linli/v1/test/b", []byte("two"), 1, false)
			for _, want := range []string{"linli/v1/test/a one", "linli/v1/test/b two"} {
				m := mqtttest.Next(t, msgs)
				if got := m.Topic + " " + string(m.Payload); got != want {
					t.Errorf("got %q, want %q", got, want)
				}
			}
		})
	}
}

func TestRetained(t *testing.T) {
	for _, b := range mqtttest.Brokers(t) {
		t.Run(b.Name, func(t *testing.T) {
			url := b.Start(t)
			pub := mqtttest.Client(t, url, "pub")
			pub.Publish("linli/v1/r", []byte("kept"), 1, true)
			sub := mqtttest.Client(t, url, "sub")
			m := mqtttest.Next(t, sub.Subscribe("linli/v1/r", 1))
			if !m.Retained || string(m.Payload) != "kept" {
				t.Errorf("got %v, want retained \"kept\"", m)
			}
		})
	}
}

// TestMosquittoRestartKeepsSession checks that a persistent session and its
// queued QoS 1 message survive a broker restart when Persistence is on.
func TestMosquittoRestartKeepsSession(t *testing.T) {
	m := mqtttest.Mosquitto(t, &mqtttest.MosquittoOpts{Persistence: true})
	opts := &mqtttest.ClientOpts{Persistent: true}
	sub := mqtttest.ClientWith(t, m.URL(), "durable", opts)
	sub.Subscribe("linli/v1/q", 1)
	sub.Close()

	m.Stop()
	m.Start()

	pub := mqtttest.Client(t, m.URL(), "pub")
	pub.Publish("linli/v1/q", []byte("queued"), 1, false)

	// The resumed session gets the queued message, possibly before the
	// handler of the new Subscribe is in place (then on Stray).
	again := mqtttest.ClientWith(t, m.URL(), "durable", opts)
	var got mqtttest.Message
	select {
	case got = <-again.Stray():
	case got = <-again.Subscribe("linli/v1/q", 1):
	case <-time.After(mqtttest.Timeout):
		t.Fatal("no queued message after the restart")
	}
	if string(got.Payload) != "queued" {
		t.Errorf("got %v, want the queued message", got)
	}
}

func TestMosquittoStopStart(t *testing.T) {
	m := mqtttest.Mosquitto(t, nil)
	m.Stop()
	m.Stop() // twice is fine
	if c, err := net.Dial("tcp", m.Addr()); err == nil {
		c.Close()
		t.Fatalf("dial %s after Stop: got a connection, want refused", m.Addr())
	}
	m.Start()
	mqtttest.Client(t, m.URL(), "after-restart")
}
