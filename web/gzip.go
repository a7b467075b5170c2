package web

import (
	"compress/gzip"
	"net/http"
	"sync"
)

var gzipPool = sync.Pool{New: func() any {
	z, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return z
}}

// gzipWriter compresses a response: pages go to phones on weak signals.
type gzipWriter struct {
	http.ResponseWriter
	z       *gzip.Writer
	started bool
	skip    bool // a body-less status: nothing to compress
}

func newGzipWriter(w http.ResponseWriter) *gzipWriter { return &gzipWriter{ResponseWriter: w} }

func (g *gzipWriter) WriteHeader(code int) {
	if !g.started {
		g.started = true
		h := g.Header()
		if code == http.StatusNotModified || code == http.StatusNoContent || code < 200 || h.Get("Content-Encoding") != "" {
			g.skip = true
		} else {
			h.Del("Content-Length")
			h.Set("Content-Encoding", "gzip")
			h.Add("Vary", "Accept-Encoding")
			g.z = gzipPool.Get().(*gzip.Writer)
			g.z.Reset(g.ResponseWriter)
		}
	}
	g.ResponseWriter.WriteHeader(code)
}

func (g *gzipWriter) Write(b []byte) (int, error) {
	if !g.started {
		if g.Header().Get("Content-Type") == "" {
			g.Header().Set("Content-Type", http.DetectContentType(b))
		}
		g.WriteHeader(http.StatusOK)
	}
	if g.z == nil {
		return g.ResponseWriter.Write(b)
	}
	return g.z.Write(b)
}

// Close ends the compressed stream.
func (g *gzipWriter) Close() {
	if g.z != nil {
		_ = g.z.Close()
		gzipPool.Put(g.z)
		g.z = nil
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (g *gzipWriter) Unwrap() http.ResponseWriter { return g.ResponseWriter }
