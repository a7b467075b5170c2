// Package ops serves gridhub's operations endpoints: /metrics in the
// Prometheus text exposition format 0.0.4, /healthz (the process answers)
// and /readyz (the hub can do its job: connected to the broker, store
// open).
//
// The exposition writer is hand-written (no client library): HELP and TYPE
// lines for every family, label values escaped (\\, \", \n), counters with
// _total, histograms as cumulative _bucket{le="…"} series ending in
// le="+Inf", then _sum and _count. Families are written in a fixed order
// and series sorted by labels, so the output is stable for golden files and
// diffs.
//
// Sources are taken through small interfaces and func fields in Options,
// so that the hub, the broker and the web server each keep their own
// counters: the hub's Stats, Devices and active Alerts; the broker's
// refusal counters (Options.Broker); the web server's refused logins, SSE
// clients and request latency histogram (Options.HTTP); and any further
// counters as a name → value map (Options.Counters), for counters added
// after this package was written. A nil source is left out of /metrics.
//
// The web server can time its requests with Instrument and a Histogram of
// this package, and hand the Snapshot to Options.HTTP.
//
// Role gating and TLS are the web server's: mount Handler where only
// operators reach it, or behind the server's own checks.
package ops
