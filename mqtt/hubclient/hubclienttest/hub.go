package hubclienttest

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"linli/mqtt/contract"
	"linli/mqtt/mqtttest"
)

// HandlerFunc answers one request: the returned body is marshalled into
// Response.Body; a non-nil error becomes Response{OK: false, Error:
// err.Error()}.
type HandlerFunc func(req contract.Request) (body any, err error)

// Hub is a fake hub connected to a broker.
type Hub struct {
	t    testing.TB
	conn *mqtttest.Conn

	mu       sync.Mutex
	handlers map[string]HandlerFunc
	requests []contract.Request
	silent   bool

	stop chan struct{}
	wg   sync.WaitGroup
}

// New connects a fake hub to the broker at url as client "fake-hub" and
// starts answering requests. Requests for an operation without a handler
// are refused with "unknown operation". t.Cleanup stops it.
func New(t testing.TB, url string) *Hub {
	t.Helper()
	h := &Hub{
		t:        t,
		conn:     mqtttest.Client(t, url, "fake-hub"),
		handlers: make(map[string]HandlerFunc),
		stop:     make(chan struct{}),
	}
	reqs := h.conn.Subscribe(contract.Root+"/hub/req/+", 1)
	h.wg.Add(1)
	go h.serve(reqs)
	t.Cleanup(func() {
		close(h.stop)
		h.wg.Wait()
	})
	return h
}

// Handle sets the handler of op, replacing any earlier one.
func (h *Hub) Handle(op string, fn HandlerFunc) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.handlers[op] = fn
}

// Reply is Handle with a fixed body.
func (h *Hub) Reply(op string, body any) {
	h.Handle(op, func(contract.Request) (any, error) { return body, nil })
}

// SetSilent makes the hub record requests without answering them, as a hub
// that hangs would.
func (h *Hub) SetSilent(silent bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.silent = silent
}

// Requests returns the requests received so far, in order.
func (h *Hub) Requests() []contract.Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]contract.Request(nil), h.requests...)
}

// PublishAlert publishes a on contract.GridAlertTopic(a.Location.Grid) and
// waits for the broker's acknowledgement. It must be called from the test's
// goroutine.
func (h *Hub) PublishAlert(a contract.Alert) {
	h.t.Helper()
	b, err := contract.Encode(&a)
	if err != nil {
		h.t.Fatalf("hubclienttest: %v", err)
	}
	h.conn.Publish(contract.GridAlertTopic(a.Location.Grid), b, 1, false)
}

func (h *Hub) serve(reqs <-chan mqtttest.Message) {
	defer h.wg.Done()
	for {
		select {
		case <-h.stop:
			return
		case m := <-reqs:
			h.answer(m)
		}
	}
}

func (h *Hub) answer(m mqtttest.Message) {
	msg, err := contract.Decode(m.Topic, m.Payload)
	if err != nil {
		h.t.Logf("hubclienttest: bad request on %s: %v", m.Topic, err)
		return
	}
	req, ok := msg.(*contract.Request)
	if !ok {
		return
	}
	client := m.Topic[len(contract.Root+"/hub/req/"):]
	h.mu.Lock()
	h.requests = append(h.requests, *req)
	fn, silent := h.handlers[req.Op], h.silent
	h.mu.Unlock()
	if silent {
		return
	}
	resp := &contract.Response{ID: req.ID, OK: true}
	if fn == nil {
		resp.OK, resp.Error = false, fmt.Sprintf("unknown operation %q", req.Op)
	} else if body, err := fn(*req); err != nil {
		resp.OK, resp.Error = false, err.Error()
	} else if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			resp.OK, resp.Error = false, "fake hub: "+err.Error()
		}
		resp.Body = b
	}
	b, err := contract.Encode(resp)
	if err != nil {
		h.t.Logf("hubclienttest: encode response: %v", err)
		return
	}
	// Not awaited: this goroutine is not the test's, and the paho client
	// delivers in order; a lost response shows as the caller's timeout.
	h.conn.Paho().Publish(contract.ResponseTopic(client), 1, false, b)
}
