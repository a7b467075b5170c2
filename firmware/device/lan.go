package device

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// MaxPushSize bounds a bundle pushed over the LAN.
const MaxPushSize = 256 << 20

// PushResult is the answer to a LAN push.
type PushResult struct {
	OK      bool   `json:"ok"`
	Version string `json:"version,omitempty"`
	Error   string `json:"error,omitempty"`
	// Restarting is true when the device restarts into the new version.
	Restarting bool `json:"restarting,omitempty"`
}

// Handler serves the LAN push endpoint for `gridctl flash --local`:
//
//	POST /update   body: a bundle. 200 and a PushResult when installed (the
//	               device restarts into it once the answer is sent); 401
//	               without the token; 409 while busy; 422 with the reason
//	               when the bundle is refused.
//	GET  /status   the last firmware status, as JSON.
//
// The bundle's signature is the authorisation; Options.Token, when set,
// must also be sent as "Authorization: Bearer TOKEN".
func (d *Device) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /update", d.handlePush)
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		if !d.authorised(r) {
			http.Error(w, "device: bad or missing token", http.StatusUnauthorized)
			return
		}
		s, _ := d.Status()
		if s.Running == "" {
			s.Running = d.opts.Version
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s)
	})
	return mux
}

func (d *Device) authorised(r *http.Request) bool {
	if d.opts.Token == "" {
		return true
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(d.opts.Token)) == 1
}

func (d *Device) handlePush(w http.ResponseWriter, r *http.Request) {
	answer := func(code int, res PushResult) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(res)
	}
	if !d.authorised(r) {
		answer(http.StatusUnauthorized, PushResult{Error: "device: bad or missing token"})
		return
	}
	if d.up == nil {
		answer(http.StatusServiceUnavailable, PushResult{Error: ErrDisabled.Error()})
		return
	}
	path, err := d.receivePush(r.Body)
	if err != nil {
		answer(http.StatusBadRequest, PushResult{Error: err.Error()})
		return
	}
	m, err := d.Install(path, "lan")
	_ = os.Remove(path) // before answering: installed or refused, it is not needed
	switch {
	case errors.Is(err, ErrBusy):
		answer(http.StatusConflict, PushResult{Error: err.Error()})
		return
	case err != nil:
		answer(http.StatusUnprocessableEntity, PushResult{Error: err.Error()})
		return
	}
	answer(http.StatusOK, PushResult{OK: true, Version: m.Version, Restarting: true})
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	select {
	case d.lanDone <- struct{}{}:
	default:
	}
}

// receivePush writes the body to ROOT/incoming/lan.bundle, fsync'd.
func (d *Device) receivePush(body io.Reader) (string, error) {
	dir := filepath.Join(d.opts.Root, "incoming")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("device: %w", err)
	}
	f, err := os.CreateTemp(dir, "lan-*.bundle")
	if err != nil {
		return "", fmt.Errorf("device: %w", err)
	}
	n, err := io.Copy(f, io.LimitReader(body, MaxPushSize+1))
	if err == nil && n > MaxPushSize {
		err = fmt.Errorf("bundle over %d bytes", MaxPushSize)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return "", fmt.Errorf("device: receive bundle: %w", err)
	}
	return f.Name(), nil
}

// serve runs the LAN endpoint on Options.Listen until ctx is done or a
// pushed bundle was installed (then it restarts the program).
func (d *Device) serve(ctx context.Context) {
	ln, err := net.Listen("tcp", d.opts.Listen)
	if err != nil {
		d.log.Error("LAN update endpoint not started", "listen", d.opts.Listen, "err", err)
		return
	}
	srv := &http.Server{Handler: d.Handler(), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("LAN update endpoint stopped", "err", err)
		}
	}()
	d.log.Info("LAN update endpoint", "listen", ln.Addr().String())
	d.mu.Lock()
	d.lanAddr = ln.Addr().String()
	d.mu.Unlock()
	restart := false
	select {
	case <-ctx.Done():
	case <-d.lanDone:
		restart = true
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	<-done
	if restart {
		if err := d.restart(ctx); err != nil {
			d.log.Error("restart after LAN install failed; the new version starts at the next start", "err", err)
		}
	}
}

// LANAddr returns the address the LAN endpoint listens on, or "" when it
// does not (yet).
func (d *Device) LANAddr() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lanAddr
}
