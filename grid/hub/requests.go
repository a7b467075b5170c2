package hub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"linli/grid/config"
	"linli/mqtt/contract"
)

// startRequest serves req from client on a goroutine of its own, so that a
// slow operation (device.cmd waits for the device) does not hold up the
// messages behind it.
func (h *Hub) startRequest(client string, req *contract.Request) {
	h.c.requests.Add(1)
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		ctx := h.runCtx
		select {
		case h.reqSem <- struct{}{}:
			defer func() { <-h.reqSem }()
		case <-ctx.Done():
			return
		}
		resp := &contract.Response{ID: req.ID, Hub: h.cfg.Hub.ID}
		body, err := h.serveRequest(ctx, client, req)
		if err == nil {
			resp.Body, err = json.Marshal(body)
		}
		if err != nil {
			h.c.requestErrors.Add(1)
			resp.Error = err.Error()
			h.log.Info("request refused", "from", client, "op", req.Op, "id", req.ID, "error", err)
		} else {
			resp.OK = true
			h.log.Debug("request served", "from", client, "op", req.Op, "id", req.ID)
		}
		h.respond(ctx, client, resp)
	}()
}

// respond publishes resp on client's response topic.
func (h *Hub) respond(ctx context.Context, client string, resp *contract.Response) {
	b, err := contract.Encode(resp)
	if err != nil {
		// Too large a body: answer with the error instead.
		resp.Body, resp.OK, resp.Error = nil, false, err.Error()
		b = contract.MustEncode(resp)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := wait(pctx, h.client.Publish(contract.ResponseTopic(client), 1, false, b)); err != nil {
		level := slog.LevelWarn
		if ctx.Err() != nil {
			level = slog.LevelDebug // the hub is stopping: gridctl asks again
		}
		h.log.Log(context.Background(), level, "response not sent", "to", client, "id", resp.ID, "error", err)
	}
}

func (h *Hub) serveRequest(ctx context.Context, client string, req *contract.Request) (any, error) {
	w, ok := h.cfg.Worker(client)
	if !ok {
		return nil, fmt.Errorf("%w: %q is not a worker", ErrForbidden, client)
	}
	if req.From != "" && req.From != client {
		return nil, fmt.Errorf("%w: request from %q on %q's topic", ErrForbidden, req.From, client)
	}
	fn := h.reqFns[req.Op]
	if fn == nil {
		return nil, fmt.Errorf("%w: unknown operation %q", ErrBadRequest, req.Op)
	}
	return fn(ctx, w, req)
}

func (h *Hub) opAlertsList(_ context.Context, w config.Worker, req *contract.Request) (any, error) {
	all, err := h.Alerts(req.Args["all"] == "true")
	if err != nil {
		return nil, err
	}
	out := []contract.Alert{}
	for _, a := range all {
		if sees(w, a.Location) || slices.Contains(a.Assigned, w.ID) {
			out = append(out, a)
		}
	}
	return out, nil
}

func (h *Hub) opAlertAck(_ context.Context, w config.Worker, req *contract.Request) (any, error) {
	id := req.Args["id"]
	if id == "" {
		return nil, fmt.Errorf("%w: alert.ack needs id", ErrBadRequest)
	}
	return h.ack(w, id)
}

func (h *Hub) opDevices(_ context.Context, w config.Worker, _ *contract.Request) (any, error) {
	out := []contract.DeviceInfo{}
	for _, d := range h.Devices() {
		if sees(w, d.Location) {
			out = append(out, d)
		}
	}
	return out, nil // in Devices' order: by id
}

// mayCommand reports whether w may send command name to a device at loc:
// set-points and firmware only maintenance staff; the other commands
// whoever is responsible for the device's place.
func mayCommand(w config.Worker, name string, loc contract.Location) bool {
	if w.Role == config.RoleMaintenance {
		return true
	}
	switch name {
	case contract.CmdAck, contract.CmdReset, contract.CmdTest, contract.CmdRebirth, contract.CmdScreenshot:
		return sees(w, loc)
	}
	return false
}

func (h *Hub) opDeviceCmd(ctx context.Context, w config.Worker, req *contract.Request) (any, error) {
	dev, name := req.Args["device"], req.Args["name"]
	if dev == "" || name == "" {
		return nil, fmt.Errorf("%w: device.cmd needs device and name", ErrBadRequest)
	}
	h.mu.Lock()
	r, known := h.devices[dev]
	var loc contract.Location
	if known {
		loc = r.Location
	}
	h.mu.Unlock()
	if !known {
		return nil, fmt.Errorf("%w: device %q", ErrNotFound, dev)
	}
	if !mayCommand(w, name, loc) {
		return nil, fmt.Errorf("%w: %s (%s) may not send %q to %s", ErrForbidden, w.ID, w.Role, name, dev)
	}
	args := map[string]string{}
	for k, v := range req.Args {
		if k != "device" && k != "name" {
			args[k] = v
		}
	}
	cmd := &contract.Command{ID: newID(), Device: dev, Name: name, Args: args, By: w.ID, Time: h.now()}
	ack, err := h.Command(ctx, cmd)
	if err != nil {
		return nil, err
	}
	return ack, nil
}

// Command sends cmd to its device and waits for the device's CommandAck,
// up to Options.CommandTimeout. The caller has checked the authorisation.
func (h *Hub) Command(ctx context.Context, cmd *contract.Command) (*contract.CommandAck, error) {
	b, err := contract.Encode(cmd)
	if err != nil {
		return nil, err
	}
	ch := make(chan *contract.CommandAck, 1)
	h.pendMu.Lock()
	h.pending[cmd.ID] = ch
	h.pendMu.Unlock()
	defer func() {
		h.pendMu.Lock()
		delete(h.pending, cmd.ID)
		h.pendMu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(ctx, h.opts.CommandTimeout)
	defer cancel()
	if err := wait(ctx, h.client.Publish(contract.DeviceTopic(cmd.Device, "cmd"), 1, false, b)); err != nil {
		return nil, fmt.Errorf("hub: send command: %w", err)
	}
	h.log.Info("command sent", "device", cmd.Device, "cmd", cmd.Name, "by", cmd.By, "id", cmd.ID, "args", cmd.Args)
	select {
	case ack := <-ch:
		h.log.Info("command answered", "device", cmd.Device, "cmd", cmd.Name, "id", cmd.ID, "ok", ack.OK, "error", ack.Error)
		return ack, nil
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			h.log.Warn("command not answered", "device", cmd.Device, "cmd", cmd.Name, "id", cmd.ID)
			return nil, fmt.Errorf("%w: %s %s within %s", ErrNoAnswer, cmd.Device, cmd.Name, h.opts.CommandTimeout)
		}
		return nil, ctx.Err()
	}
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "c-" + hex.EncodeToString(b[:])
}
