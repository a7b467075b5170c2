package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	bolt "go.etcd.io/bbolt"

	"linli/grid/config"
	"linli/grid/hub"
	"linli/grid/replica"
)

// runHA runs the hub as one of the hubs of its configuration (--ha): a
// standby applying the active hub's journal to db, the active hub once it
// holds the lease, and a standby again when deposed.
func runHA(ctx context.Context, o *options, db *bolt.DB, cfg *config.Config, hopts *hub.Options, log *slog.Logger) error {
	nopts := []nats.Option{nats.Name("gridhub " + o.HAName), nats.MaxReconnects(-1)}
	if hopts.Username != "" && hopts.Password != "" {
		// A cluster whose nodes check logins (natsbroker, `gridhub config
		// nats`) knows the hub by its broker login; one without accounts
		// ignores it. Credentials in the URLs still take precedence.
		nopts = append(nopts, nats.UserInfo(hopts.Username, hopts.Password))
	}
	nc, err := nats.Connect(o.HA, nopts...)
	if err != nil {
		return fmt.Errorf("gridhub: --ha %s: %w", o.HA, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("gridhub: --ha: %w", err)
	}
	compact := o.HACompact << 20
	if compact == 0 {
		compact = -1 // never
	}
	j, err := replica.Open(ctx, db, js, &replica.Options{
		Shard: cfg.Hub.ID, Name: o.HAName, LeaseTTL: o.HALease, Replicas: o.HAReplicas, Logger: log,
		CompactBytes: compact,
	})
	if err != nil {
		return fmt.Errorf("gridhub: %w", err)
	}
	defer j.Close()
	// The hubs of one configuration share one session; those of other
	// configurations must not take it over.
	// A takeover's backlog delays the hub's tick; a shorter one keeps the
	// escalations that fall due meanwhile within a second of their time.
	h := *hopts
	h.ClientID = cfg.Hub.ID
	h.Tick = 250 * time.Millisecond
	h.MayConnect = func() error {
		if !j.Holding() {
			return errors.New("gridhub: not the active hub (lease lost): not connecting to the broker")
		}
		return nil
	}
	hopts = &h
	for {
		err := j.Serve(ctx, func(ctx context.Context) error { return serveHub(ctx, o, nil, db, cfg, hopts, log, nil, nil) })
		if errors.Is(err, replica.ErrDeposed) && ctx.Err() != nil {
			return nil // deposed, then told to stop: a clean stop
		}
		if !errors.Is(err, replica.ErrDeposed) || ctx.Err() != nil {
			return err
		}
		log.Warn("deposed: standing by", "name", o.HAName, "error", err)
	}
}
