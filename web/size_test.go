package web_test

import (
	"io"
	"net/http"
	"net/url"
	"testing"
)

// maxFirstLoad bounds what a phone downloads to open the console or a
// ticket page the first time: the page, its style sheet and script.
const maxFirstLoad = 100 << 10

// TestFirstLoadSize: the first load of the console and of /t/N, gzip as
// browsers ask for it, stays under maxFirstLoad bytes over the wire.
func TestFirstLoadSize(t *testing.T) {
	e := getEnv(t)
	n := "K1-261205-00051"
	e.kioskReport(t, n, "b1", "")
	c := e.client(t)
	c.login("w-li", "li-dev")
	wire := func(path string) int {
		req, _ := http.NewRequest("GET", e.url+path, nil)
		req.Header.Set("Accept-Encoding", "gzip") // as browsers do; the client then leaves the body compressed
		r, err := c.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		if r.StatusCode != http.StatusOK || r.Header.Get("Content-Encoding") != "gzip" {
			t.Errorf("GET %s: %d, encoding %q", path, r.StatusCode, r.Header.Get("Content-Encoding"))
		}
		return len(b)
	}
	assets := wire("/static/app.css") + wire("/static/app.js")
	for _, p := range []string{"/alerts", "/tickets", "/t/" + url.PathEscape(n)} {
		total := wire(p) + assets
		t.Logf("first load of %s: %d bytes", p, total)
		if total > maxFirstLoad {
			t.Errorf("first load of %s is %d bytes, over %d", p, total, maxFirstLoad)
		}
	}
}
