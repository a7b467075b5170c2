package hub

import (
	"encoding/json"
	"fmt"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"linli/mqtt/contract"
)

// Telemetry comes in on a connection of its own (client id
// Options.ClientID + "-telemetry", clean session, QoS 0), so that the
// thousands of telemetry messages a second of a community never stand in
// front of an alarm: on one connection the broker would send them in one
// stream, and the hub would read them one by one before the alarm. Its
// handler only notes the time a device was seen, under a mutex of its own
// that is never held across a disk write; the tick folds the notes into
// the registry.

// seenNote is the latest telemetry of a device not yet folded into the
// registry.
type seenNote struct {
	at      time.Time
	session uint32
}

// telemetryHeader is what the hub reads of a telemetry message: decoding
// the readings would cost more than everything else the hub does with it.
type telemetryHeader struct {
	contract.Header
	Device  string `json:"device"`
	Session uint32 `json:"session"`
}

// telemetryFilter is the topic filter of every device's telemetry.
func telemetryFilter() string { return contract.Root + "/dev/+/telemetry" }

// subscribeBatch is how many filters one SUBSCRIBE packet carries;
// maxDeviceFilters is the most devices subscribed to one by one. NATS
// keeps a session's subscriptions in one JetStream message, rewritten at
// every SUBSCRIBE: 10,000 filters are about 400 KB of its 1 MB limit.
const (
	subscribeBatch   = 1000
	maxDeviceFilters = 10000
)

// telemetryFilters returns the hub's telemetry subscriptions, in batches
// of at most subscribeBatch: every device's filter, or for a shard
// (Config.SharedBroker) of up to maxDeviceFilters devices one filter per
// device of its configuration, so that the broker does not send it the
// other shards' telemetry, the bulk of a fleet's messages. They are QoS 0
// on a clean session: on a NATS cluster each is a plain subscription, not
// a JetStream consumer (the hub's QoS 1 subscriptions stay wildcards for
// that reason).
func (h *Hub) telemetryFilters() []map[string]byte {
	if !h.cfg.SharedBroker || len(h.cfg.Devices) > maxDeviceFilters {
		return []map[string]byte{{telemetryFilter(): 0}}
	}
	var out []map[string]byte
	for i, d := range h.cfg.Devices {
		if i%subscribeBatch == 0 {
			out = append(out, make(map[string]byte, min(subscribeBatch, len(h.cfg.Devices)-i)))
		}
		out[len(out)-1][contract.DeviceTopic(d.ID, "telemetry")] = 0
	}
	return out
}

func (h *Hub) telemetryOptions() *paho.ClientOptions {
	o := addBrokers(paho.NewClientOptions(), h.opts.Broker).
		SetClientID(h.opts.ClientID + "-telemetry").
		SetUsername(h.opts.Username).
		SetPassword(h.opts.Password).
		SetCleanSession(true).
		SetOrderMatters(true).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).
		SetMaxReconnectInterval(10 * time.Second).
		SetKeepAlive(30 * time.Second).
		SetProtocolVersion(4).
		SetDialer(h.dialer(30 * time.Second)).
		SetDefaultPublishHandler(h.onTelemetry).
		SetOnConnectHandler(func(c paho.Client) {
			// Not waited for: a lost subscription shows as devices whose
			// last-seen stops, and the next reconnect subscribes again.
			for _, fs := range h.telemetryFilters() {
				c.SubscribeMultiple(fs, nil)
			}
		}).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			h.log.Warn("telemetry connection lost", "error", err)
		})
	if h.opts.TLS != nil {
		o.SetTLSConfig(h.opts.TLS)
	}
	return o
}

// onTelemetry notes that a device was seen. It runs on the telemetry
// connection's receiving goroutine (and on the main one's, for a
// subscription left in the hub's persistent session by an older version).
func (h *Hub) onTelemetry(_ paho.Client, m paho.Message) { h.Telemetry(m.Topic(), m.Payload()) }

// Telemetry notes that a device was seen, from a telemetry message on
// topic. With Options.TelemetryFeed the caller calls it for every
// telemetry message (gridhub, from its embedded broker: see
// broker.Options.Telemetry); otherwise the hub's telemetry connection
// does. It is safe from any goroutine, never waits for the disk, and
// counts and logs (rate-limited) a malformed message.
func (h *Hub) Telemetry(topic string, payload []byte) {
	if h.stopping.Load() {
		return
	}
	if h.foreignTopic(topic) {
		return
	}
	h.c.received.Add(1)
	dev, err := decodeTelemetry(topic, payload)
	if err != nil {
		h.refuse(topic, len(payload), err)
		return
	}
	now := h.now()
	h.seenMu.Lock()
	h.seen[dev.Device] = seenNote{at: now, session: dev.Session}
	h.seenMu.Unlock()
}

// decodeTelemetry checks what the hub uses of a telemetry message: its
// size, version, type and device, which must be the topic's.
func decodeTelemetry(topic string, payload []byte) (*telemetryHeader, error) {
	if len(payload) > contract.MaxPayload {
		return nil, fmt.Errorf("%w: %d bytes (max %d)", contract.ErrTooLarge, len(payload), contract.MaxPayload)
	}
	t, err := contract.ParseTopic(topic)
	if err != nil {
		return nil, err
	}
	var m telemetryHeader
	if err := json.Unmarshal(payload, &m); err != nil {
		return nil, fmt.Errorf("%w: %w", contract.ErrMalformed, err)
	}
	switch {
	case m.V != contract.Version:
		return nil, fmt.Errorf("%w: v=%d (want %d)", contract.ErrVersion, m.V, contract.Version)
	case m.Type != contract.TypeTelemetry || t.Kind != "dev" || t.Leaf != "telemetry":
		return nil, fmt.Errorf("%w: %q on %s", contract.ErrType, m.Type, topic)
	case m.Device != t.Device:
		return nil, fmt.Errorf("%w: device %q on the topic of %q", contract.ErrMalformed, m.Device, t.Device)
	}
	return &m, nil
}

// foldSeen moves the telemetry notes into the registry: a device's record
// is written to disk for them at most every seenEvery. h.mu must be held.
func (h *Hub) foldSeen() {
	h.seenMu.Lock()
	notes := h.seen
	h.seen = make(map[string]seenNote, len(notes))
	h.seenMu.Unlock()
	for id, n := range notes {
		r := h.device(id)
		if n.at.After(r.LastSeen) {
			r.LastSeen = n.at
		}
		if !r.Online && n.session >= r.Session && n.session != r.DeadSession {
			r.Online, r.Session = true, n.session
			h.dirty[id] = true
			h.deviceChanged(r)
		}
		if r.LastSeen.Sub(r.savedSeen) >= seenEvery {
			h.dirty[id] = true
		}
	}
}
