package broker_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"linli/mqtt/broker"
)

func Example() {
	accounts := broker.NewStatic(
		broker.Entry{Account: broker.Account{ID: "gridhub", Role: broker.RoleHub}, Password: broker.HashPassword("hub-secret")},
		broker.Entry{Account: broker.Account{ID: "mb-0001", Role: broker.RoleDevice}, Password: broker.HashPassword("dev-secret")},
	)
	srv, err := broker.New(&broker.Options{
		Listen:   "127.0.0.1:0",
		Accounts: accounts,
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	// Run serves until ctx is done.
	fmt.Println(srv.Run(ctx))
	fmt.Println(broker.Allowed(broker.Account{ID: "mb-0001", Role: broker.RoleDevice}, "linli/v1/dev/mb-0002/event", true))
	// Output:
	// <nil>
	// false
}
