package uplink

import (
	"context"
	"encoding/json"
	"errors"

	paho "github.com/eclipse/paho.mqtt.golang"

	"linli/mqtt/contract"
)

// onCommandMessage runs in paho's router: it must not block, or PUBACKs
// queued behind it would stall. Oversized payloads are dropped here; the
// rest waits for the command worker.
func (u *Uplink) onCommandMessage(_ paho.Client, m paho.Message) {
	p := m.Payload()
	if len(p) > contract.MaxPayload {
		u.badCommands.Add(1)
		u.log.Warn("uplink: command dropped: oversized", "bytes", len(p), "max", contract.MaxPayload)
		return
	}
	select {
	case u.cmdq <- append([]byte(nil), p...):
	default:
		u.badCommands.Add(1)
		u.log.Error("uplink: command dropped: queue full", "queued", cap(u.cmdq))
	}
}

func (u *Uplink) onSubMessage(s *Subscription, m paho.Message) {
	select {
	case u.subq <- inbound{sub: s, topic: m.Topic(), payload: append([]byte(nil), m.Payload()...)}:
	default:
		u.log.Error("uplink: message dropped: queue full", "topic", m.Topic(), "queued", cap(u.subq))
	}
}

func (u *Uplink) subscriptionWorker(ctx context.Context) {
	for {
		select {
		case in := <-u.subq:
			in.sub.Handle(in.topic, in.payload)
		case <-ctx.Done():
			return
		}
	}
}

func (u *Uplink) commandWorker(ctx context.Context) {
	for {
		select {
		case p := <-u.cmdq:
			u.handleCommand(ctx, p)
		case <-ctx.Done():
			return
		}
	}
}

func knownCommand(name string) bool {
	switch name {
	case contract.CmdAck, contract.CmdReset, contract.CmdTest, contract.CmdSetThresholds,
		contract.CmdRebirth, contract.CmdScreenshot, contract.CmdUpdate, contract.CmdResend:
		return true
	}
	return false
}

// readID reads the id of a payload Decode refused, if it has a usable one.
func readID(p []byte) string {
	var v struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(p, &v) != nil || !contract.ValidID(v.ID) {
		return ""
	}
	return v.ID
}

func (u *Uplink) handleCommand(ctx context.Context, p []byte) {
	m, err := contract.Decode(u.cmdTopic, p)
	if err != nil {
		u.badCommands.Add(1)
		id := readID(p)
		if id == "" {
			u.log.Warn("uplink: command dropped", "err", err)
			return
		}
		u.log.Warn("uplink: command refused", "id", id, "err", err)
		u.sendAck(ctx, &contract.CommandAck{ID: id, OK: false, Error: err.Error()})
		return
	}
	cmd, ok := m.(*contract.Command)
	if !ok { // Decode checks the type against the topic; be safe anyway
		u.badCommands.Add(1)
		return
	}
	if ack, seen := u.dd.get(cmd.ID); seen {
		u.log.Info("uplink: command seen before, answering again", "id", cmd.ID, "name", cmd.Name)
		u.sendAck(ctx, ack)
		return
	}
	var ack *contract.CommandAck
	switch {
	case !knownCommand(cmd.Name):
		u.badCommands.Add(1)
		u.log.Warn("uplink: unknown command", "id", cmd.ID, "name", cmd.Name)
		ack = &contract.CommandAck{Error: "unknown command " + cmd.Name}
	case cmd.Name == contract.CmdRebirth:
		ack = &contract.CommandAck{OK: true}
		if err := u.rebirth(ctx); err != nil {
			ack = &contract.CommandAck{Error: err.Error()}
		}
	case u.opts.OnCommand == nil:
		ack = &contract.CommandAck{Error: "command " + cmd.Name + " not supported"}
	default:
		u.log.Info("uplink: command", "id", cmd.ID, "name", cmd.Name, "by", cmd.By)
		ack = u.opts.OnCommand(ctx, cmd)
		if ack == nil {
			ack = &contract.CommandAck{OK: true}
		}
	}
	ack.ID = cmd.ID
	u.dd.put(cmd.ID, ack)
	u.sendAck(ctx, ack)
}

func (u *Uplink) rebirth(ctx context.Context) error {
	c, err := u.client(ctx, nil)
	if err != nil {
		return err
	}
	if err := c.publishBirth(ctx); err != nil {
		return err
	}
	if u.opts.State != nil {
		return c.publishState(ctx)
	}
	return nil
}

// sendAck publishes ack on "cmdack", waiting for a connection, with a few
// tries across reconnects.
func (u *Uplink) sendAck(ctx context.Context, ack *contract.CommandAck) {
	ack.Device = u.opts.ClientID
	p, err := contract.Encode(ack)
	if err != nil {
		u.log.Error("uplink: encode command ack", "id", ack.ID, "err", err)
		return
	}
	topic := contract.DeviceTopic(u.opts.ClientID, "cmdack")
	var failed *conn
	for try := 1; try <= 3; try++ {
		c, err := u.client(ctx, failed)
		if err != nil {
			return
		}
		failed = c
		err = c.publish(ctx, topic, p, 1, false)
		if err == nil {
			return
		}
		if errors.Is(err, context.Canceled) || ctx.Err() != nil {
			return
		}
		u.log.Warn("uplink: publish command ack", "id", ack.ID, "try", try, "err", err)
	}
}

// dedup remembers the acks of the last n commands.
type dedup struct {
	ring []string
	next int
	acks map[string]*contract.CommandAck
}

func newDedup(n int) dedup {
	return dedup{ring: make([]string, n), acks: make(map[string]*contract.CommandAck, n)}
}

// get and put are called from the command worker only.
func (d *dedup) get(id string) (*contract.CommandAck, bool) {
	a, ok := d.acks[id]
	return a, ok
}

func (d *dedup) put(id string, ack *contract.CommandAck) {
	if old := d.ring[d.next]; old != "" {
		delete(d.acks, old)
	}
	d.ring[d.next] = id
	d.next = (d.next + 1) % len(d.ring)
	d.acks[id] = ack
}
