package web

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
)

// StandbyOptions configures Standby.
type StandbyOptions struct {
	// Active names the hub that is active now, "" while none is known.
	Active func() string
	// Secure marks the language cookie Secure (the console is on HTTPS).
	Secure bool
	// Extra handlers by path pattern, served as they are: gridhub gives
	// the operations endpoints (/metrics, /healthz, /readyz).
	Extra map[string]http.Handler
}

// Standby returns the web front-end of a hub standing by (gridhub run --ha
// --http): it has no hub to ask, so every page answers 503 Service
// Unavailable with Retry-After and says, in the visitor's language, that
// this hub stands by and which one is active. A load balancer probing
// /readyz sends phones to the active hub; a phone that bookmarked this
// one is told where to go instead of finding the port closed. The static
// files, the language switch and Extra are served as usual.
func Standby(opts *StandbyOptions) (http.Handler, error) {
	var o StandbyOptions
	if opts != nil {
		o = *opts
	}
	if o.Active == nil {
		o.Active = func() string { return "" }
	}
	tmpl, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("web: templates: %w", err)
	}
	m := http.NewServeMux()
	static, _ := fs.Sub(assetFS, "assets")
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	m.HandleFunc("GET /static/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
	m.HandleFunc("GET /lang/{lang}", func(w http.ResponseWriter, r *http.Request) {
		lang := langZh
		if r.PathValue("lang") == langEn {
			lang = langEn
		}
		// #nosec G124 -- Secure follows StandbyOptions.Secure, as Options.Secure for the console
		http.SetCookie(w, &http.Cookie{Name: cookieLang, Value: lang, Path: "/", HttpOnly: true, Secure: o.Secure,
			SameSite: http.SameSiteStrictMode, MaxAge: 365 * 24 * 3600})
		redirect(w, r, r.URL.Query().Get("next"))
	})
	for path, h := range o.Extra {
		m.Handle(path, h)
	}
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		p := &page{Lang: langOf(r), Title: "standby.title", Path: localPath(r.URL.RequestURI(), "/"), Data: o.Active()}
		var buf bytes.Buffer
		if err := tmpl.ExecuteTemplate(&buf, "standby", p); err != nil {
			http.Error(w, "web: internal error", http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		h.Set("Retry-After", "5")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write(buf.Bytes())
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w.Header())
		m.ServeHTTP(w, r)
	}), nil
}
