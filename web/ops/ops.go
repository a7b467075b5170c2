package ops

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"linli/grid/hub"
	"linli/mqtt/broker"
	"linli/mqtt/contract"
)

// Hub is what /metrics reads of the hub; *hub.Hub implements it.
type Hub interface {
	Stats() hub.Stats
	Devices() []contract.DeviceInfo
	Alerts(cleared bool) ([]contract.Alert, error)
}

var _ Hub = (*hub.Hub)(nil)

// HTTPStats are the web server's figures.
type HTTPStats struct {
	RefusedLogins uint64            // logins refused: wrong password, throttled
	SSEClients    int               // open server-sent-event streams
	Latency       HistogramSnapshot // request latencies
}

// ReplicaStats are the figures of a hub run with others of its
// configuration (gridhub run --ha).
type ReplicaStats struct {
	Active      bool   // this process is the active hub
	Epoch       uint64 // its lease's epoch while active
	Applied     uint64 // journal sequence its file holds
	Compactions uint64 // journal compactions it made
	Restores    uint64 // files it restored from a snapshot
}

// Check is one readiness condition: nil when satisfied, else an error
// saying what is missing. It must return quickly; ctx bounds it.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// Options configures the operations endpoints. Every source is optional: a
// nil one is left out of /metrics.
type Options struct {
	// Hub gives the hub's counters, devices and active alerts.
	Hub Hub
	// Broker gives the embedded broker's refusal counters; nil with an
	// external broker.
	Broker func() broker.Stats
	// HTTP gives the web server's figures.
	HTTP func() HTTPStats
	// Replica gives the journal's figures of a hub with standbys; nil
	// for a hub on its own.
	Replica func() ReplicaStats
	// Counters gives further counters by name, each written as the counter
	// linli_<name>_total (the name made a valid metric name; a trailing
	// _total is not doubled). For counters added to a source after this
	// package: wire them here without changing it.
	Counters func() map[string]uint64
	// Checks are the readiness conditions of /readyz, in order. See
	// HubConnected and StoreOpen.
	Checks []Check
	// MetricsToken, when not empty, is the bearer token /metrics wants
	// (Prometheus: authorization: {credentials_file: …}); a scrape without
	// it is refused with 401. /healthz and /readyz stay open: they tell
	// nothing but up or down, and load balancers probe them bare.
	MetricsToken string
	// CheckTimeout bounds all checks of one /readyz request. Default 2 s.
	CheckTimeout time.Duration
	// Now tells the time (for the start time gauge); default time.Now.
	Now func() time.Time
	// Logger receives failures to write a response. Default slog.Default().
	Logger *slog.Logger
}

// DefaultOptions holds the defaults applied to zero fields.
var DefaultOptions = Options{CheckTimeout: 2 * time.Second}

func (o *Options) ensureDefaults() {
	if o.CheckTimeout <= 0 {
		o.CheckTimeout = DefaultOptions.CheckTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Ops serves /metrics, /healthz and /readyz.
type Ops struct {
	o     Options
	log   *slog.Logger
	start time.Time
}

// New returns the operations endpoints over opts' sources; nil opts serves
// /healthz, an always-ready /readyz and a /metrics with the process only.
func New(opts *Options) *Ops {
	var o Options
	if opts != nil {
		o = *opts
	}
	o.ensureDefaults()
	return &Ops{o: o, log: o.Logger.With("component", "ops"), start: o.Now()}
}

// Handler serves /metrics, /healthz and /readyz; other paths are 404.
func (s *Ops) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", s.serveMetrics)
	mux.HandleFunc("GET /healthz", s.serveHealth)
	mux.HandleFunc("GET /readyz", s.serveReady)
	return mux
}

// ContentType is the media type of /metrics.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

func (s *Ops) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if s.o.MetricsToken != "" {
		scheme, got, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(got), []byte(s.o.MetricsToken)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "metrics: a bearer token is required", http.StatusUnauthorized)
			return
		}
	}
	// Rendered whole first: a source failing half-way gives a 500, not a
	// truncated 200 that a scraper would take for the truth.
	var b bytes.Buffer
	if err := s.WriteMetrics(&b); err != nil {
		s.log.Error("metrics", "error", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("Cache-Control", "no-store")
	if _, err := w.Write(b.Bytes()); err != nil {
		s.log.Debug("write metrics", "error", err, "remote", r.RemoteAddr)
	}
}

func (s *Ops) serveHealth(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = io.WriteString(w, "ok\n")
}

func (s *Ops) serveReady(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := s.Ready(r.Context()); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, strings.TrimPrefix(err.Error(), "ops: ")+"\n")
		return
	}
	_, _ = io.WriteString(w, "ready\n")
}

// ErrNotReady is wrapped by Ready's error.
var ErrNotReady = errors.New("ops: not ready")

// NotReadyError is Ready's error: the failed checks, by name. It wraps
// ErrNotReady and each check's error.
type NotReadyError struct {
	Names []string
	Errs  []error
}

func (e *NotReadyError) Error() string {
	var b strings.Builder
	b.WriteString("ops: not ready")
	for i, n := range e.Names {
		sep := "; "
		if i == 0 {
			sep = ": "
		}
		b.WriteString(sep + n + ": " + strings.TrimPrefix(e.Errs[i].Error(), "ops: "))
	}
	return b.String()
}

// Unwrap returns ErrNotReady and the checks' errors.
func (e *NotReadyError) Unwrap() []error { return append([]error{ErrNotReady}, e.Errs...) }

// Ready runs the checks in order and returns nil if all pass, else a
// *NotReadyError naming every failed check and its reason.
func (s *Ops) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.o.CheckTimeout)
	defer cancel()
	e := &NotReadyError{}
	for _, c := range s.o.Checks {
		if err := c.Fn(ctx); err != nil {
			e.Names = append(e.Names, c.Name)
			e.Errs = append(e.Errs, err)
		}
	}
	if len(e.Names) == 0 {
		return nil
	}
	return e
}

// Errors of the ready checks.
var (
	// ErrNotConnected means the hub has not connected and subscribed to
	// the broker (yet).
	ErrNotConnected = errors.New("ops: hub not connected to the broker")
	// ErrStoreClosed means the hub's bbolt store is not open.
	ErrStoreClosed = errors.New("ops: store not open")
)

// HubConnected is the check that the hub has connected to the broker and
// subscribed: ready is *hub.Hub's Ready() channel. connected, if not nil,
// tells whether the connection is up now (after the first connect the
// client reconnects by itself; a lost connection makes the hub unready
// until then).
func HubConnected(ready <-chan struct{}, connected func() bool) Check {
	return Check{Name: "broker", Fn: func(context.Context) error {
		select {
		case <-ready:
		default:
			return ErrNotConnected
		}
		if connected != nil && !connected() {
			return ErrNotConnected
		}
		return nil
	}}
}

// StoreOpen is the check that db is open and readable.
func StoreOpen(db *bolt.DB) Check {
	return Check{Name: "store", Fn: func(context.Context) error {
		if err := db.View(func(*bolt.Tx) error { return nil }); err != nil {
			return fmt.Errorf("%w: %w", ErrStoreClosed, err)
		}
		return nil
	}}
}
