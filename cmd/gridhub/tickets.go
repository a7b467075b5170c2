package main

import (
	"context"
	"log/slog"
	"time"

	bolt "go.etcd.io/bbolt"

	"linli/grid/config"
	"linli/grid/hub"
	"linli/grid/tickets"
	"linli/mqtt/contract"
)

// ticketOps are the request operations the ticket flow answers.
var ticketOps = []string{
	contract.OpTicketsList, contract.OpTicketGet, contract.OpTicketAccept, contract.OpTicketStart,
	contract.OpTicketResolve, contract.OpTicketReturn, contract.OpTicketDuplicate, contract.OpTicketClose,
	contract.OpWishesList, contract.OpWishClaim, contract.OpWishDone, contract.OpNotice,
}

// wireTickets plugs the ticket flow (reports from kiosks, ticket, wish and
// notice operations from gridctl) into the hub, and returns the loop that
// raises time-limit warnings and escalations.
func wireTickets(db *bolt.DB, cfg *config.Config, h *hub.Hub, log *slog.Logger) (func(ctx context.Context), error) {
	ts, err := tickets.Open(db, &tickets.Options{Logger: log})
	if err != nil {
		return nil, err
	}
	publish := func(ctx context.Context, pubs []tickets.Publication) {
		for _, p := range pubs {
			if err := h.Publish(ctx, p.Topic, p.Msg, p.Retain); err != nil {
				log.Error("publish ticket update", "topic", p.Topic, "err", err)
			}
		}
	}
	for _, op := range ticketOps {
		h.HandleRequest(op, func(ctx context.Context, from config.Worker, req *contract.Request) (any, error) {
			body, pubs, err := ts.HandleRequest(ctx, from.ID, from.Role, req)
			publish(ctx, pubs)
			return body, err
		})
	}
	gridOf := func(loc contract.Location) string { return cfg.Locate(loc).Grid }
	h.HandleDeviceMessage("report", func(ctx context.Context, dev contract.DeviceInfo, m contract.Message) error {
		pubs, err := ts.HandleDeviceMessage(dev.Device, m, gridOf)
		publish(ctx, pubs)
		return err // the hub logs and counts it
	})
	due := func(ctx context.Context) {
		t := time.NewTicker(30 * time.Second)
		defer t.Stop()
		for {
			acts, err := ts.Due(time.Now())
			if err != nil {
				log.Error("ticket time limits", "err", err)
			}
			for _, a := range acts {
				log.Info("ticket time limit", "kind", a.Kind, "phase", a.Phase, "ticket", a.Number, "grid", a.Grid)
			}
			publish(ctx, tickets.Publications(acts))
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}
	return due, nil
}
