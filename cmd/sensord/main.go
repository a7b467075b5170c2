// Command sensord is the meter-box agent: it samples the box's temperature,
// current and smoke sensors, decides normal / pre-alarm / alarm / fault,
// sounds the buzzer, keeps every event in bbolt and sends it to the grid
// over MQTT. See doc.go.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"linli/cmd/internal/restart"
	"linli/firmware/device"
	"linli/mqtt/uplink"
)

// cliConfig is everything the command line says.
type cliConfig struct {
	cmd        string // run, events, status, version
	configFile string
	sim        string
	speed      float64
	data       string
	broker     string
	user, pass string
	exitAtEnd  bool
	jsonOut    bool
	verbose    bool
	drain      time.Duration

	// The uplink's timers (see package mqtt/uplink); tests shorten them.
	keepAlive, ackTimeout, maxBackoff time.Duration

	// Firmware updates (see package firmware/device).
	updateRoot    string
	rootKeys      string
	updateListen  string
	updateToken   string
	usbDirs       string
	trialDeadline time.Duration
	bundle        string // install: the bundle file
}

const usage = `usage:
  sensord run --config FILE [--sim NAME|FILE] [--speed N] [--data DIR] [--broker URL --user U --pass P]
              [--keepalive D] [--ack-timeout D] [--max-backoff D]
              [--update-root DIR [--root-keys FILE] [--update-listen ADDR] [--usb-dirs GLOBS]]
  sensord install --update-root DIR [--root-keys FILE] BUNDLE
  sensord events --data DIR [--json]
  sensord status --data DIR [--json]
  sensord version`

func parse(args []string) (*cliConfig, error) {
	if len(args) == 0 {
		return nil, errors.New(usage)
	}
	c := &cliConfig{cmd: args[0]}
	fs := flag.NewFlagSet("sensord "+c.cmd, flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprintln(fs.Output(), usage); fs.PrintDefaults() }
	switch c.cmd {
	case "run":
		fs.StringVar(&c.configFile, "config", "", "configuration `file` (JSON); empty = the built-in meter box")
		fs.StringVar(&c.sim, "sim", "", "simulate the hardware with a scenario `name` (meterbox-fire, normal-day) or file")
		fs.Float64Var(&c.speed, "speed", 1, "with --sim: run the simulated clock N times faster")
		fs.BoolVar(&c.exitAtEnd, "exit-at-end", true, "with --sim: exit 0 when the scenario ends")
		fs.DurationVar(&c.drain, "drain", 5*time.Second, "with --sim and --broker: at the end, wait up to this long for the outbox to drain")
		fs.StringVar(&c.broker, "broker", "", "MQTT broker `URL` (tcp://host:1883, ssl://…), or a comma-separated list of a cluster's nodes to fail over between; empty = store only")
		fs.StringVar(&c.user, "user", "", "MQTT user name")
		fs.StringVar(&c.pass, "pass", "", "MQTT password")
		fs.DurationVar(&c.keepAlive, "keepalive", uplink.DefaultOptions.KeepAlive,
			"with --broker: MQTT keep-alive, whole seconds, at least 1s; the broker declares the device dead after 1.5× this much silence")
		fs.DurationVar(&c.ackTimeout, "ack-timeout", uplink.DefaultOptions.AckTimeout,
			"with --broker: how long to wait for the broker's acknowledgement before dropping the connection and making it again")
		fs.DurationVar(&c.maxBackoff, "max-backoff", uplink.DefaultOptions.MaxBackoff,
			"with --broker: the longest wait between two connection attempts")
		fs.BoolVar(&c.verbose, "v", false, "log at debug level")
		fs.StringVar(&c.updateListen, "update-listen", "", "serve LAN firmware pushes (gridctl flash --local) on `addr`, e.g. :8470; empty = off")
		fs.StringVar(&c.updateToken, "update-token", "", "with --update-listen: shared token pushes must carry (the bundle's signature is checked anyway)")
		fs.StringVar(&c.usbDirs, "usb-dirs", strings.Join(device.DefaultUSBDirs, ","), "comma-separated glob `patterns` of folders an inserted stick's bundles appear in; empty = off")
		fs.DurationVar(&c.trialDeadline, "trial-deadline", 3*time.Minute, "time a newly installed version has to become healthy before it is rolled back")
	case "install":
	case "events", "status":
		fs.BoolVar(&c.jsonOut, "json", false, "print JSON, one object a line")
	case "version":
	case "-h", "--help", "help":
		return nil, errors.New(usage)
	default:
		return nil, fmt.Errorf("unknown command %q\n%s", c.cmd, usage)
	}
	if c.cmd == "run" || c.cmd == "install" {
		fs.StringVar(&c.updateRoot, "update-root", "", "firmware update `root` (slots, current link, update.db); empty = updates off")
		fs.StringVar(&c.rootKeys, "root-keys", "", "root public keys `file`; default ROOT/roots.pub")
	}
	if c.cmd != "version" && c.cmd != "install" {
		fs.StringVar(&c.data, "data", "", "data `directory` (holds sensord.db); default . for run")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return nil, err
	}
	if c.cmd == "install" {
		if fs.NArg() != 1 || c.updateRoot == "" {
			return nil, fmt.Errorf("install needs --update-root DIR and one bundle file\n%s", usage)
		}
		c.bundle = fs.Arg(0)
		return c, nil
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q\n%s", fs.Arg(0), usage)
	}
	if c.cmd == "run" && (c.speed <= 0 || c.speed > 100_000) {
		return nil, fmt.Errorf("--speed %g outside (0, 100000]", c.speed)
	}
	if c.cmd == "run" {
		// paho counts the keep-alive in whole seconds: below one it would
		// be zero, which turns keep-alive off.
		if c.keepAlive < time.Second || c.keepAlive%time.Second != 0 {
			return nil, fmt.Errorf("--keepalive %v: want a whole number of seconds, at least 1s", c.keepAlive)
		}
		if c.ackTimeout <= 0 || c.maxBackoff <= 0 {
			return nil, fmt.Errorf("--ack-timeout %v, --max-backoff %v: want both above 0", c.ackTimeout, c.maxBackoff)
		}
	}
	if c.data == "" && c.cmd != "version" && c.cmd != "install" {
		if c.cmd != "run" {
			return nil, errors.New("--data DIR is required")
		}
		c.data = "."
	}
	return c, nil
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("sensord: ")
	cfg, err := parse(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = run(ctx, cfg, os.Stdout)
	// A new version was installed, or a trial rolled back: become the
	// version the current link points at. The process id stays, so
	// systemd sees the same service.
	err = restart.Into(err, stop, log.Printf)
	if err != nil {
		log.Fatal(err)
	}
}
