package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// selfSigned writes a certificate and key for 127.0.0.1 into dir.
func selfSigned(t *testing.T, dir string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gridhub"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// TestHTTP: gridhub run --http serves the web console, over TLS with
// --cert/--key, logs its URL, lets a configured worker log in with a
// Secure session cookie, and stops cleanly.
func TestHTTP(t *testing.T) {
	if testing.Short() {
		t.Skip("starts gridhub")
	}
	for _, tlsOn := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "https"}[tlsOn], func(t *testing.T) {
			dir := t.TempDir()
			cfgPath := exampleFile(t)
			web := freePort(t)
			args := []string{"run", "--config", cfgPath, "--data", filepath.Join(dir, "data"), "--listen", freePort(t), "--http", web}
			scheme := "http"
			if tlsOn {
				c, k := selfSigned(t, dir)
				args = append(args, "--cert", c, "--key", k)
				scheme = "https"
				// Over TLS, /metrics wants a bearer token.
				t.Setenv("GRIDHUB_METRICS_TOKEN", "scrape-me")
			}
			p := startProc(t, args...)
			jar, _ := cookiejar.New(nil)
			c := &http.Client{Jar: jar, Timeout: 10 * time.Second,
				Transport:     &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, // #nosec G402 -- the test's own certificate
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			base := scheme + "://" + web
			tok := loginCSRF(t, c, base)
			r, err := c.PostForm(base+"/login", url.Values{"csrf": {tok}, "user": {"w-li"}, "password": {"li-dev"}})
			if err != nil {
				t.Fatal(err)
			}
			r.Body.Close()
			if r.StatusCode != http.StatusSeeOther {
				t.Fatalf("login: %d", r.StatusCode)
			}
			sc := strings.Join(r.Header.Values("Set-Cookie"), "\n")
			if !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Strict") || strings.Contains(sc, "Secure") != tlsOn {
				t.Errorf("session cookie %q: want HttpOnly, SameSite=Strict, Secure only under TLS", sc)
			}
			if r, err := c.Get(base + "/alerts"); err != nil || r.StatusCode != http.StatusOK {
				t.Fatalf("console after login: %v %v", r, err)
			}
			// The operations endpoints and the dashboard are wired in: a
			// grid worker is not shown the dashboard, the community's
			// head is.
			get := func(c *http.Client, path string) (int, string) {
				t.Helper()
				r, err := c.Get(base + path)
				if err != nil {
					t.Fatalf("GET %s: %v", path, err)
				}
				defer r.Body.Close()
				b, _ := io.ReadAll(r.Body)
				return r.StatusCode, string(b)
			}
			if code, body := get(c, "/readyz"); code != http.StatusOK {
				t.Errorf("/readyz: %d %s", code, body)
			}
			if code, _ := get(c, "/healthz"); code != http.StatusOK {
				t.Errorf("/healthz: %d", code)
			}
			code, body := get(c, "/metrics")
			if tlsOn {
				if code != http.StatusUnauthorized {
					t.Errorf("/metrics without the token: %d, want 401", code)
				}
				req, _ := http.NewRequest("GET", base+"/metrics", nil)
				req.Header.Set("Authorization", "Bearer scrape-me")
				r, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(r.Body)
				r.Body.Close()
				code, body = r.StatusCode, string(b)
			}
			for _, want := range []string{"# TYPE linli_alerts_active gauge", "linli_http_logins_refused_total", "linli_broker_"} {
				if code != http.StatusOK || !strings.Contains(body, want) {
					t.Errorf("/metrics (%d) lacks %q:\n%.2000s", code, want, body)
				}
			}
			if code, body := get(c, "/dashboard"); code == http.StatusOK && strings.Contains(body, "<svg") {
				t.Errorf("a grid worker was shown the dashboard")
			}
			jar2, _ := cookiejar.New(nil)
			boss := &http.Client{Jar: jar2, Timeout: 10 * time.Second, Transport: c.Transport, CheckRedirect: c.CheckRedirect}
			if r, err := boss.PostForm(base+"/login", url.Values{"csrf": {loginCSRF(t, boss, base)}, "user": {"c-chen"}, "password": {"chen-dev"}}); err != nil || r.StatusCode != http.StatusSeeOther {
				t.Fatalf("login as c-chen: %v %v", r, err)
			}
			if code, body := get(boss, "/dashboard"); code != http.StatusOK || !strings.Contains(body, "<svg") {
				t.Errorf("dashboard for the community's head: %d, no chart:\n%.500s", code, body)
			}
			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if err := p.cmd.Wait(); err != nil {
				t.Fatalf("gridhub: %v\n%s", err, p.out)
			}
			if !strings.Contains(p.out.String(), `msg="web console" url=`+scheme+"://") {
				t.Errorf("log lacks the console's URL:\n%s", p.out)
			}
		})
	}
}

// TestHTTPTrustedProxy: behind a proxy named by --http-trusted-proxy, a
// refused login is counted against (and logged with) the client's address
// from X-Forwarded-For, not the proxy's: its rightmost hop, not the one
// the client forged to its left.
func TestHTTPTrustedProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("starts gridhub")
	}
	dir := t.TempDir()
	cfgPath := exampleFile(t)
	web := freePort(t)
	p := startProc(t, "run", "--config", cfgPath, "--data", filepath.Join(dir, "data"), "--listen", freePort(t),
		"--http", web, "--http-trusted-proxy", "127.0.0.1/32")
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	base := "http://" + web
	tok := loginCSRF(t, c, base)
	for _, l := range []struct{ user, xff string }{{"x-forwarded", "6.6.6.6, 198.51.100.7"}, {"x-direct", ""}} {
		req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(url.Values{"csrf": {tok}, "user": {l.user}, "password": {"wrong"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if l.xff != "" {
			req.Header.Set("X-Forwarded-For", l.xff)
		}
		r, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong login as %s: %d, want 401", l.user, r.StatusCode)
		}
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("gridhub: %v\n%s", err, p.out)
	}
	for _, want := range []string{`worker=x-forwarded ip=198.51.100.7 `, `worker=x-direct ip=127.0.0.1 `} {
		if !strings.Contains(p.out.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, p.out)
		}
	}
}

// loginCSRF waits for the web console at base to answer and returns the
// CSRF token of its login form.
func loginCSRF(t *testing.T, c *http.Client, base string) string {
	t.Helper()
	var body string
	deadline := time.Now().Add(20 * time.Second)
	for {
		r, err := c.Get(base + "/login")
		if err == nil {
			b, _ := io.ReadAll(r.Body)
			r.Body.Close()
			body = string(b)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the web console did not answer: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("login page without a csrf token:\n%s", body)
	}
	return m[1]
}

// startProc starts gridhub with args, its log in out; it is killed when
// the test ends, unless it ended before.
func startProc(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{out: new(bytes.Buffer), cmd: exec.Command(binary, args...)}
	p.cmd.Stderr = &lockedWriter{w: p.out}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.cmd.Process.Kill() })
	return p
}
