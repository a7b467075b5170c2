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
	"syscall"
	"time"
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
}

const usage = `usage:
  sensord run --config FILE [--sim NAME|FILE] [--speed N] [--data DIR] [--broker URL --user U --pass P]
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
		fs.StringVar(&c.broker, "broker", "", "MQTT broker `URL` (tcp://host:1883, ssl://…); empty = store only")
		fs.StringVar(&c.user, "user", "", "MQTT user name")
		fs.StringVar(&c.pass, "pass", "", "MQTT password")
		fs.BoolVar(&c.verbose, "v", false, "log at debug level")
	case "events", "status":
		fs.BoolVar(&c.jsonOut, "json", false, "print JSON, one object a line")
	case "version":
	case "-h", "--help", "help":
		return nil, errors.New(usage)
	default:
		return nil, fmt.Errorf("unknown command %q\n%s", c.cmd, usage)
	}
	if c.cmd != "version" {
		fs.StringVar(&c.data, "data", "", "data `directory` (holds sensord.db); default . for run")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q\n%s", fs.Arg(0), usage)
	}
	if c.cmd == "run" && (c.speed <= 0 || c.speed > 100_000) {
		return nil, fmt.Errorf("--speed %g outside (0, 100000]", c.speed)
	}
	if c.data == "" && c.cmd != "version" {
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
	if err := run(ctx, cfg, os.Stdout); err != nil {
		log.Fatal(err)
	}
}
