package replicatest

import (
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Start starts a NATS server with JetStream keeping its state in dir, on a
// free port of 127.0.0.1. The caller calls Shutdown and WaitForShutdown.
func Start(dir string) (*server.Server, error) { return StartAt(dir, -1) }

// StartAt is Start on port (-1: a free one): a server shut down and
// started again on its port and dir is a restart its clients reconnect to.
func StartAt(dir string, port int) (*server.Server, error) {
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true,
	})
	if err != nil {
		return nil, err
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, errors.New("replicatest: nats server not ready")
	}
	return s, nil
}

// Server starts a server in t.TempDir() and stops it when t ends.
func Server(t testing.TB) *server.Server {
	t.Helper()
	s, err := Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}
