package web_test

import (
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"linli/grid/config"
	"linli/grid/hub"
	"linli/grid/tickets"
	"linli/web"
)

// Example serves the residents' report page of the example community.
// gridhub wires the same with --http ADDR, on the hub it runs.
func Example() {
	dir, _ := os.MkdirTemp("", "web-example")
	defer os.RemoveAll(dir)
	cfg, err := config.Parse(config.Example())
	if err != nil {
		log.Fatal(err)
	}
	db, err := bolt.Open(filepath.Join(dir, "hub.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := hub.New(db, cfg, &hub.Options{Broker: "tcp://127.0.0.1:1883", Logger: quiet}) // not run here
	if err != nil {
		log.Fatal(err)
	}
	ts, err := tickets.Open(db, &tickets.Options{Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	s, err := web.New(&web.Options{Hub: h, Tickets: ts, DB: db, Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("GET", "/report", nil))
	fmt.Println(w.Code, w.Header().Get("Content-Type"))
	// Output: 200 text/html; charset=utf-8
}
