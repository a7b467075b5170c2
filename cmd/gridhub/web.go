package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/netip"

	bolt "go.etcd.io/bbolt"

	"linli/grid/hub"
	"linli/grid/tickets"
	"linli/mqtt/broker"
	"linli/web"
	"linli/web/dashboard"
	"linli/web/ops"
)

// newWeb builds the web front-end of the hub: the console and residents'
// pages (package web), the dashboard's charts inside it (web/dashboard), and
// /metrics, /healthz and /readyz (web/ops). srv is the embedded broker, nil
// with an external one or a NATS node. proxies are the reverse proxies
// whose X-Forwarded-For tells the client's address.
// metricsToken, if not empty, is the bearer token /metrics wants. rep, if
// not nil, gives the journal's figures (--ha).
func newWeb(h *hub.Hub, ts *tickets.Store, db *bolt.DB, srv *broker.Server, secure bool, proxies []netip.Prefix, metricsToken string, rep func() ops.ReplicaStats, log *slog.Logger) (*web.Server, error) {
	dash, err := dashboard.New(&dashboard.Options{Config: h.Config(), Alerts: h, Devices: h, Tickets: ts})
	if err != nil {
		return nil, err
	}
	var ws *web.Server // set below; the metrics read it only when scraped
	oo := &ops.Options{
		Hub:          h,
		HTTP:         func() ops.HTTPStats { return httpStats(ws.Stats()) },
		Checks:       []ops.Check{ops.HubConnected(h.Ready(), h.Connected), ops.StoreOpen(db)},
		Replica:      rep,
		MetricsToken: metricsToken,
		Logger:       log,
	}
	if srv != nil {
		oo.Broker = srv.Stats
	}
	oh := ops.New(oo).Handler()
	ws, err = web.New(&web.Options{
		Hub: h, Tickets: ts, DB: db, Secure: secure, Logger: log, ClientIP: web.ForwardedFor(proxies),
		Dashboard: func(w io.Writer, community, lang string) error {
			return dash.Render(w, dashboard.Scope{Community: community}, lang)
		},
		Extra: map[string]http.Handler{"/metrics": oh, "/healthz": oh, "/readyz": oh},
	})
	return ws, err
}

// httpStats turns the web server's figures into the metrics' form: its
// latency buckets are cumulative with a last +Inf bucket, the metrics'
// are counts per bucket.
func httpStats(s web.Stats) ops.HTTPStats {
	out := ops.HTTPStats{RefusedLogins: s.LoginsRefused, SSEClients: int(s.LiveClients)}
	h := ops.HistogramSnapshot{Bounds: s.LatencyBuckets, Sum: s.LatencySum}
	var prev uint64
	for i, c := range s.Latency {
		if i < len(s.LatencyBuckets) {
			h.Counts = append(h.Counts, c-prev)
		}
		prev = c
	}
	h.Count = prev
	out.Latency = h
	return out
}
