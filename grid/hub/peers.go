package hub

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	paho "github.com/eclipse/paho.mqtt.golang"

	"linli/mqtt/contract"
)

// ErrPeersMissing means some of the other hubs of a shared broker did not
// answer AskPeers in time.
var ErrPeersMissing = errors.New("hub: not every hub answered")

// relayPrefix starts the id of a relayed request: "peer-<hub id>-".
const relayPrefix = "peer-"

type peerCalls struct {
	mu      sync.Mutex
	pending map[string]chan contract.Response
}

// Peers returns how many other hubs share the broker (Options.Hubs - 1;
// 0 when the hub is alone).
func (h *Hub) Peers() int { return max(h.opts.Hubs-1, 0) }

// AskPeers sends req on behalf of worker to the other hubs of the shared
// broker and returns their answers, accepted or refused, one per hub
// (Response.Hub tells them apart). With all it waits for every hub (a
// list: each holds a part); without, it returns at the first acceptance
// (an operation on one thing: one hub holds it). When ctx ends before
// all answered it returns those that did with an error wrapping
// ErrPeersMissing; when the hub is alone it returns nothing.
func (h *Hub) AskPeers(ctx context.Context, worker string, req *contract.Request, all bool) ([]contract.Response, error) {
	n := h.Peers()
	if n == 0 {
		return nil, nil
	}
	if h.client == nil || !h.online.Load() {
		return nil, fmt.Errorf("%w: not connected to the broker", ErrPeersMissing)
	}
	r := *req
	r.ID = relayPrefix + h.cfg.Hub.ID + "-" + newID()[2:]
	r.From = worker
	r.Relay = h.cfg.Hub.ID
	b, err := contract.Encode(&r)
	if err != nil {
		return nil, fmt.Errorf("hub: relay %s: %w", req.Op, err)
	}
	ch := make(chan contract.Response, 2*n)
	p := &h.peers
	p.mu.Lock()
	if p.pending == nil {
		p.pending = map[string]chan contract.Response{}
	}
	p.pending[r.ID] = ch
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.pending, r.ID)
		p.mu.Unlock()
	}()
	if err := wait(ctx, h.client.Publish(contract.RequestTopic(worker), 1, false, b)); err != nil {
		return nil, fmt.Errorf("%w: relay %s: %w", ErrPeersMissing, req.Op, err)
	}
	var answers []contract.Response
	seen := map[string]bool{}
	for len(answers) < n {
		select {
		case a := <-ch:
			if seen[a.Hub] {
				continue // QoS 1 may deliver twice
			}
			seen[a.Hub] = true
			answers = append(answers, a)
			if a.OK && !all {
				return answers, nil
			}
		case <-ctx.Done():
			names := make([]string, len(answers))
			for i, a := range answers {
				names[i] = a.Hub
			}
			return answers, fmt.Errorf("%w: %d of %d answered (%s): %w", ErrPeersMissing, len(answers), n, strings.Join(names, ", "), ctx.Err())
		}
	}
	return answers, nil
}

// onPeerMessage handles a message on the topics of peerSubscriptions:
// answers to relayed requests and grid alerts. The hub's own come back
// too and are left out.
func (h *Hub) onPeerMessage(m paho.Message) {
	if h.Peers() == 0 {
		return // subscribed by an earlier run's session
	}
	msg, err := contract.Decode(m.Topic(), m.Payload())
	if err != nil {
		h.refuse(m.Topic(), len(m.Payload()), err)
		return
	}
	switch msg := msg.(type) {
	case *contract.Response:
		h.onPeerResponse(msg)
	case *contract.Alert:
		h.onPeerAlert(m.Topic(), msg)
	}
}

// onPeerResponse hands a response to a relayed request to its AskPeers.
// Responses to the workers' own requests pass by too: they are not ours.
func (h *Hub) onPeerResponse(resp *contract.Response) {
	if resp.Hub == h.cfg.Hub.ID || !strings.HasPrefix(resp.ID, relayPrefix+h.cfg.Hub.ID+"-") {
		return
	}
	p := &h.peers
	p.mu.Lock()
	ch := p.pending[resp.ID]
	p.mu.Unlock()
	if ch != nil {
		select {
		case ch <- *resp:
		default: // more copies than hubs: AskPeers has all it waits for
		}
	}
}

// onPeerAlert hands another hub's grid alert to Subscribe's channels; the
// hub's own come back on the same topics and are left out.
func (h *Hub) onPeerAlert(topic string, a *contract.Alert) {
	if strings.HasPrefix(a.ID, h.cfg.Hub.ID+"-") {
		return
	}
	h.subs.send(Change{Topic: topic, Msg: a, Peer: true})
}

// peerSubscriptions are the filters of the peers' answers and alerts.
func peerSubscriptions() map[string]byte {
	return map[string]byte{
		contract.ResponseTopic("+"):  1,
		contract.GridAlertTopic("+"): 1,
	}
}

// onRelayed answers a request another hub relayed for a worker this hub
// does not know, so that the asking hub need not wait for it. A worker's
// own request to the wrong hub gets no answer (its own hubs answer).
func (h *Hub) onRelayed(client string, req *contract.Request) {
	if req.Relay == "" || req.Relay == h.cfg.Hub.ID {
		return
	}
	resp := &contract.Response{ID: req.ID, Hub: h.cfg.Hub.ID,
		Error: fmt.Sprintf("%v: %q is not a worker of hub %s", ErrNotFound, client, h.cfg.Hub.ID)}
	h.wg.Add(1)
	go func() { // not on paho's goroutine: the publish waits for its PUBACK
		defer h.wg.Done()
		h.respond(h.runCtx, client, resp)
	}()
}

// subscribePeers subscribes c to the peers' answers and alerts when the
// hub has peers, and takes the filters back otherwise (a persistent
// session of an earlier run may hold them).
func (h *Hub) subscribePeers(c paho.Client) paho.Token {
	if h.Peers() > 0 {
		return c.SubscribeMultiple(peerSubscriptions(), nil)
	}
	if !h.cfg.SharedBroker {
		return nil
	}
	var fs []string
	for f := range peerSubscriptions() {
		fs = append(fs, f)
	}
	return c.Unsubscribe(fs...)
}
