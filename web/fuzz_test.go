package web

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"linli/grid/config"
	"linli/grid/hub"
	"linli/grid/tickets"
)

// offlineServer is a Server on a hub that never runs: enough for the form
// decoders and the pages that only read.
func offlineServer(t testing.TB) *Server {
	t.Helper()
	cfg, err := config.Parse(config.Example())
	if err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(filepath.Join(t.TempDir(), "hub.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := hub.New(db, cfg, &hub.Options{Broker: "tcp://127.0.0.1:1", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ts, err := tickets.Open(db, &tickets.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(&Options{Hub: h, Tickets: ts, DB: db, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// FuzzReportForm: whatever a phone sends as the report form, the decoder
// does not panic, and what it accepts is a valid report of a configured
// building, with a phone only with consent.
func FuzzReportForm(f *testing.F) {
	for _, s := range []string{
		"category=leak&building=east/b1&unit=1&door=301&phrase=水管漏水&phone=13800138000&consent=1",
		"category=leak&building=east/b1&phone=13800138000",
		"category=meter-box&building=east/b9", "category=&building=", "building=east/b1/x&category=leak",
		"category=leak&building=east/b1&text=" + strings.Repeat("字", 400), "%zz", "a=1&a=2&phrase=&phrase=冒烟",
	} {
		f.Add(s)
	}
	s := offlineServer(f)
	f.Fuzz(func(t *testing.T, q string) {
		form, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		rep, err := s.reportFrom(form)
		if err != nil {
			return
		}
		rep.Number = "WEB-261205-00013"
		if err := rep.Validate(); err != nil {
			t.Fatalf("accepted %q as an invalid report: %v", q, err)
		}
		if _, ok := s.hub.Config().GridOf(rep.Location.Community, rep.Location.Building); !ok {
			t.Fatalf("accepted %q for an unknown building %+v", q, rep.Location)
		}
		if rep.Phone != "" && !rep.Consent {
			t.Fatalf("accepted %q with a phone but no consent", q)
		}
	})
}

// FuzzRequests: no request line and body make the server panic or answer
// 5xx.
func FuzzRequests(f *testing.F) {
	for _, s := range [][3]string{
		{"GET", "/t/K1-261127-00423", ""}, {"POST", "/report", "csrf=x&category=leak"}, {"GET", "/c/east", ""},
		{"POST", "/login", "user=w-li&password=li-dev"}, {"GET", "/lang/en?next=//evil", ""}, {"GET", "/t?n=%00", ""},
		{"POST", "/t/x/rate", "rating=satisfied"}, {"GET", "/static/../../etc/passwd", ""},
	} {
		f.Add(s[0], s[1], s[2])
	}
	s := offlineServer(f)
	f.Fuzz(func(t *testing.T, method, target, body string) {
		if method != "GET" && method != "POST" {
			return
		}
		u, err := url.ParseRequestURI(target)
		if err != nil || !strings.HasPrefix(u.Path, "/") || strings.HasSuffix(u.Path, "/events") {
			return
		}
		r, err := http.NewRequest(method, "http://hub"+u.RequestURI(), strings.NewReader(body))
		if err != nil || strings.ContainsAny(u.RequestURI(), " \t\r\n") {
			return
		}
		r.RemoteAddr = "192.0.2.1:1234"
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", method, target, body, w.Code, w.Body.String())
		}
		if loc := w.Header().Get("Location"); strings.HasPrefix(loc, "//") || strings.Contains(loc, "://") {
			t.Fatalf("%s %s redirects off the site to %q", method, target, loc)
		}
	})
}
