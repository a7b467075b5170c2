package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"linli/grid/config"
	"linli/grid/hub"
	"linli/mqtt/broker"
	"linli/web/ops"
)

func exampleConfig() []byte { return config.Example() }

func hashLine(b []byte) string {
	return broker.HashPassword(strings.TrimRight(string(b), "\r\n"))
}

// bcryptLine is the bcrypt form of a password read from a line: only the
// web console understands it (the broker wants the sha256 form).
func bcryptLine(b []byte) (string, error) {
	return config.HashPassword(strings.TrimRight(string(b), "\r\n"))
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("gridhub: --log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// ReadyMessage is logged once the hub is subscribed and the embedded
// broker admits devices (cmd/community waits for it).
const ReadyMessage = "hub ready"

// run starts the broker (unless external) and the hub, and serves until
// ctx is done.
func run(ctx context.Context, o *options, logw io.Writer) error {
	log, err := newLogger(logw, o.LogLevel)
	if err != nil {
		return err
	}
	cfg, err := config.Load(o.Config)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.Data, 0o700); err != nil {
		return fmt.Errorf("gridhub: data dir: %w", err)
	}
	db, err := bolt.Open(filepath.Join(o.Data, "hub.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return fmt.Errorf("gridhub: open hub.db: %w", err)
	}
	defer db.Close()
	if o.NATS.Node != "" {
		// An embedded NATS node: the hub is its client as of an external broker.
		srv, password, err := startNATS(ctx, o, cfg, log)
		if err != nil {
			if ctx.Err() != nil {
				return nil // stopped while waiting for the cluster
			}
			return err
		}
		defer srv.Close()
		o.Broker, o.Password = srv.MQTTURL(), password
	}

	// The hub's client ids are its account's (mqtt/broker binds them).
	hopts := &hub.Options{Broker: o.Broker, ClientID: cfg.Hub.ID, Username: cfg.Hub.ID, Hubs: o.Hubs, Logger: log}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var srv *broker.Server
	defer func() {
		if srv != nil { // an early return
			_ = srv.Close()
		}
	}()
	admit := make(chan struct{})
	// feed is the running hub, for the embedded broker's telemetry.
	var feed *atomic.Pointer[hub.Hub]
	if o.Broker == "" {
		// The embedded broker: the hub logs in with a secret of this run
		// only, so the configuration need not hold the hub's password.
		secret := make([]byte, 16)
		if _, err := rand.Read(secret); err != nil {
			return err
		}
		accounts := cfg.Accounts()
		accounts[cfg.Hub.ID] = broker.Entry{Account: broker.Account{ID: cfg.Hub.ID, Role: broker.RoleHub}, Password: hex.EncodeToString(secret)}
		bopts := &broker.Options{
			Listen: o.Listen, TLSListen: o.TLSListen, CertFile: o.Cert, KeyFile: o.Key, CAFile: o.CA,
			DataDir: filepath.Join(o.Data, "broker"), Accounts: accounts, Admit: admit, Logger: log,
		}
		if o.HA == "" {
			// Telemetry goes from the broker to the hub in this process,
			// not through a subscription: at thousands of devices the
			// delivery of every message to the hub's telemetry connection
			// was half of what the process did.
			feed = new(atomic.Pointer[hub.Hub])
			hopts.TelemetryFeed = true
			bopts.Telemetry = func(topic string, payload []byte) {
				if h := feed.Load(); h != nil {
					h.Telemetry(topic, payload)
				}
			}
		}
		srv, err = broker.New(bopts)
		if err != nil {
			return err
		}
		if err := srv.Start(); err != nil {
			srv = nil
			return err
		}
		addr := srv.Addr()
		if addr == "" {
			// Only a TLS listener: the hub uses it too.
			addr = srv.TLSAddr()
			hopts.Broker = "ssl://" + addr
			hopts.TLS = &tls.Config{InsecureSkipVerify: true} // #nosec G402 -- our own listener in this process
		} else {
			hopts.Broker = "tcp://" + addr
		}
		hopts.Password = hex.EncodeToString(secret)
	} else {
		hopts.Password = o.Password
		if hopts.Password == "" {
			if strings.HasPrefix(cfg.Hub.Password, "sha256:") {
				return errors.New("gridhub: set GRIDHUB_BROKER_PASSWORD: the configuration holds only the hash of the hub's password")
			}
			hopts.Password = cfg.Hub.Password
		}
		if o.BrokerCA != "" {
			pem, err := os.ReadFile(o.BrokerCA)
			if err != nil {
				return fmt.Errorf("gridhub: --broker-ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return fmt.Errorf("gridhub: --broker-ca: no certificate in %s", o.BrokerCA)
			}
			hopts.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		}
	}
	if o.HA != "" {
		err = runHA(ctx, o, db, cfg, hopts, log)
	} else {
		err = serveHub(ctx, o, srv, db, cfg, hopts, log, admit, feed, nil)
	}
	cancel()
	wg.Wait()
	// The broker stops after the hub: stopped first, it cut the hub's
	// connections and the hub logged them as lost.
	var brokerErr error
	if srv != nil {
		brokerErr = srv.Close()
		srv = nil
	}
	return errors.Join(err, brokerErr)
}

// serveHub runs the hub, its ticket flow and (with --http) its web
// front-end on db until ctx is done. admit, if not nil, is closed once the
// hub is subscribed. srv is the embedded broker, nil with another one.
// feed, if not nil, is given the hub, which takes telemetry from it
// (hub.Options.TelemetryFeed). rep, with --ha, gives the journal's
// figures to /metrics.
func serveHub(ctx context.Context, o *options, srv *broker.Server, db *bolt.DB, cfg *config.Config, hopts *hub.Options, log *slog.Logger, admit chan struct{}, feed *atomic.Pointer[hub.Hub], rep func() ops.ReplicaStats) error {
	h, err := hub.New(db, cfg, hopts)
	if err != nil {
		return err
	}
	if feed != nil {
		feed.Store(h)
		defer feed.Store(nil)
	}
	ts, due, err := wireTickets(db, cfg, h, log)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var webErr error
	if o.HTTP != "" {
		ws, err := newWeb(h, ts, db, srv, o.Cert != "", o.HTTPProxies, o.MetricsToken, rep, log)
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select { // device commands need the hub's connection
			case <-h.Ready():
			case <-ctx.Done():
				return
			}
			webErr = ws.ListenAndServe(ctx, o.HTTP, o.Cert, o.Key, func(addr string) {
				scheme := "http"
				if o.Cert != "" {
					scheme = "https"
				}
				log.Info("web console", "url", scheme+"://"+addr+"/")
			})
			if webErr != nil {
				cancel() // a hub whose console cannot serve stops, and says why
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		due(ctx)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-h.Ready():
			if admit != nil {
				close(admit) // devices may come in: the hub's session holds their messages
			}
			log.Info(ReadyMessage)
		case <-ctx.Done():
		}
	}()
	err = h.Run(ctx)
	cancel()
	wg.Wait()
	return errors.Join(err, webErr)
}
