package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"linli/grid/config"
	"linli/grid/hub"
	"linli/mqtt/contract"
	"linli/web"
)

// TestChangesNeedSessionAndCSRF: every POST of the console is refused
// without a session, and with a session but without (or with a wrong)
// CSRF token; public POSTs need their double-submit token.
func TestChangesNeedSessionAndCSRF(t *testing.T) {
	e := getEnv(t)
	posts := []string{"/logout", "/alerts/A00000001/ack", "/devices/mb-1/reset", "/tickets/K1-261205-00011/accept",
		"/tickets/K1-261205-00011/resolve", "/wishes/w1/claim", "/wishes/w1/done", "/notices"}
	anon := e.client(t)
	for _, p := range posts {
		if code, _ := anon.post(p, url.Values{"csrf": {"x"}}); code != http.StatusUnauthorized {
			t.Errorf("POST %s without a session: %d, want 401", p, code)
		}
	}
	c := e.client(t)
	tok := c.login("w-li", "li-dev")
	for _, p := range posts {
		for _, form := range []url.Values{{}, {"csrf": {"wrong"}}, {"csrf": {tok + "x"}}} {
			if code, _ := c.post(p, form); code != http.StatusForbidden {
				t.Errorf("POST %s with csrf %q: %d, want 403", p, form.Get("csrf"), code)
			}
		}
	}
	// Public forms: the double-submit token of the page.
	for _, p := range []string{"/report", "/login", "/t/K1-261205-00011/rate"} {
		if code, _ := e.client(t).post(p, url.Values{"rating": {"satisfied"}}); code != http.StatusForbidden {
			t.Errorf("POST %s without a token: %d, want 403", p, code)
		}
	}
	if s := e.web.Stats(); s.CSRFRefused == 0 {
		t.Errorf("Stats().CSRFRefused = 0 after refusals")
	}
	// With the token, a change goes through; logout ends the session.
	if code, body := c.post("/logout", url.Values{"csrf": {tok}}); code != http.StatusSeeOther {
		t.Fatalf("logout: %d %s", code, body)
	}
	if code, _ := c.get("/alerts"); code != http.StatusSeeOther {
		t.Errorf("GET /alerts after logout: %d, want a redirect to /login", code)
	}
}

// TestOtherGridRefused: a grid worker neither sees nor acts on another
// grid's alerts and tickets.
func TestOtherGridRefused(t *testing.T) {
	e := getEnv(t)
	d := e.device(t, "mb-2") // building b4: grid g2
	d.send(t, &contract.Birth{Device: "mb-2", Kind: "sensor", Session: 1, Firmware: "1.0.0"}, "birth", true)
	d.event(t, "residual", contract.StatePreAlarm, contract.StateAlarm, "threshold")
	var id string
	eventually(t, "mb-2's alert", func() bool {
		as, _ := e.hub.Alerts(false)
		for _, a := range as {
			if a.Device == "mb-2" {
				id = a.ID
				return true
			}
		}
		return false
	})
	defer d.event(t, "residual", contract.StateAlarm, contract.StateNormal, "reset")
	n := "K1-261205-00021"
	e.kioskReport(t, n, "b5", "13600001234") // grid g2

	li := e.client(t)
	tok := li.login("w-li", "li-dev")
	if _, body := li.get("/alerts"); strings.Contains(body, id) {
		t.Errorf("w-li's alerts page shows %s of grid g2", id)
	}
	if code, _ := li.post("/alerts/"+id+"/ack", url.Values{"csrf": {tok}}); code != http.StatusForbidden {
		t.Errorf("w-li acks g2's alert: %d, want 403", code)
	}
	if code, _ := li.post("/devices/mb-2/reset", url.Values{"csrf": {tok}}); code != http.StatusForbidden {
		t.Errorf("w-li resets g2's device: %d, want 403", code)
	}
	if code, _ := li.post("/tickets/"+n+"/accept", url.Values{"csrf": {tok}}); code != http.StatusForbidden {
		t.Errorf("w-li accepts g2's ticket: %d, want 403", code)
	}
	if _, body := li.get("/tickets?scope=grid"); strings.Contains(body, n) {
		t.Errorf("w-li's grid tickets list %s of g2", n)
	}
	as, _ := e.hub.Alerts(false)
	for _, a := range as {
		if a.ID == id && a.AckedBy != "" {
			t.Fatalf("alert %s acknowledged by %s", id, a.AckedBy)
		}
	}
	// Its own grid's worker (sha256 password) may.
	wang := e.client(t)
	wt := wang.login("w-wang", "wang-dev")
	if _, body := wang.get("/alerts"); !strings.Contains(body, id) {
		t.Errorf("w-wang's alerts page lacks %s", id)
	}
	if code, body := wang.post("/alerts/"+id+"/ack", url.Values{"csrf": {wt}}); code != http.StatusSeeOther {
		t.Errorf("w-wang acks: %d %s", code, body)
	}
	if code, body := wang.post("/tickets/"+n+"/accept", url.Values{"csrf": {wt}}); code != http.StatusSeeOther {
		t.Errorf("w-wang accepts: %d %s", code, body)
	}
	if _, body := wang.get("/tickets/" + n); !strings.Contains(body, "13600001234") {
		t.Error("the worker's ticket page lacks the phone the resident agreed to give")
	}
}

// TestLoginThrottle: after three wrong passwords the right one is refused
// for a while, for the account from anywhere.
func TestLoginThrottle(t *testing.T) {
	e := getEnv(t)
	c := e.client(t)
	tok := c.csrf("/login")
	for i := 0; i < 3; i++ {
		if code, _ := c.post("/login", url.Values{"csrf": {tok}, "user": {"s-liu"}, "password": {"guess"}}); code != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d, want 401", i, code)
		}
	}
	before := e.web.Stats()
	code, body := c.post("/login", url.Values{"csrf": {tok}, "user": {"s-liu"}, "password": {"liu-dev"}})
	if code != http.StatusTooManyRequests || !strings.Contains(body, "尝试次数过多") {
		t.Fatalf("right password after three wrong ones: %d, want 429", code)
	}
	if s := e.web.Stats(); s.Throttled <= before.Throttled || s.LoginsRefused <= before.LoginsRefused {
		t.Errorf("stats did not count the throttled login: %+v", s)
	}
	// The bcrypt password of another account logs in from elsewhere... but
	// not from this address, which is throttled too.
	if code, _ := c.post("/login", url.Values{"csrf": {tok}, "user": {"c-chen"}, "password": {"chen-dev"}}); code != http.StatusTooManyRequests {
		t.Errorf("login from the throttled address: %d, want 429", code)
	}
}

// TestBadRequests: malformed and oversized requests get a 4xx, and the
// server goes on serving.
func TestBadRequests(t *testing.T) {
	e := getEnv(t)
	c := e.client(t)
	tok := c.csrf("/report")
	big := strings.Repeat("x", 200<<10)
	cases := []struct {
		method, path, body, ctype string
		want                      int
	}{
		{"POST", "/report", "csrf=" + tok + "&text=" + big, "application/x-www-form-urlencoded", http.StatusRequestEntityTooLarge},
		{"POST", "/report", "csrf=" + tok + "&%zz=1", "application/x-www-form-urlencoded", http.StatusBadRequest},
		{"POST", "/report", "csrf=" + tok + "&category=nope&building=east/b1", "application/x-www-form-urlencoded", http.StatusBadRequest},
		{"POST", "/report", "csrf=" + tok + "&category=leak&building=west/b9", "application/x-www-form-urlencoded", http.StatusBadRequest},
		{"POST", "/report", "csrf=" + tok + "&category=leak&building=east/b1&phone=123&consent=1", "application/x-www-form-urlencoded", http.StatusBadRequest},
		{"POST", "/report", "csrf=" + tok + "&category=leak&building=east/b1&unit=%3Cscript%3E", "application/x-www-form-urlencoded", http.StatusBadRequest},
		{"POST", "/t/K1-261205-00011/rate", "csrf=" + tok + "&rating=great", "application/x-www-form-urlencoded", http.StatusBadRequest},
		{"POST", "/t/NOPE-1/rate", "csrf=" + tok + "&rating=satisfied", "application/x-www-form-urlencoded", http.StatusNotFound},
		{"GET", "/t/%00%01", "", "", http.StatusNotFound},
		{"GET", "/t/" + strings.Repeat("9", 5000), "", "", http.StatusNotFound},
		{"GET", "/c/nowhere", "", "", http.StatusNotFound},
		{"GET", "/t/K1-261205-00011/events/x", "", "", http.StatusNotFound},
		{"PUT", "/report", "", "", http.StatusMethodNotAllowed},
	}
	for _, tc := range cases {
		req, err := http.NewRequestWithContext(context.Background(), tc.method, e.url+tc.path, strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		if tc.ctype != "" {
			req.Header.Set("Content-Type", tc.ctype)
		}
		r, err := c.c.Do(req)
		if err != nil {
			t.Fatalf("%s %.60s: %v", tc.method, tc.path, err)
		}
		r.Body.Close()
		if r.StatusCode != tc.want {
			t.Errorf("%s %.60s %.60s: %d, want %d", tc.method, tc.path, tc.body, r.StatusCode, tc.want)
		}
	}
	if code, _ := c.get("/report"); code != http.StatusOK {
		t.Fatalf("server down after bad requests: %d", code)
	}
}

// TestPublicPagesLeakNoPhone: no public page shows a resident's or a
// worker's phone number, the door, or the resident's own words.
func TestPublicPagesLeakNoPhone(t *testing.T) {
	e := getEnv(t)
	n := "K1-261205-00031"
	e.kioskReport(t, n, "b1", "13512345678")
	if _, err := e.hub.Do(context.Background(), e.worker("w-li"), &contract.Request{ID: "t", Op: contract.OpTicketAccept, Args: map[string]string{"number": n}}); err != nil {
		t.Fatal(err)
	}
	c := e.client(t)
	for _, p := range []string{"/t/" + n, "/t/" + n + "?frag=1", "/c/east", "/", "/report"} {
		code, body := c.get(p)
		if code != http.StatusOK {
			t.Errorf("GET %s: %d", p, code)
		}
		for _, leak := range []string{"13512345678", "13911112222", "楼上漏水", ">301<"} {
			if strings.Contains(body, leak) {
				t.Errorf("GET %s shows %q", p, leak)
			}
		}
	}
	if _, body := c.get("/t/" + n); !strings.Contains(body, "网格员 李娜") {
		t.Error("the ticket page does not say who handles it")
	}
}

// TestAnonymousRateLimit: an address that sends more than its bucket
// holds gets 429, and other addresses are served.
func TestAnonymousRateLimit(t *testing.T) {
	e := getEnv(t)
	s, err := web.New(&web.Options{Hub: e.hub, Tickets: e.tickets, DB: e.db, Logger: logger(),
		AnonymousBurst: 5, AnonymousRate: 0.001, ClientIP: func(r *http.Request) string { return r.Header.Get("X-Test-IP") }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	srv := httptest.NewServer(s)
	defer srv.Close()
	get := func(c *client) int {
		r, err := c.c.Get(srv.URL + "/c/east")
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	c := e.client(t)
	for i := 0; i < 5; i++ {
		if code := get(c); code != http.StatusOK {
			t.Fatalf("request %d: %d, want 200", i, code)
		}
	}
	if code := get(c); code != http.StatusTooManyRequests {
		t.Fatalf("request 6 of a bucket of 5: %d, want 429", code)
	}
	if s.Stats().RateLimited == 0 {
		t.Error("Stats().RateLimited = 0")
	}
	if code := get(e.client(t)); code != http.StatusOK {
		t.Errorf("another address: %d, want 200", code)
	}
}

// TestSessionSurvivesRestart: a login stays valid for a new Server on the
// same database (the hub restarted), and every stored password form logs
// in (plain, sha256 and bcrypt).
func TestSessionSurvivesRestart(t *testing.T) {
	e := getEnv(t)
	c := e.client(t)
	c.login("c-chen", "chen-dev") // bcrypt in the configuration
	again, err := web.New(&web.Options{Hub: e.hub, Tickets: e.tickets, DB: e.db, Logger: logger()})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	srv := httptest.NewServer(again)
	defer srv.Close()
	r, err := c.c.Get(srv.URL + "/tickets")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != http.StatusOK || !strings.Contains(string(b), "陈主任") {
		t.Fatalf("after the restart: %d, want the console of c-chen", r.StatusCode)
	}
}

// TestFragmentFormsReturnToPage: the forms of a live fragment send the
// worker back to the whole page, not to the fragment.
func TestFragmentFormsReturnToPage(t *testing.T) {
	e := getEnv(t)
	c := e.client(t)
	c.login("w-li", "li-dev")
	_, body := c.get("/tickets?scope=all&frag=1")
	if strings.Contains(body, "frag=1") || strings.Contains(body, "<html") {
		t.Errorf("fragment of /tickets links back to itself or is a whole page:\n%.400s", body)
	}
}

// TestPasswordChangeEndsSessions: after a worker's password changes in the
// configuration, their old logins are refused.
func TestPasswordChangeEndsSessions(t *testing.T) {
	e := getEnv(t)
	c := e.client(t)
	c.login("w-li", "li-dev")
	raw := strings.Replace(testConfig, `"password": "li-dev"`, `"password": "li-new"`, 1)
	cfg, err := config.Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	h, err := hub.New(e.db, cfg, &hub.Options{Broker: "tcp://127.0.0.1:1", Logger: logger()}) // not run: pages only
	if err != nil {
		t.Fatal(err)
	}
	s, err := web.New(&web.Options{Hub: h, Tickets: e.tickets, DB: e.db, Logger: logger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	srv := httptest.NewServer(s)
	defer srv.Close()
	r, err := c.c.Get(srv.URL + "/alerts")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
		t.Fatalf("old session after a password change: %d %s, want a redirect to /login", r.StatusCode, r.Header.Get("Location"))
	}
}
