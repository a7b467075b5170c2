package hubclient_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"linli/mqtt/contract"
	"linli/mqtt/hubclient"
)

// Example lists the active alerts. The broker and the hub's side of the
// protocol are stood up in-process so that the example runs.
func Example() {
	url, stop := exampleHub()
	defer stop()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := hubclient.Dial(ctx, &hubclient.Options{Broker: url, User: "wang"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	var alerts []contract.Alert
	if err := c.Call(ctx, contract.OpAlertsList, nil, nil, &alerts); err != nil {
		fmt.Println(err)
		return
	}
	for _, a := range alerts {
		fmt.Println(a.ID, a.State, a.Device, a.Location)
	}
	// Output:
	// a-1 alarm mb-0001 幸福里/3
}

// exampleHub starts a broker whose inline client answers alerts.list.
func exampleHub() (url string, stop func()) {
	srv := mochi.New(&mochi.Options{InlineClient: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	_ = srv.AddHook(new(auth.AllowHook), nil)
	l := listeners.NewTCP(listeners.Config{ID: "tcp", Address: "127.0.0.1:0"})
	_ = srv.AddListener(l)
	_ = srv.Serve()
	_ = srv.Subscribe(contract.RequestTopic("+"), 1, func(_ *mochi.Client, _ packets.Subscription, pk packets.Packet) {
		m, err := contract.Decode(pk.TopicName, pk.Payload)
		if err != nil {
			return
		}
		req := m.(*contract.Request)
		body, _ := json.Marshal([]contract.Alert{{ID: "a-1", Device: "mb-0001", State: contract.StateAlarm,
			Location: contract.Location{Community: "幸福里", Building: "3"}}})
		resp := contract.MustEncode(&contract.Response{ID: req.ID, OK: true, Body: body})
		// Answer on the response topic of the client named by the request
		// topic (the broker's ACL vouches for it), not by Request.From.
		client := strings.TrimPrefix(pk.TopicName, contract.Root+"/hub/req/")
		_ = srv.Publish(contract.ResponseTopic(client), resp, false, 1)
	})
	return "tcp://" + l.Address(), func() { _ = srv.Close() }
}
