package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	bolt "go.etcd.io/bbolt"

	"linli/grid/config"
	"linli/grid/hub"
	"linli/grid/replica"
	"linli/web"
	"linli/web/ops"
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
	rep := func() ops.ReplicaStats {
		st := j.Stats()
		return ops.ReplicaStats{Active: st.Active, Epoch: st.Epoch, Applied: st.Applied, Compactions: st.Compactions, Restores: st.Restores}
	}
	for {
		// With --http a standby answers on the console's address too, and
		// hands it over to the console when it becomes active.
		sb := startStandbyWeb(ctx, o, j, rep, log)
		err := j.Serve(ctx, func(ctx context.Context) error {
			sb.stop()
			return serveHub(ctx, o, nil, db, cfg, hopts, log, nil, nil, rep)
		})
		sb.stop()
		if errors.Is(err, replica.ErrDeposed) && ctx.Err() != nil {
			return nil // deposed, then told to stop: a clean stop
		}
		if !errors.Is(err, replica.ErrDeposed) || ctx.Err() != nil {
			return err
		}
		log.Warn("deposed: standing by", "name", o.HAName, "error", err)
	}
}

// standbyWeb is the web front-end of a standby: web.Standby's pages and
// the operations endpoints, /readyz saying it stands by.
type standbyWeb struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// errStandby is the standby's /readyz answer.
var errStandby = errors.New("standing by")

func startStandbyWeb(ctx context.Context, o *options, j *replica.Journal, rep func() ops.ReplicaStats, log *slog.Logger) *standbyWeb {
	if o.HTTP == "" {
		return nil
	}
	active := func() string {
		if h := j.Stats().Holder; h != o.HAName {
			return h
		}
		return "" // this one, about to take over
	}
	oh := ops.New(&ops.Options{
		Replica: rep,
		Checks: []ops.Check{{Name: "lease", Fn: func(context.Context) error {
			if a := active(); a != "" {
				return fmt.Errorf("%w: the active hub is %s", errStandby, a)
			}
			return errStandby
		}}},
		MetricsToken: o.MetricsToken,
		Logger:       log,
	}).Handler()
	h, err := web.Standby(&web.StandbyOptions{
		Active: active, Secure: o.Cert != "",
		Extra: map[string]http.Handler{"GET /metrics": oh, "GET /healthz": oh, "GET /readyz": oh},
	})
	if err != nil {
		log.Error("standby web", "error", err)
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	sb := &standbyWeb{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(sb.done)
		err := web.ListenAndServe(ctx, h, o.HTTP, o.Cert, o.Key, log, func(addr string) {
			log.Debug("standby web", "addr", addr)
		})
		if err != nil && ctx.Err() == nil {
			log.Error("standby web: the console's address answers nothing until this hub is active", "error", err)
		}
	}()
	return sb
}

// stop closes the standby's listener and returns once it is closed, so
// that the console can take its address. Safe on nil and twice.
func (sb *standbyWeb) stop() {
	if sb == nil {
		return
	}
	sb.cancel()
	<-sb.done
}
