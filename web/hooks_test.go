package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"linli/web"
)

// TestHooks: the dashboard hook renders inside the console for community
// and subdistrict staff only; Extra handlers are served as they are.
func TestHooks(t *testing.T) {
	e := getEnv(t)
	var gotCommunity, gotLang string
	s, err := web.New(&web.Options{Hub: e.hub, Tickets: e.tickets, DB: e.db, Logger: logger(),
		Dashboard: func(w io.Writer, community, lang string) error {
			gotCommunity, gotLang = community, lang
			_, err := io.WriteString(w, `<svg id="chart"></svg>`)
			return err
		},
		Extra: map[string]http.Handler{"GET /healthz": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	srv := httptest.NewServer(s)
	defer srv.Close()
	get := func(c *client, path string) (int, string) {
		r, err := c.c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r.StatusCode, string(b)
	}
	chen := e.client(t)
	chen.login("c-chen", "chen-dev")
	if code, body := get(chen, "/dashboard"); code != http.StatusOK || !strings.Contains(body, `<svg id="chart"></svg>`) || !strings.Contains(body, `href="/dashboard"`) {
		t.Errorf("c-chen's dashboard: %d\n%s", code, body)
	}
	if gotCommunity != "east" || gotLang != "zh" {
		t.Errorf("hook called with (%q, %q), want (east, zh)", gotCommunity, gotLang)
	}
	li := e.client(t)
	li.login("w-li", "li-dev")
	if code, body := get(li, "/dashboard"); code != http.StatusForbidden || strings.Contains(body, "chart") {
		t.Errorf("a grid worker's dashboard: %d, want 403", code)
	}
	if _, body := get(li, "/alerts"); strings.Contains(body, `href="/dashboard"`) {
		t.Error("a grid worker's console links to the dashboard")
	}
	if code, body := get(e.client(t), "/healthz"); code != http.StatusOK || body != "ok" {
		t.Errorf("/healthz: %d %q", code, body)
	}
}

// TestLiveStreamCap: one address without a login keeps at most a bounded
// number of live ticket pages open.
func TestLiveStreamCap(t *testing.T) {
	e := getEnv(t)
	n := "K1-261205-00061"
	e.kioskReport(t, n, "b1", "")
	c := e.client(t)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	refused := 0
	for i := 0; i < 20; i++ {
		req, _ := http.NewRequestWithContext(ctx, "GET", e.url+"/t/"+n+"/events", nil)
		r, err := c.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if r.StatusCode == http.StatusTooManyRequests {
			refused++
			r.Body.Close()
			continue
		}
		if r.StatusCode != http.StatusOK || r.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("stream %d: %d %s", i, r.StatusCode, r.Header.Get("Content-Type"))
		}
		wg.Add(1)
		go func() { defer wg.Done(); io.Copy(io.Discard, r.Body); r.Body.Close() }()
	}
	if refused != 20-16 {
		t.Errorf("%d of 20 streams refused, want %d", refused, 20-16)
	}
	if live := e.web.Stats().LiveClients; live < 16 {
		t.Errorf("Stats().LiveClients = %d, want ≥ 16", live)
	}
}
