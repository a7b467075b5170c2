package main

import (
	"bufio"
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"linli/grid/config"
	"linli/mqtt/broker"
	"linli/mqtt/natsbroker"
)

// natsFlags are the flags of an embedded NATS node, shared by `gridhub run`
// and `gridhub config nats`.
type natsFlags struct {
	Node    string // --nats-node: run a NATS node of this name instead of mochi
	Listen  string // --nats: the node's NATS client listener
	Cluster string // --nats-cluster: the cluster listener
	Routes  string // --nats-routes: peers' route URLs, comma-separated
}

func (n *natsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&n.Node, "nats-node", "", "run an embedded NATS node (JetStream + MQTT on --listen) of this unique `name` instead of the mochi broker")
	fs.StringVar(&n.Listen, "nats", "127.0.0.1:4222", "with --nats-node: the NATS client listener `address`")
	fs.StringVar(&n.Cluster, "nats-cluster", "", "with --nats-node: the cluster listener `address` (e.g. 0.0.0.0:6222); empty = a node on its own")
	fs.StringVar(&n.Routes, "nats-routes", "", "with --nats-cluster: the nodes' route `URLs`, comma-separated (nats-route://host:6222,…); a node may list itself")
}

// options returns the natsbroker options of the node; mqtt is the MQTT
// listener address, data gridhub's data directory.
func (n *natsFlags) options(mqtt, data string) *natsbroker.Options {
	o := &natsbroker.Options{Name: n.Node, MQTTListen: mqtt, Listen: n.Listen, ClusterListen: n.Cluster}
	if data != "" {
		o.DataDir = filepath.Join(data, "nats")
	}
	for _, r := range strings.Split(n.Routes, ",") {
		if r = strings.TrimSpace(r); r != "" {
			o.Routes = append(o.Routes, r)
		}
	}
	return o
}

// startNATS starts the embedded NATS node for gridhub run with the
// configuration's accounts, the hub's with a secret of this run only (as
// for mochi), and returns it with that secret; the caller closes it.
func startNATS(ctx context.Context, o *options, cfg *config.Config, log *slog.Logger) (*natsbroker.Server, string, error) {
	secret := make([]byte, 16)
	if _, err := rand.Read(secret); err != nil {
		return nil, "", err
	}
	password := hex.EncodeToString(secret)
	accounts := cfg.Accounts()
	accounts[cfg.Hub.ID] = broker.Entry{Account: broker.Account{ID: cfg.Hub.ID, Role: broker.RoleHub}, Password: password}
	no := o.NATS.options(o.Listen, o.Data)
	no.Accounts, no.Logger = accounts, log
	srv, err := natsbroker.New(no)
	if err != nil {
		return nil, "", err
	}
	if err := srv.Start(); err != nil {
		return nil, "", err
	}
	if !srv.Ready() {
		log.Info("waiting for the NATS cluster: JetStream needs a quorum of nodes", "routes", no.Routes)
	}
	if err := srv.WaitReady(ctx); err != nil {
		srv.Close()
		return nil, "", err
	}
	return srv, password, nil
}

// configNATS is `gridhub config nats`: a nats-server configuration of one
// node with the configuration's users and permissions.
func configNATS(args []string, w, logw io.Writer) error {
	fs := flag.NewFlagSet("gridhub config nats", flag.ContinueOnError)
	var paths configFiles
	fs.Var(&paths, "config", "hub configuration `file`; repeat it for the shards that share the cluster")
	mqtt := fs.String("listen", "0.0.0.0:1883", "the node's MQTT listener `address`")
	data := fs.String("data", "", "JetStream's store `directory` (default: nats-server's)")
	var n natsFlags
	n.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(paths) == 0 || fs.NArg() > 0 {
		return fmt.Errorf("gridhub: usage: gridhub config nats --config FILE [--config FILE ...] [--nats-node NAME --listen ADDR --nats ADDR --nats-cluster ADDR --nats-routes URLS --data DIR]")
	}
	es, err := loadEntries(paths)
	if err != nil {
		return err
	}
	if n.Node == "" {
		n.Node = natsbroker.DefaultName
	}
	o := n.options(*mqtt, "")
	o.DataDir = *data
	skipped, err := natsbroker.WriteConfig(w, o, es)
	if err != nil {
		return err
	}
	if len(skipped) > 0 {
		fmt.Fprintf(logw, "gridhub: left out %d users whose password NATS cannot check (see the comments): %s\n", len(skipped), strings.Join(skipped, ", "))
	}
	return nil
}

// configMosquitto is `gridhub config mosquitto`: mosquitto's password file
// (PBKDF2-SHA512, as mosquitto_passwd writes it) and ACL file with the
// same policy as the embedded broker's.
func configMosquitto(args []string, w, logw io.Writer) error {
	fs := flag.NewFlagSet("gridhub config mosquitto", flag.ContinueOnError)
	var paths configFiles
	fs.Var(&paths, "config", "hub configuration `file`; repeat it for the shards that share the broker")
	part := fs.String("print", "passwd", "`passwd` (password_file) or acl (acl_file)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(paths) == 0 || fs.NArg() > 0 || (*part != "passwd" && *part != "acl") {
		return fmt.Errorf("gridhub: usage: gridhub config mosquitto --config FILE [--config FILE ...] --print passwd|acl")
	}
	es, err := loadEntries(paths)
	if err != nil {
		return err
	}
	b := bufio.NewWriter(w)
	var skipped []string
	for _, e := range es {
		if *part == "acl" {
			writeMosquittoACL(b, e.Account)
			continue
		}
		if strings.HasPrefix(e.Password, "sha256:") || e.Password == "" {
			skipped = append(skipped, e.ID)
			continue
		}
		salt := make([]byte, 12)
		if _, err := rand.Read(salt); err != nil {
			return err
		}
		key, err := pbkdf2.Key(sha512.New, e.Password, salt, 101, sha512.Size)
		if err != nil {
			return fmt.Errorf("gridhub: pbkdf2: %w", err)
		}
		fmt.Fprintf(b, "%s:$7$101$%s$%s\n", e.ID, base64.StdEncoding.EncodeToString(salt), base64.StdEncoding.EncodeToString(key))
	}
	if err := b.Flush(); err != nil {
		return err
	}
	if len(skipped) > 0 {
		fmt.Fprintf(logw, "gridhub: left out %d users whose configuration holds only a sha256 hash (add them with mosquitto_passwd): %s\n", len(skipped), strings.Join(skipped, ", "))
	}
	return nil
}

// writeMosquittoACL writes the acl_file lines of one account: broker.Rules
// as "topic write" and "topic read" lines.
func writeMosquittoACL(w io.Writer, acc broker.Account) {
	pub, sub, all := broker.Rules(acc)
	fmt.Fprintf(w, "# %s (%s)\nuser %s\n", acc.ID, acc.Role, acc.ID)
	if all {
		fmt.Fprintf(w, "topic readwrite #\n\n")
		return
	}
	for _, t := range pub {
		fmt.Fprintf(w, "topic write %s\n", t)
	}
	for _, t := range sub {
		fmt.Fprintf(w, "topic read %s\n", t)
	}
	fmt.Fprintln(w)
}

// entries returns the configuration's accounts sorted by id.
func entries(cfg *config.Config) []broker.Entry {
	var es []broker.Entry
	for _, e := range cfg.Accounts() {
		es = append(es, e)
	}
	sort.Slice(es, func(i, j int) bool { return es[i].ID < es[j].ID })
	return es
}

// configFiles is a repeatable --config flag.
type configFiles []string

func (c *configFiles) String() string     { return strings.Join(*c, ",") }
func (c *configFiles) Set(v string) error { *c = append(*c, v); return nil }

// loadEntries returns the accounts of the configurations at paths, the
// shards of one broker, sorted by id. An id in several configurations (a
// subdistrict worker of two shards) must be the same account with the
// same password in each: the broker has one user of that name.
func loadEntries(paths []string) ([]broker.Entry, error) {
	byID := map[string]broker.Entry{}
	from := map[string]string{}
	for _, p := range paths {
		cfg, err := config.Load(p)
		if err != nil {
			return nil, err
		}
		if len(paths) > 1 && !cfg.SharedBroker {
			return nil, fmt.Errorf("gridhub: %s: several configurations share this broker, but this one does not say \"shared_broker\": true (its hub would take the other shards' devices and answer their workers)", p)
		}
		for _, e := range entries(cfg) {
			if prev, dup := byID[e.ID]; dup {
				if prev != e {
					return nil, fmt.Errorf("gridhub: %q is in %s and %s with a different role, community or password: one broker has one user of that name", e.ID, from[e.ID], p)
				}
				continue
			}
			byID[e.ID], from[e.ID] = e, p
		}
	}
	es := slices.Collect(maps.Values(byID))
	sort.Slice(es, func(i, j int) bool { return es[i].ID < es[j].ID })
	return es, nil
}
