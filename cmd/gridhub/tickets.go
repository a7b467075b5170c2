package main

import (
	"context"
	"fmt"
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
	contract.OpTicketAssign, contract.OpWishesList, contract.OpWishClaim, contract.OpWishDone, contract.OpNotice,
}

// ticketWorker is the part of a configured worker that decides what they
// may do with tickets (tickets.Permit).
func ticketWorker(w config.Worker) tickets.Worker {
	return tickets.Worker{ID: w.ID, Role: w.Role, Grid: w.Grid, Community: w.Community}
}

// openTickets opens the ticket store on the hub's database, publishing
// every change through the hub's outbox in the change's own transaction.
// db must be the database h was created on.
func openTickets(db *bolt.DB, cfg *config.Config, h *hub.Hub, log *slog.Logger) (*tickets.Store, error) {
	return tickets.Open(db, &tickets.Options{
		Logger:       log,
		AssignTarget: assignTarget(cfg),
		PublishTx: func(tx *bolt.Tx, p tickets.Publication) error {
			return h.PublishTx(tx, p.Topic, p.Msg, p.Retain)
		},
	})
}

// assignTarget keeps ticket.assign inside the ticket's community: the
// target grid must be one of its grids, and a worker one of its grid
// workers (tickets.Options.AssignTarget).
func assignTarget(cfg *config.Config) func(community, grid, worker string) (string, error) {
	return func(community, grid, worker string) (string, error) {
		if grid != "" {
			known := false
			for _, c := range cfg.Communities {
				for _, g := range c.Grids {
					known = known || c.ID == community && g.ID == grid
				}
			}
			if !known {
				return "", fmt.Errorf("grid %q is not a grid of community %s", grid, community)
			}
		}
		if worker == "" {
			return grid, nil
		}
		w, ok := cfg.Worker(worker)
		switch {
		case !ok || w.Role != config.RoleGridWorker || w.Community != community:
			return "", fmt.Errorf("%q is not a grid worker of community %s", worker, community)
		case grid != "" && w.Grid != grid:
			return "", fmt.Errorf("%s works in grid %s, not %s", worker, w.Grid, grid)
		}
		return w.Grid, nil
	}
}

// ticketRequest serves a ticket, wish or notice operation for worker from.
// Permissions are tickets.Permit's, checked against the ticket itself.
func ticketRequest(ts *tickets.Store) hub.RequestFunc {
	return func(ctx context.Context, from config.Worker, req *contract.Request) (any, error) {
		body, _, err := ts.HandleRequest(ctx, ticketWorker(from), req) // published with the change
		return body, err
	}
}

// wireTickets plugs the ticket flow (reports from kiosks, ticket, wish and
// notice operations from gridctl) into the hub, and returns the loop that
// raises time-limit warnings and escalations, and the store for the web's
// public pages.
func wireTickets(db *bolt.DB, cfg *config.Config, h *hub.Hub, log *slog.Logger) (*tickets.Store, func(ctx context.Context), error) {
	ts, err := openTickets(db, cfg, h, log)
	if err != nil {
		return nil, nil, err
	}
	serve := ticketRequest(ts)
	for _, op := range ticketOps {
		h.HandleRequest(op, serve)
	}
	gridOf := func(loc contract.Location) string { return cfg.Locate(loc).Grid }
	h.HandleDeviceMessage("report", func(_ context.Context, dev contract.DeviceInfo, m contract.Message) error {
		_, err := ts.HandleDeviceMessage(dev.Device, m, gridOf) // published with the change
		return err                                              // the hub logs and counts it
	})
	due := func(ctx context.Context) {
		t := time.NewTicker(30 * time.Second)
		defer t.Stop()
		for {
			// Escalations are published with the change.
			acts, err := ts.Due(time.Now())
			if err != nil {
				log.Error("ticket time limits", "err", err)
			}
			for _, a := range acts {
				log.Info("ticket time limit", "kind", a.Kind, "phase", a.Phase, "ticket", a.Number, "grid", a.Grid)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}
	return ts, due, nil
}
