// Command gridhub is the community end of Linli: the embedded MQTT broker
// (or a client of an external one), the device registry, grid alerts with
// escalation, and the requests of gridctl.
//
// Usage:
//
//	gridhub run --config FILE --data DIR [--listen ADDR | --broker URL[,URL…]]
//	            [--tls-listen ADDR --cert FILE --key FILE [--ca FILE]] [--http ADDR [--http-trusted-proxy CIDR,…]]
//	            [--nats-node NAME [--nats ADDR] [--nats-cluster ADDR --nats-routes URL,…]]
//	            [--ha NATS-URLS --ha-name NAME [--ha-lease 6s] [--ha-replicas 3]]
//	gridhub config example     print a documented example configuration
//	gridhub config nats --config FILE [--nats-node NAME --listen ADDR --nats ADDR --nats-cluster ADDR --nats-routes URLS --data DIR]
//	                           print a nats-server configuration with the users and ACL
//	gridhub config mosquitto --config FILE --print passwd|acl
//	                           print mosquitto's password file or ACL file
//	gridhub passwd [--bcrypt]  read a password on stdin, print its stored form
//
// With --http ADDR gridhub also serves the web console of grid workers and
// the residents' ticket and report pages (package web), over TLS with the
// --cert and --key files when given. Behind a reverse proxy,
// --http-trusted-proxy names the proxies whose X-Forwarded-For tells the
// client's address for login throttling and rate limits.
//
// With --nats-node gridhub runs an embedded NATS node (JetStream and MQTT on
// --listen) instead of mochi, clustered with its peers by --nats-cluster and
// --nats-routes (package mqtt/natsbroker); --broker takes a comma-separated
// list of a cluster's nodes and fails over between them.
//
// With --listen (the default, 127.0.0.1:1883) gridhub runs its own broker;
// with --broker it connects to mosquitto, EMQX or any MQTT 3.1.1 broker as
// the configuration's hub account, with the password from the environment
// variable GRIDHUB_BROKER_PASSWORD (or the configuration's plain one).
//
// With --ha, several gridhub processes run the same configuration against
// one broker: one is active, the others stand by with a copy of its state
// and take over when it dies (see package linli/grid/replica).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"linli/grid/replica"
	"linli/web"
)

const usage = `usage:
  gridhub run --config FILE --data DIR [--listen ADDR | --broker URL[,URL…]] [--tls-listen ADDR --cert FILE --key FILE [--ca FILE]] [--http ADDR [--http-trusted-proxy CIDR,…]]
  gridhub run ... --nats-node NAME [--nats ADDR] [--nats-cluster ADDR --nats-routes URL,URL]
  gridhub run ... --ha NATS-URLS --ha-name NAME [--ha-lease 6s] [--ha-replicas 3]
  gridhub config example
  gridhub config nats --config FILE [--config FILE …] [--nats-node NAME --listen ADDR --nats ADDR --nats-cluster ADDR --nats-routes URLS --data DIR]
  gridhub config mosquitto --config FILE [--config FILE …] --print passwd|acl
  gridhub passwd [--bcrypt] < password
environment of run: GRIDHUB_BROKER_PASSWORD (the hub's password on --broker),
  GRIDHUB_METRICS_TOKEN (the bearer token /metrics then wants; default open)`

// options is everything gridhub run is told on its command line.
type options struct {
	Config    string
	Data      string
	Listen    string
	Broker    string
	BrokerCA  string
	TLSListen string
	Cert      string
	Key       string
	CA        string
	LogLevel  string
	HTTP      string // the web front-end's address; empty: none
	// HTTPProxies are the reverse proxies in front of the web front-end
	// whose X-Forwarded-For it believes (--http-trusted-proxy); nil: none.
	HTTPProxies []netip.Prefix
	Password    string // of the hub account on an external broker (from the environment)
	// MetricsToken is the bearer token /metrics wants (from the
	// environment, GRIDHUB_METRICS_TOKEN); empty: /metrics is open.
	MetricsToken string
	NATS         natsFlags
	// Hubs is how many hubs share the broker, this one included (--hubs):
	// the shards of "shared_broker" configurations.
	Hubs int

	HA         string        // NATS URLs of the journal and lease (active/standby hubs); "" is a single hub
	HAName     string        // this process's name in the lease
	HALease    time.Duration // lease TTL
	HAReplicas int           // replicas of the journal stream and lease bucket
	HACompact  int64         // MiB of journal that trigger a compaction; 0 never
}

func main() {
	log.SetFlags(0)
	if len(os.Args) < 2 {
		log.Fatal(usage)
	}
	switch os.Args[1] {
	case "run":
		o, err := parseRun(os.Args[2:], os.Getenv)
		if err != nil {
			log.Fatal(err)
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := run(ctx, o, os.Stderr); err != nil {
			log.Fatal(err)
		}
	case "config":
		var err error
		switch {
		case len(os.Args) == 3 && os.Args[2] == "example":
			_, err = os.Stdout.Write(exampleConfig())
		case len(os.Args) >= 3 && os.Args[2] == "nats":
			err = configNATS(os.Args[3:], os.Stdout, os.Stderr)
		case len(os.Args) >= 3 && os.Args[2] == "mosquitto":
			err = configMosquitto(os.Args[3:], os.Stdout, os.Stderr)
		default:
			err = errors.New(usage)
		}
		if err != nil {
			log.Fatal(err)
		}
	case "passwd":
		b, err := io.ReadAll(os.Stdin)
		if err != nil {
			log.Fatal(err)
		}
		if len(os.Args) == 3 && os.Args[2] == "--bcrypt" {
			h, err := bcryptLine(b)
			if err != nil {
				log.Fatal(err)
			}
			fmt.Println(h)
			return
		}
		fmt.Println(hashLine(b))
	default:
		log.Fatal(usage)
	}
}

func parseRun(args []string, getenv func(string) string) (*options, error) {
	o := new(options)
	fs := flag.NewFlagSet("gridhub run", flag.ContinueOnError)
	fs.StringVar(&o.Config, "config", "", "configuration file (JSON; see gridhub config example)")
	fs.StringVar(&o.Data, "data", "", "data directory (bbolt files of the hub and the embedded broker)")
	fs.StringVar(&o.Listen, "listen", "", "address of the embedded broker (default 127.0.0.1:1883 unless --broker or --tls-listen)")
	fs.StringVar(&o.Broker, "broker", "", "URL of an external broker (tcp://host:1883, ssl://host:8883) instead of the embedded one, or a comma-separated list of a cluster's nodes")
	fs.StringVar(&o.BrokerCA, "broker-ca", "", "CA file to verify an ssl:// external broker")
	fs.StringVar(&o.TLSListen, "tls-listen", "", "address of the embedded broker's TLS listener")
	fs.StringVar(&o.Cert, "cert", "", "TLS certificate of the embedded broker")
	fs.StringVar(&o.Key, "key", "", "TLS key of the embedded broker")
	fs.StringVar(&o.CA, "ca", "", "CA of client certificates the TLS listener requires (optional)")
	fs.StringVar(&o.HTTP, "http", "", "address of the web console and residents' pages (e.g. 127.0.0.1:8080; TLS with --cert/--key); default off")
	proxies := fs.String("http-trusted-proxy", "", "CIDR[,CIDR…] of the reverse proxies in front of --http: only from these is X-Forwarded-For believed (its rightmost hop not in them is the client, for login throttling and rate limits); default none: the TCP peer is the client")
	fs.StringVar(&o.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.IntVar(&o.Hubs, "hubs", 1, "how many hubs share the broker, this one included (shards: \"shared_broker\" configurations); the web console shows a worker what the others hold too")
	o.NATS.register(fs)
	fs.StringVar(&o.HA, "ha", "", "NATS URLs (nats://h1:4222,nats://h2:4222): run as one of several hubs of this configuration, active or standby (needs --broker)")
	fs.StringVar(&o.HAName, "ha-name", "", "this hub's name among the hubs of --ha (default the host name)")
	fs.DurationVar(&o.HALease, "ha-lease", replica.DefaultOptions.LeaseTTL, "how long a dead active hub keeps its lease")
	fs.IntVar(&o.HAReplicas, "ha-replicas", 1, "replicas of the journal and lease in JetStream (3 on a 3-node cluster)")
	fs.Int64Var(&o.HACompact, "ha-compact-mb", replica.DefaultOptions.CompactBytes>>20, "compact the journal (store a snapshot of hub.db, drop the entries it holds) once it holds more MiB than this and than hub.db; 0: never")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("gridhub: unexpected arguments %q", fs.Args())
	case o.Config == "" || o.Data == "":
		return nil, fmt.Errorf("gridhub: --config and --data are required")
	case o.Broker != "" && (o.Listen != "" || o.TLSListen != ""):
		return nil, fmt.Errorf("gridhub: --broker and --listen/--tls-listen exclude each other")
	case o.NATS.Node != "" && (o.Broker != "" || o.TLSListen != ""):
		return nil, fmt.Errorf("gridhub: --nats-node runs a broker: it excludes --broker and --tls-listen")
	case o.NATS.Node == "" && (o.NATS.Cluster != "" || o.NATS.Routes != ""):
		return nil, fmt.Errorf("gridhub: --nats-cluster and --nats-routes need --nats-node")
	case (o.Cert == "") != (o.Key == ""):
		return nil, fmt.Errorf("gridhub: --cert and --key go together")
	case o.TLSListen != "" && (o.Cert == "" || o.Key == ""):
		return nil, fmt.Errorf("gridhub: --tls-listen needs --cert and --key")
	case o.HA != "" && o.Broker == "" && o.NATS.Node == "":
		return nil, fmt.Errorf("gridhub: --ha needs --broker or --nats-node: the hubs of a configuration share one broker (cluster)")
	case o.Hubs < 1:
		return nil, fmt.Errorf("gridhub: --hubs %d: want 1 or more", o.Hubs)
	case o.HACompact < 0:
		return nil, fmt.Errorf("gridhub: --ha-compact-mb %d: want 0 (never) or more", o.HACompact)
	case o.HA != "" && o.HALease < time.Second:
		return nil, fmt.Errorf("gridhub: --ha-lease %s: want at least 1s", o.HALease)
	}
	var err error
	if o.HTTPProxies, err = web.ParseProxies(*proxies); err != nil {
		return nil, fmt.Errorf("gridhub: --http-trusted-proxy: %w", err)
	}
	if len(o.HTTPProxies) > 0 && o.HTTP == "" {
		return nil, fmt.Errorf("gridhub: --http-trusted-proxy needs --http")
	}
	if o.HA != "" && o.HAName == "" {
		host, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("gridhub: --ha-name: %w", err)
		}
		o.HAName = host
	}
	if o.Broker == "" && o.Listen == "" && o.TLSListen == "" {
		o.Listen = "127.0.0.1:1883"
	}
	o.Password = getenv("GRIDHUB_BROKER_PASSWORD")
	o.MetricsToken = getenv("GRIDHUB_METRICS_TOKEN")
	return o, nil
}
