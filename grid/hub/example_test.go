package hub_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"linli/grid/config"
	"linli/grid/hub"
	"linli/mqtt/broker"
	"linli/mqtt/contract"
)

func Example() {
	dir, _ := os.MkdirTemp("", "hub-example")
	defer os.RemoveAll(dir)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg, _ := config.Parse(config.Example())

	// The embedded broker with the configuration's accounts.
	srv, err := broker.New(&broker.Options{Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "broker"), Accounts: cfg.Accounts(), Logger: quiet})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := srv.Start(); err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	db, err := bolt.Open(filepath.Join(dir, "hub.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	h, err := hub.New(db, cfg, &hub.Options{Broker: "tcp://" + srv.Addr(), Password: "hub-dev", Logger: quiet})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Extensions register before Run, e.g. an operation of the ticket flow.
	h.HandleRequest("ping", func(context.Context, config.Worker, *contract.Request) (any, error) { return "pong", nil })

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- h.Run(ctx) }()
	<-h.Ready()
	fmt.Println("hub ready; devices known:", len(h.Devices()))
	cancel()
	fmt.Println(<-done)
	// Output:
	// hub ready; devices known: 8
	// <nil>
}
