package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"linli/grid/config"
)

// Cookies.
const (
	cookieSession = "linli_session"
	cookieCSRF    = "linli_csrf" // double-submit token of the forms anyone may send
	cookieLang    = "linli_lang"
)

var bucketSessions = []byte("web.sessions")

// session is a stored login. Only the sha256 of its token is kept, so a
// copy of the database logs nobody in.
type session struct {
	Worker  string    `json:"worker"`
	CSRF    string    `json:"csrf"`
	Expires time.Time `json:"expires"`
	// Key ties the session to the worker's stored password: a new
	// password in the configuration ends the old logins.
	Key string `json:"key"`
}

// passwordKey is a short tag of a stored password.
func passwordKey(stored string) string {
	h := sha256.Sum256([]byte("linli web session\x00" + stored))
	return hex.EncodeToString(h[:8])
}

// sessions keeps logins in the hub's bbolt file: they survive a restart.
type sessions struct {
	db    *bolt.DB
	ttl   time.Duration
	clock func() time.Time
}

func openSessions(db *bolt.DB, ttl time.Duration, clock func() time.Time) (*sessions, error) {
	err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketSessions)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("web: sessions: %w", err)
	}
	return &sessions{db: db, ttl: ttl, clock: clock}, nil
}

func token() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func tokenKey(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return []byte(hex.EncodeToString(h[:]))
}

// create stores a new session of worker and returns its token. Expired
// sessions are pruned on the way.
func (s *sessions) create(worker config.Worker) (string, session, error) {
	tok := token()
	now := s.clock()
	se := session{Worker: worker.ID, CSRF: token(), Expires: now.Add(s.ttl), Key: passwordKey(worker.Password)}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSessions)
		var old [][]byte
		_ = b.ForEach(func(k, v []byte) error {
			var o session
			if json.Unmarshal(v, &o) != nil || !now.Before(o.Expires) {
				old = append(old, k)
			}
			return nil
		})
		for _, k := range old {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		v, err := json.Marshal(se)
		if err != nil {
			return err
		}
		return b.Put(tokenKey(tok), v)
	})
	if err != nil {
		return "", session{}, fmt.Errorf("web: store session: %w", err)
	}
	return tok, se, nil
}

// get returns the live session of tok.
func (s *sessions) get(tok string) (session, bool) {
	if tok == "" || len(tok) > 100 {
		return session{}, false
	}
	var se session
	found := false
	_ = s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketSessions).Get(tokenKey(tok)); v != nil {
			found = json.Unmarshal(v, &se) == nil
		}
		return nil
	})
	if !found || !s.clock().Before(se.Expires) {
		return session{}, false
	}
	return se, true
}

func (s *sessions) remove(tok string) error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketSessions).Delete(tokenKey(tok)) })
}

// throttle slows down password guessing, per account and per client IP:
// after three failures each further attempt must wait twice as long as the
// one before (1 s, 2 s, 4 s … up to 15 min). A success clears the account's
// and the address's count.
type throttle struct {
	mu    sync.Mutex
	clock func() time.Time
	fails map[string]*failures
}

type failures struct {
	n    int
	last time.Time
}

const (
	throttleFree = 3
	throttleMax  = 15 * time.Minute
)

func newThrottle(clock func() time.Time) *throttle {
	return &throttle{clock: clock, fails: map[string]*failures{}}
}

func (t *throttle) wait(f *failures) time.Duration {
	if f == nil || f.n < throttleFree {
		return 0
	}
	d := time.Second << min(f.n-throttleFree, 20)
	return min(d, throttleMax)
}

// allowed reports whether a login for keys may be tried now.
func (t *throttle) allowed(keys ...string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.clock()
	for _, k := range keys {
		if f := t.fails[k]; f != nil && now.Before(f.last.Add(t.wait(f))) {
			return false
		}
	}
	return true
}

func (t *throttle) fail(keys ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.clock()
	if len(t.fails) > 100000 { // an attack from many addresses: forget the old
		for k, f := range t.fails {
			if now.Sub(f.last) > throttleMax {
				delete(t.fails, k)
			}
		}
	}
	for _, k := range keys {
		f := t.fails[k]
		if f == nil {
			f = &failures{}
			t.fails[k] = f
		}
		f.n++
		f.last = now
	}
}

func (t *throttle) succeed(keys ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range keys {
		delete(t.fails, k)
	}
}

// buckets are per-IP token buckets for anonymous requests.
type buckets struct {
	mu          sync.Mutex
	burst, rate float64
	clock       func() time.Time
	m           map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newBuckets(burst, rate float64, clock func() time.Time) *buckets {
	return &buckets{burst: burst, rate: rate, clock: clock, m: map[string]*bucket{}}
}

// take takes cost tokens of ip's bucket, reporting whether there were.
func (b *buckets) take(ip string, cost float64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock()
	if len(b.m) > 100000 {
		for k, v := range b.m {
			if now.Sub(v.at).Seconds()*b.rate > b.burst {
				delete(b.m, k)
			}
		}
	}
	k := b.m[ip]
	if k == nil {
		k = &bucket{tokens: b.burst, at: now}
		b.m[ip] = k
	}
	k.tokens = math.Min(b.burst, k.tokens+now.Sub(k.at).Seconds()*b.rate)
	k.at = now
	if k.tokens < cost {
		return false
	}
	k.tokens -= cost
	return true
}

// visitor is who makes a request: a logged-in worker or nobody.
type visitor struct {
	worker config.Worker
	token  string
	sess   session
	// partial: another hub of the shared broker did not answer one of
	// the page's lists in time (Server.do); the page says so.
	partial bool
}

type ctxKey struct{}

func visitorOf(r *http.Request) *visitor { return visitorFrom(r.Context()) }

func visitorFrom(ctx context.Context) *visitor {
	v, _ := ctx.Value(ctxKey{}).(*visitor)
	return v
}

// lookup returns the worker logged in by r's cookie, if any. A session of
// a worker no longer in the configuration, or whose password changed
// since, is refused.
func (s *Server) lookup(r *http.Request) *visitor {
	c, err := r.Cookie(cookieSession)
	if err != nil {
		return nil
	}
	se, ok := s.sess.get(c.Value)
	if !ok {
		return nil
	}
	w, ok := s.hub.Config().Worker(se.Worker)
	if !ok || subtle.ConstantTimeCompare([]byte(se.Key), []byte(passwordKey(w.Password))) != 1 {
		return nil
	}
	return &visitor{worker: w, token: c.Value, sess: se}
}

// public wraps a handler anyone may call: rate-limited per IP unless a
// worker is logged in; changes (POST) need the double-submit CSRF token.
func (s *Server) public(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := s.lookup(r)
		if v == nil {
			cost := 1.0
			if r.Method == http.MethodPost {
				cost = 10
			}
			if !s.anon.take(s.opts.ClientIP(r), cost) {
				s.stats.limited.Add(1)
				w.Header().Set("Retry-After", "10")
				s.fail(w, r, http.StatusTooManyRequests, "err.busy", nil)
				return
			}
		}
		if r.Method == http.MethodPost && !s.formOK(w, r, v) {
			return
		}
		if v != nil {
			r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, v))
		}
		h(w, r)
	})
}

// worker wraps a handler of the console: it needs a login (pages redirect
// to /login, anything else gets 401), and changes need the session's
// CSRF token.
func (s *Server) worker(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := s.lookup(r)
		if v == nil {
			if r.Method == http.MethodGet && r.Header.Get("Accept") != "text/event-stream" {
				redirect(w, r, "/login?next="+urlEscape(r.URL.RequestURI()))
				return
			}
			s.fail(w, r, http.StatusUnauthorized, "err.forbidden", nil)
			return
		}
		if r.Method == http.MethodPost && !s.formOK(w, r, v) {
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, v)))
	})
}

// formOK parses a change's form and checks its CSRF token, answering
// the refusal itself.
func (s *Server) formOK(w http.ResponseWriter, r *http.Request, v *visitor) bool {
	if err := r.ParseForm(); err != nil {
		code := http.StatusBadRequest
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			code = http.StatusRequestEntityTooLarge
		}
		s.fail(w, r, code, "err.bad", err)
		return false
	}
	if !s.csrfOK(r, v) {
		s.refuseCSRF(w, r)
		return false
	}
	return true
}

// csrfOK checks the form's csrf field: against the session's token for a
// worker, else against the csrf cookie (double submit).
func (s *Server) csrfOK(r *http.Request, v *visitor) bool {
	got := r.PostFormValue("csrf")
	want := ""
	if v != nil {
		want = v.sess.CSRF
	} else if c, err := r.Cookie(cookieCSRF); err == nil {
		want = c.Value
	}
	return want != "" && got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

func (s *Server) refuseCSRF(w http.ResponseWriter, r *http.Request) {
	s.stats.csrf.Add(1)
	s.log.Info("change refused: no valid csrf token", "path", r.URL.Path, "ip", s.opts.ClientIP(r))
	s.fail(w, r, http.StatusForbidden, "err.csrf", nil)
}

// csrfFor returns the token a form of r's page must carry, setting the
// double-submit cookie for a visitor without a login.
func (s *Server) csrfFor(w http.ResponseWriter, r *http.Request) string {
	if v := visitorOf(r); v != nil {
		return v.sess.CSRF
	}
	if c, err := r.Cookie(cookieCSRF); err == nil && len(c.Value) >= 32 && len(c.Value) <= 64 {
		return c.Value
	}
	tok := token()
	s.setCookie(w, cookieCSRF, tok, 0)
	return tok
}

func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "login", &page{Title: "login.title", Next: localPath(r.URL.Query().Get("next"), "/alerts")})
}

// errThrottled and errWrong are the login refusals.
var (
	errThrottled = errors.New("web: login throttled")
	errWrong     = errors.New("web: wrong worker id or password")
)

func (s *Server) checkLogin(r *http.Request, id, password string) (config.Worker, error) {
	keys := []string{"id:" + id, "ip:" + s.opts.ClientIP(r)}
	if !s.login.allowed(keys...) {
		s.stats.throttled.Add(1)
		return config.Worker{}, errThrottled
	}
	w, ok := s.hub.Config().Worker(id)
	stored := w.Password
	if !ok {
		stored = "sha256:" // never matches, costs the same
	}
	if !config.CheckPassword(stored, password) || !ok {
		s.login.fail(keys...)
		return config.Worker{}, errWrong
	}
	s.login.succeed(keys...)
	return w, nil
}

func (s *Server) doLogin(w http.ResponseWriter, r *http.Request) {
	id, pw := r.PostFormValue("user"), r.PostFormValue("password")
	next := localPath(r.PostFormValue("next"), "/alerts")
	wk, err := s.checkLogin(r, id, pw)
	if err != nil {
		s.stats.loginsRefused.Add(1)
		s.log.Info("login refused", "worker", id, "ip", s.opts.ClientIP(r), "error", err)
		code, msg := http.StatusUnauthorized, "login.wrong"
		if errors.Is(err, errThrottled) {
			code, msg = http.StatusTooManyRequests, "login.throttled"
		}
		s.render(w, r, code, "login", &page{Title: "login.title", Next: next, Error: msg, User: id})
		return
	}
	tok, _, err := s.sess.create(wk)
	if err != nil {
		s.log.Error("login", "error", err)
		s.fail(w, r, http.StatusInternalServerError, "err.server", nil)
		return
	}
	s.setCookie(w, cookieSession, tok, int(s.opts.SessionTTL.Seconds()))
	s.log.Info("logged in", "worker", wk.ID, "ip", s.opts.ClientIP(r))
	redirect(w, r, next)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	if err := s.sess.remove(v.token); err != nil {
		s.log.Error("logout", "error", err)
	}
	s.setCookie(w, cookieSession, "", -1)
	redirect(w, r, "/")
}

// setCookie sets cookie name for the whole site: HttpOnly, SameSite=Strict,
// and Secure when served over TLS (Options.Secure). maxAge as in
// http.Cookie (0: for the browser session, <0: delete).
func (s *Server) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	// #nosec G124 -- Secure follows Options.Secure: false only on plain HTTP, where a Secure cookie would never come back
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: s.opts.Secure,
		SameSite: http.SameSiteStrictMode, MaxAge: maxAge})
}

// redirect answers 303 See Other to path, a path on this site (callers
// pass it through localPath or build it themselves).
func redirect(w http.ResponseWriter, r *http.Request, path string) {
	http.Redirect(w, r, localPath(path, "/"), http.StatusSeeOther) // #nosec G710 -- localPath keeps it on this site
}
