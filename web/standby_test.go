package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"linli/web"
)

// TestStandby: every page of a standby hub answers 503 with Retry-After,
// in the visitor's language, naming the active hub when it is known; the
// extra handlers, the static files and the language switch work; on a
// phone the page passes the layout check (LINLI_SCREENS=DIR keeps it).
func TestStandby(t *testing.T) {
	active := "hub-b"
	h, err := web.Standby(&web.StandbyOptions{
		Active: func() string { return active },
		Extra: map[string]http.Handler{"GET /healthz": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Write([]byte("ok\n"))
		})},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	get := func(path string, cookies ...*http.Cookie) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		_, _ = io.Copy(&b, resp.Body)
		return resp, b.String()
	}
	resp, body := get("/alerts")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
		!strings.Contains(body, "值守的是 hub-b") || resp.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("GET /alerts: %s, Retry-After %q:\n%s", resp.Status, resp.Header.Get("Retry-After"), body)
	}
	resp, _ = get("/lang/en?next=/alerts")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/alerts" {
		t.Fatalf("GET /lang/en: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	if _, body := get("/alerts", resp.Cookies()...); !strings.Contains(body, "the active hub is hub-b") {
		t.Errorf("in English:\n%s", body)
	}
	active = ""
	if _, body := get("/"); !strings.Contains(body, "即将接管") {
		t.Errorf("with no active hub known:\n%s", body)
	}
	active = "hub-b"
	if resp, body := get("/healthz"); resp.StatusCode != 200 || body != "ok\n" {
		t.Errorf("GET /healthz: %s %q", resp.Status, body)
	}
	if resp, _ := get("/static/app.css"); resp.StatusCode != 200 {
		t.Errorf("GET /static/app.css: %s", resp.Status)
	}

	e := getEnv(t)
	tab := e.tab(t, 390, 844)
	file := ""
	if dir := os.Getenv("LINLI_SCREENS"); dir != "" {
		file = filepath.Join(dir, "standby-390x844-zh.png")
	}
	shoot(t, tab, srv.URL+"/alerts", file)
}
