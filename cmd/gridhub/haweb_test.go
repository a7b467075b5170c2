package main

import (
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"linli/internal/freeport"
)

// TestHAWeb: with --http a standby answers on its console's address: 503
// pages naming the active hub, /readyz 503 (a load balancer sends phones
// to the active hub), /healthz and /metrics as usual; when it takes over,
// the console serves on the same address.
func TestHAWeb(t *testing.T) {
	if testing.Short() {
		t.Skip("starts gridhub processes")
	}
	r := newHARig(t)
	addrA, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	addrB, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	a := r.start(t, "a", "--http", addrA)
	a.waitLog(t, "msg=\"web console\"", 20*time.Second)
	b := r.start(t, "b", "--http", addrB)
	b.waitLog(t, "msg=standby", 20*time.Second)

	// try GETs addr path: its status code and body, 0 and the error if
	// nothing answers.
	try := func(addr, path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(body)
	}
	get := func(addr, path string) (int, string) {
		t.Helper()
		code, body := try(addr, path)
		if code == 0 {
			t.Fatalf("GET %s%s: %s", addr, path, body)
		}
		return code, body
	}
	// eventually polls until check passes on GET addr path, or 20 s:
	// while the hub takes over, its address answers nothing for a moment.
	eventually := func(addr, path string, check func(code int, body string) bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			code, body := try(addr, path)
			if check(code, body) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET %s%s: %d\n%s", addr, path, code, body)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	metric := func(body, line string) bool {
		return strings.Contains("\n"+body, "\n"+line+"\n")
	}

	if code, body := get(addrA, "/readyz"); code != 200 {
		t.Errorf("active a: /readyz %d %q", code, body)
	}
	if _, body := get(addrA, "/metrics"); !metric(body, "linli_replica_active 1") {
		t.Errorf("active a's /metrics lacks linli_replica_active 1:\n%s", body)
	}
	eventually(addrB, "/readyz", func(code int, body string) bool {
		return code == 503 && strings.Contains(body, "lease: standing by: the active hub is a")
	})
	for _, path := range []string{"/", "/alerts", "/t/K2-261205-00001"} {
		if code, body := get(addrB, path); code != 503 || !strings.Contains(body, "值守的是 a") {
			t.Errorf("standby b: GET %s = %d, want 503 naming a:\n%s", path, code, body)
		}
	}
	if code, body := get(addrB, "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("standby b: /healthz %d %q", code, body)
	}
	if code, _ := get(addrB, "/static/app.css"); code != 200 {
		t.Errorf("standby b: /static/app.css %d", code)
	}
	if _, body := get(addrB, "/metrics"); !metric(body, "linli_replica_active 0") || !strings.Contains(body, "linli_replica_journal_applied ") {
		t.Errorf("standby b's /metrics:\n%s", body)
	}

	a.signal(t, syscall.SIGKILL)
	eventually(addrB, "/readyz", func(code int, body string) bool { return code == 200 })
	if code, body := get(addrB, "/login"); code != 200 || !strings.Contains(body, "password") {
		t.Errorf("b, active: GET /login = %d:\n%s", code, body)
	}
	if _, body := get(addrB, "/metrics"); !metric(body, "linli_replica_active 1") {
		t.Errorf("b, active: /metrics lacks linli_replica_active 1:\n%s", body)
	}
}
