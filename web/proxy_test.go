package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"linli/web"
)

func TestParseProxies(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
		err  bool
	}{
		{in: "", want: nil},
		{in: "10.0.0.0/8, 127.0.0.1", want: []string{"10.0.0.0/8", "127.0.0.1/32"}},
		{in: "fd00::/8,::1", want: []string{"fd00::/8", "::1/128"}},
		{in: "10.1.2.3/8", want: []string{"10.0.0.0/8"}},
		{in: "::ffff:10.0.0.0/104", want: []string{"10.0.0.0/8"}},
		{in: "proxy.example", err: true},
		{in: "10.0.0.0/33", err: true},
	} {
		got, err := web.ParseProxies(c.in)
		if (err != nil) != c.err {
			t.Errorf("ParseProxies(%q): error %v, want error %v", c.in, err, c.err)
			continue
		}
		var s []string
		for _, p := range got {
			s = append(s, p.String())
		}
		if len(s) != len(c.want) || (len(s) > 0 && fmt.Sprint(s) != fmt.Sprint(c.want)) {
			t.Errorf("ParseProxies(%q) = %v, want %v", c.in, s, c.want)
		}
	}
}

// TestForwardedFor: X-Forwarded-For counts only from a trusted proxy, and
// then only its rightmost hop that is not one of ours.
func TestForwardedFor(t *testing.T) {
	trusted, err := web.ParseProxies("10.0.0.0/8, 127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ip := web.ForwardedFor(trusted)
	for _, c := range []struct {
		name string
		peer string
		xff  []string
		want string
	}{
		{"untrusted peer, spoofed header", "203.0.113.5:4000", []string{"198.51.100.7"}, "203.0.113.5"},
		{"untrusted peer, no header", "203.0.113.5:4000", nil, "203.0.113.5"},
		{"our proxy", "10.0.0.2:4000", []string{"198.51.100.7"}, "198.51.100.7"},
		{"our proxy, client forged a hop", "10.0.0.2:4000", []string{"6.6.6.6, 198.51.100.7"}, "198.51.100.7"},
		{"two of our proxies", "127.0.0.1:4000", []string{"6.6.6.6, 198.51.100.7, 10.9.9.9"}, "198.51.100.7"},
		{"header in two lines", "10.0.0.2:4000", []string{"6.6.6.6", "198.51.100.7"}, "198.51.100.7"},
		{"our proxy, no header", "10.0.0.2:4000", nil, "10.0.0.2"},
		{"our proxy passed garbage", "10.0.0.2:4000", []string{"198.51.100.7, junk"}, "10.0.0.2"},
		{"only our proxies", "10.0.0.2:4000", []string{"10.0.0.3"}, "10.0.0.3"},
		{"IPv6 client through our proxy", "10.0.0.2:4000", []string{"2001:db8::1"}, "2001:db8::1"},
		{"IPv4-mapped peer", "[::ffff:10.0.0.2]:4000", []string{"198.51.100.7"}, "198.51.100.7"},
		{"untrusted IPv6 peer", "[2001:db8::9]:4000", []string{"198.51.100.7"}, "2001:db8::9"},
	} {
		r := httptest.NewRequest("GET", "/c/east", nil)
		r.RemoteAddr = c.peer
		for _, v := range c.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := ip(r); got != c.want {
			t.Errorf("%s: %s with %q: client %q, want %q", c.name, c.peer, c.xff, got, c.want)
		}
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "203.0.113.5:4000"
	r.Header.Set("X-Forwarded-For", "198.51.100.7")
	if got := web.ForwardedFor(nil)(r); got != "203.0.113.5" {
		t.Errorf("no trusted proxies: client %q, want the peer", got)
	}
}

// TestForwardedForLimits: a client that forges X-Forwarded-For from an
// untrusted address shares its address's bucket however it varies the
// header; behind a trusted proxy each forwarded client has its own.
func TestForwardedForLimits(t *testing.T) {
	e := getEnv(t)
	for _, c := range []struct {
		name    string
		trusted string
		limited bool
	}{
		{"untrusted peer", "10.0.0.0/8", true},
		{"trusted proxy", "127.0.0.1", false},
	} {
		trusted, err := web.ParseProxies(c.trusted)
		if err != nil {
			t.Fatal(err)
		}
		s, err := web.New(&web.Options{Hub: e.hub, Tickets: e.tickets, DB: e.db, Logger: logger(),
			AnonymousBurst: 3, AnonymousRate: 0.001, ClientIP: web.ForwardedFor(trusted)})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(s)
		limited := false
		for i := range 6 {
			req, _ := http.NewRequest("GET", srv.URL+"/c/east", nil)
			req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i+1))
			r, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			r.Body.Close()
			limited = limited || r.StatusCode == http.StatusTooManyRequests
		}
		srv.Close()
		s.Close()
		if limited != c.limited {
			t.Errorf("%s: six requests with six forwarded addresses: limited %v, want %v", c.name, limited, c.limited)
		}
	}
}
