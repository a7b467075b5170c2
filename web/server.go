package web

import (
	"context"
	"crypto/tls"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"linli/grid/hub"
	"linli/grid/tickets"
	"linli/kiosk/catalog"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Options configures a Server. Hub, Tickets and DB are required; the zero
// value of the other fields means their default.
type Options struct {
	// Hub is the running hub: requests, live changes, the configuration.
	Hub *hub.Hub
	// Tickets is the hub's ticket store, read for residents' public pages.
	Tickets *tickets.Store
	// DB is the hub's bbolt file; sessions and web ticket numbers are kept
	// in buckets of their own ("web.sessions", "web.ticketno").
	DB *bolt.DB
	// Catalog holds the report categories; default catalog.Default(), the
	// kiosk's.
	Catalog *catalog.Catalog
	// Secure marks cookies Secure: set it when serving over TLS.
	Secure bool
	// Device is the device id of web reports and ratings. Default "web".
	Device string
	// TicketPrefix is the ticket number prefix of web reports, which no
	// kiosk may use. Default "WEB".
	TicketPrefix string
	// SessionTTL is how long a login lasts. Default 12 h.
	SessionTTL time.Duration
	// MaxBody bounds a request body, in bytes. Default 64 KiB.
	MaxBody int64
	// Anonymous is the per-IP token bucket of pages served without a login:
	// Burst requests at once, refilled at Rate per second. Defaults 60 and 2.
	AnonymousBurst float64
	AnonymousRate  float64
	// Dashboard, when set, renders the /dashboard fragment of community
	// (empty for the whole subdistrict) in lang ("zh" or "en") inside the
	// console's layout, for community and subdistrict workers only.
	Dashboard func(w io.Writer, community, lang string) error
	// Extra handlers served as they are, outside the console (e.g.
	// "/metrics", "/healthz", "/readyz"). Keys are ServeMux patterns.
	Extra map[string]http.Handler
	// ClientIP tells the client's address of a request, for rate limits
	// and the login throttle. Default: the connection's remote address
	// (the web trusts no forwarding header); behind a reverse proxy, use
	// ForwardedFor with the proxy's addresses.
	ClientIP func(r *http.Request) string
	// Clock tells the time; default time.Now.
	Clock func() time.Time
	// Logger receives the web's log lines; default slog.Default().
	Logger *slog.Logger
}

func (o *Options) ensureDefaults() {
	if o.Catalog == nil {
		o.Catalog = catalog.Default()
	}
	if o.Device == "" {
		o.Device = "web"
	}
	if o.TicketPrefix == "" {
		o.TicketPrefix = "WEB"
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = 12 * time.Hour
	}
	if o.MaxBody <= 0 {
		o.MaxBody = 64 << 10
	}
	if o.AnonymousBurst <= 0 {
		o.AnonymousBurst = 60
	}
	if o.AnonymousRate <= 0 {
		o.AnonymousRate = 2
	}
	if o.ClientIP == nil {
		o.ClientIP = remoteIP
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// ErrOptions means a required option is missing.
var ErrOptions = errors.New("web: missing option")

// Server is the web front-end. It is an http.Handler; Close ends its live
// streams.
type Server struct {
	opts  Options
	hub   *hub.Hub
	log   *slog.Logger
	tmpl  *template.Template
	mux   *http.ServeMux
	sess  *sessions
	nums  numberer
	anon  *buckets
	login *throttle
	stats counters
	// streams counts anonymous live pages per address.
	streams streamSlots
	// cards are the alert cards the live streams push.
	cards cardCache
	// elsewhere holds the workers the other hubs of a shared broker last
	// answered (worker id → true): only they get those hubs' alerts live.
	elsewhere sync.Map

	done     chan struct{} // closed by Close: live streams end
	closeOne sync.Once
	mu       sync.Mutex // guards closed, so that no stream starts after Close
	closed   bool
	wg       sync.WaitGroup // live streams
}

// New returns a Server for the hub in opts.
func New(opts *Options) (*Server, error) {
	if opts == nil || opts.Hub == nil || opts.Tickets == nil || opts.DB == nil {
		return nil, fmt.Errorf("%w: Hub, Tickets and DB are required", ErrOptions)
	}
	o := *opts
	o.ensureDefaults()
	s := &Server{
		opts:  o,
		hub:   o.Hub,
		log:   o.Logger.With("component", "web"),
		mux:   http.NewServeMux(),
		anon:  newBuckets(o.AnonymousBurst, o.AnonymousRate, o.Clock),
		login: newThrottle(o.Clock),
		done:  make(chan struct{}),
	}
	var err error
	if s.sess, err = openSessions(o.DB, o.SessionTTL, o.Clock); err != nil {
		return nil, err
	}
	if s.nums, err = newNumberer(o.DB, o.TicketPrefix); err != nil {
		return nil, err
	}
	if s.tmpl, err = template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html"); err != nil {
		return nil, fmt.Errorf("web: templates: %w", err)
	}
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	m := s.mux
	static, _ := fs.Sub(assetFS, "assets")
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	m.Handle("GET /static/", s.public(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	}))
	m.HandleFunc("GET /lang/{lang}", s.setLang)

	m.Handle("GET /{$}", s.public(s.home))
	m.Handle("GET /t", s.public(s.trackForm))
	m.Handle("GET /t/{num}", s.public(s.ticketPage))
	m.Handle("GET /t/{num}/events", s.public(s.ticketEvents))
	m.Handle("POST /t/{num}/rate", s.public(s.rate))
	m.Handle("GET /report", s.public(s.reportForm))
	m.Handle("POST /report", s.public(s.report))
	m.Handle("GET /c/{community}", s.public(s.communityPage))
	m.Handle("GET /login", s.public(s.loginForm))
	m.Handle("POST /login", s.public(s.doLogin))

	m.Handle("POST /logout", s.worker(s.logout))
	m.Handle("GET /alerts", s.worker(s.alertsPage))
	m.Handle("POST /alerts/{id}/ack", s.worker(s.ack))
	m.Handle("POST /devices/{id}/reset", s.worker(s.reset))
	m.Handle("GET /tickets", s.worker(s.ticketsPage))
	m.Handle("GET /tickets/{num}", s.worker(s.ticketDetail))
	m.Handle("POST /tickets/{num}/{verb}", s.worker(s.ticketAct))
	m.Handle("GET /wishes", s.worker(s.wishesPage))
	m.Handle("POST /wishes/{id}/{verb}", s.worker(s.wishAct))
	m.Handle("GET /notices", s.worker(s.noticesPage))
	m.Handle("POST /notices", s.worker(s.publishNotice))
	m.Handle("GET /devices", s.worker(s.devicesPage))
	m.Handle("GET /dashboard", s.worker(s.dashboard))
	m.Handle("GET /events", s.worker(s.consoleEvents))

	for pattern, h := range s.opts.Extra {
		m.Handle(pattern, h)
	}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.opts.Clock()
	s.stats.requests.Add(1)
	securityHeaders(w.Header())
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBody)
	}
	rec := &statusWriter{ResponseWriter: w, code: http.StatusOK}
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") && !strings.HasSuffix(r.URL.Path, "/events") {
		z := newGzipWriter(rec)
		defer z.Close()
		s.mux.ServeHTTP(z, r)
	} else {
		s.mux.ServeHTTP(rec, r)
	}
	if rec.code >= 400 {
		s.stats.errors.Add(1)
	}
	if !rec.stream {
		s.stats.observe(time.Since(start))
	}
}

// securityHeaders sets the headers every answer carries.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
}

// statusWriter notes the status code of a response.
type statusWriter struct {
	http.ResponseWriter
	code   int
	stream bool
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// Flush implements http.Flusher for the live streams.
func (w *statusWriter) Flush() {
	w.stream = true
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Close ends the live streams and waits for them. The Server still serves
// ordinary pages; stop the http.Server first.
func (s *Server) Close() error {
	s.closeOne.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.done)
	})
	s.wg.Wait()
	return nil
}

// ListenAndServe serves on addr (TLS when certFile and keyFile are set)
// until ctx is done, then shuts down within five seconds. ready, when not
// nil, is called with the listening address.
func (s *Server) ListenAndServe(ctx context.Context, addr, certFile, keyFile string, ready func(addr string)) error {
	return listenAndServe(ctx, s, addr, certFile, keyFile, s.log, ready, func() { s.Close() })
}

// ListenAndServe serves h as Server.ListenAndServe does (the standby's
// pages, Standby).
func ListenAndServe(ctx context.Context, h http.Handler, addr, certFile, keyFile string, log *slog.Logger, ready func(addr string)) error {
	if log == nil {
		log = slog.Default()
	}
	return listenAndServe(ctx, h, addr, certFile, keyFile, log, ready, func() {})
}

// listenAndServe serves h; closing, called before the shutdown, ends what
// would keep it waiting (event streams).
func listenAndServe(ctx context.Context, h http.Handler, addr, certFile, keyFile string, log *slog.Logger, ready func(addr string), closing func()) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("web: listen: %w", err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			ln.Close()
			return fmt.Errorf("web: tls: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}})
	}
	if ready != nil {
		ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		closing()
		return fmt.Errorf("web: serve: %w", err)
	case <-ctx.Done():
	}
	closing() // the streams end, so Shutdown need not wait for them
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("web: shutdown: %w", err)
	}
	return nil
}

// remoteIP is the request's remote address without the port.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// localPath returns p when it is a path on this site, else fallback.
func localPath(p, fallback string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || strings.ContainsAny(p, "\r\n") {
		return fallback
	}
	return p
}

// Stats are the web's counters.
type Stats struct {
	Requests       uint64    // requests served
	Errors         uint64    // answered with a 4xx or 5xx
	LoginsRefused  uint64    // wrong password or throttled
	Throttled      uint64    // logins refused by the throttle without checking
	CSRFRefused    uint64    // changes without a valid token
	RateLimited    uint64    // anonymous requests over their IP's budget
	LiveClients    int64     // open event streams
	LatencyBuckets []float64 // upper bounds in seconds of Latency's buckets
	Latency        []uint64  // requests (not streams) per bucket, cumulative as Prometheus wants; the last is +Inf
	LatencySum     float64   // seconds
}

// latencyBounds are the fixed buckets of the request latency histogram.
var latencyBounds = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}

type counters struct {
	requests, errors, loginsRefused, throttled, csrf, limited atomic.Uint64
	live                                                      atomic.Int64
	mu                                                        sync.Mutex
	hist                                                      [12]uint64
	sum                                                       float64
}

func (c *counters) observe(d time.Duration) {
	sec := d.Seconds()
	i := len(latencyBounds)
	for j, b := range latencyBounds {
		if sec <= b {
			i = j
			break
		}
	}
	c.mu.Lock()
	c.hist[i]++
	c.sum += sec
	c.mu.Unlock()
}

// Stats returns the web's counters.
func (s *Server) Stats() Stats {
	c := &s.stats
	st := Stats{
		Requests: c.requests.Load(), Errors: c.errors.Load(), LoginsRefused: c.loginsRefused.Load(),
		Throttled: c.throttled.Load(), CSRFRefused: c.csrf.Load(), RateLimited: c.limited.Load(),
		LiveClients: c.live.Load(), LatencyBuckets: append([]float64(nil), latencyBounds...),
	}
	c.mu.Lock()
	var cum uint64
	for _, n := range c.hist {
		cum += n
		st.Latency = append(st.Latency, cum)
	}
	st.LatencySum = c.sum
	c.mu.Unlock()
	return st
}
