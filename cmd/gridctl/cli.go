package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"linli/mqtt/hubclient"
)

// system is what gridctl takes from the operating system; tests replace it.
type system struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	now            func() time.Time
	loc            *time.Location
	terminal       bool // stdout is a terminal
}

// config holds the global flags.
type config struct {
	broker  string
	user    string
	pass    string
	json    bool
	timeout time.Duration
	hubs    int
}

// runFunc runs a command with its positional arguments.
type runFunc func(ctx context.Context, a *app, args []string) error

// command is one gridctl command. setup registers the command's own flags
// on fs and returns the function that runs it.
type command struct {
	name    string
	args    string // synopsis of the arguments, for help
	summary string
	setup   func(fs *flag.FlagSet) runFunc
}

func (c *command) synopsis() string { return strings.TrimSpace(c.name + " " + c.args) }

// commands is the command table, filled by register in init functions of
// the files that implement them (so a file can add commands alone).
var commands = map[string]*command{}

func register(cs ...*command) {
	for _, c := range cs {
		if _, dup := commands[c.name]; dup {
			panic("gridctl: command " + c.name + " registered twice")
		}
		commands[c.name] = c
	}
}

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// app is a running command: the configuration, the output and the hub
// connection, dialled on first use.
type app struct {
	cfg   config
	sys   *system
	out   io.Writer
	clock clock
	hc    *hubclient.Client
	// partial is set when a list was shown without every hub's part
	// (--hubs): the command then exits 1.
	partial bool
}

// hub returns the connection to the hub, dialling the broker on first use.
func (a *app) hub(ctx context.Context) (*hubclient.Client, error) {
	if a.hc != nil {
		return a.hc, nil
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.timeout)
	defer cancel()
	c, err := hubclient.Dial(ctx, &hubclient.Options{Broker: a.cfg.broker, User: a.cfg.user, Password: a.cfg.pass, Hubs: a.cfg.hubs})
	if err != nil {
		var ce *hubclient.ConnectError
		if errors.As(err, &ce) {
			return nil, fmt.Errorf("cannot reach the MQTT broker at %s (is it running? set --broker or LINLI_BROKER): %w", ce.Broker, ce.Err)
		}
		return nil, err
	}
	a.hc = c
	return c, nil
}

// call calls op on the hub within the --timeout.
func (a *app) call(ctx context.Context, op string, args map[string]string, body, out any) error {
	return a.callWithin(ctx, a.cfg.timeout, op, args, body, out)
}

// callWithin calls op on the hub and waits for the answer up to timeout.
func (a *app) callWithin(ctx context.Context, timeout time.Duration, op string, args map[string]string, body, out any) error {
	c, err := a.hub(ctx)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err = c.Call(cctx, op, args, body, out)
	var he *hubclient.HubError
	var pe *hubclient.PartialError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &pe) && pe.List && ctx.Err() == nil:
		// A shard's hub is down: show what the others hold, say so, and
		// exit 1.
		fmt.Fprintf(a.sys.stderr, "gridctl: warning: only %s answered of %d hubs within %v: this list lacks the other hubs' communities\n",
			strings.Join(pe.Answered, ", "), pe.Want, timeout)
		a.partial = true
		return nil
	case errors.Is(err, hubclient.ErrNoAnswer) && ctx.Err() == nil:
		return errNoAnswer{timeout}
	case errors.As(err, &he):
		return fmt.Errorf("hub refused %s: %s", he.Op, clean(he.Message))
	}
	return err
}

// errNoAnswer is the error of a request the hub did not answer in time.
type errNoAnswer struct{ timeout time.Duration }

func (e errNoAnswer) Error() string {
	return fmt.Sprintf("hub did not answer within %v — is gridhub running?", e.timeout)
}

func (a *app) close() {
	if a.hc != nil {
		a.hc.Close()
	}
}

// globalFlags registers the flags every command takes.
func globalFlags(fs *flag.FlagSet, c *config) {
	fs.StringVar(&c.broker, "broker", c.broker, "MQTT broker `URL`, or a comma-separated list of cluster nodes (env LINLI_BROKER)")
	fs.StringVar(&c.user, "user", c.user, "worker `id`, the MQTT user name (env LINLI_USER)")
	fs.StringVar(&c.pass, "pass", c.pass, "MQTT `password` (env LINLI_PASS)")
	fs.BoolVar(&c.json, "json", c.json, "print JSON instead of tables")
	fs.DurationVar(&c.timeout, "timeout", c.timeout, "how long to wait for the broker and the hub")
	fs.IntVar(&c.hubs, "hubs", c.hubs, "how many hubs (shards on one broker) serve your communities; lists merge their answers (env LINLI_HUBS)")
}

// parseArgs parses flags anywhere among the positional arguments
// ("resolve K-1 --note done" as well as "resolve --note done K-1"). "--"
// ends the flags.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// synopsis is the usage line, in two lines to fit 80 columns.
const synopsis = "usage: gridctl [--broker URL] [--user U] [--pass P] [--timeout 5s] [--json]\n" +
	"               [--hubs N] COMMAND [ARGS]"

// run runs the command line args and returns the exit status.
func run(ctx context.Context, args []string, sys *system) int {
	cfg := config{
		broker:  sys.getenv("LINLI_BROKER"),
		user:    sys.getenv("LINLI_USER"),
		pass:    sys.getenv("LINLI_PASS"),
		timeout: 5 * time.Second,
		hubs:    1,
	}
	if v := sys.getenv("LINLI_HUBS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fail(sys, usagef("LINLI_HUBS=%q: want a number of hubs, 1 or more", v))
		}
		cfg.hubs = n
	}
	if cfg.broker == "" {
		cfg.broker = hubclient.DefaultBroker
	}
	if cfg.user == "" {
		cfg.user = sys.getenv("USER")
	}
	if cfg.user == "" {
		cfg.user = "gridctl"
	}

	// Global flags before the command.
	gfs := flag.NewFlagSet("gridctl", flag.ContinueOnError)
	gfs.SetOutput(io.Discard)
	globalFlags(gfs, &cfg)
	if err := gfs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			writeHelp(sys.stdout)
			return 0
		}
		return fail(sys, usageError{err.Error()})
	}
	rest := gfs.Args()
	if len(rest) == 0 {
		writeHelp(sys.stderr)
		return 2
	}
	cmd, ok := commands[rest[0]]
	if !ok {
		return fail(sys, usagef("unknown command %q (run gridctl help)", rest[0]))
	}

	fs := flag.NewFlagSet("gridctl "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	globalFlags(fs, &cfg)
	runCmd := cmd.setup(fs)
	pos, err := parseArgs(fs, rest[1:])
	if errors.Is(err, flag.ErrHelp) {
		writeCommandHelp(sys.stdout, cmd)
		return 0
	}
	if err != nil {
		return fail(sys, usageError{fmt.Sprintf("%s: %v", cmd.name, err)})
	}
	if cfg.timeout <= 0 {
		return fail(sys, usagef("--timeout must be positive"))
	}
	if cfg.hubs < 1 {
		return fail(sys, usagef("--hubs must be 1 or more"))
	}
	a := &app{cfg: cfg, sys: sys, out: sys.stdout, clock: clock{now: sys.now, loc: sys.loc}}
	defer a.close()
	if err := runCmd(ctx, a, pos); err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			return fail(sys, usageError{cmd.name + ": " + ue.msg})
		}
		return fail(sys, err)
	}
	if a.partial {
		return 1
	}
	return 0
}

// fail prints err on one line and returns its exit status.
func fail(sys *system, err error) int {
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	fmt.Fprintf(sys.stderr, "gridctl: %s\n", msg)
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(sys.stderr, synopsis)
		return 2
	}
	return 1
}

// Help layout: every line fits helpWidth columns. A command whose synopsis
// fits helpColumn has its summary beside it; a longer one has it below,
// indented as deep.
const (
	helpWidth  = 80
	helpColumn = 34 // where summaries start, after "  " and the synopsis
)

func writeHelp(w io.Writer) {
	fmt.Fprintln(w, synopsis)
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	pad := strings.Repeat(" ", helpColumn)
	for _, n := range names {
		c := commands[n]
		syn := wrapWords(c.synopsis(), helpWidth-2, "    ")
		last := syn[len(syn)-1]
		summary := wrapWords(c.summary, helpWidth-helpColumn, "")
		if len(syn) == 1 && width(last)+2+2 <= helpColumn {
			fmt.Fprintf(w, "  %s%s%s\n", last, strings.Repeat(" ", helpColumn-2-width(last)), summary[0])
			summary = summary[1:]
		} else {
			for _, l := range syn {
				fmt.Fprintf(w, "  %s\n", l)
			}
		}
		for _, l := range summary {
			fmt.Fprintf(w, "%s%s\n", pad, l)
		}
	}
	fmt.Fprintln(w, "\nenvironment: LINLI_BROKER (default "+hubclient.DefaultBroker+"), LINLI_USER,")
	fmt.Fprintln(w, "             LINLI_PASS, LINLI_HUBS")
	fmt.Fprintln(w, "exit status: 0 ok, 1 error, 2 usage")
}

// wrapWords breaks s at spaces into lines of at most cols columns; lines
// after the first start with indent. A word longer than a line stays whole.
func wrapWords(s string, cols int, indent string) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		switch {
		case line == "":
			line = word
		case width(line)+1+width(word) <= cols:
			line += " " + word
		default:
			lines = append(lines, line)
			line = indent + word
		}
	}
	return append(lines, line)
}

func writeCommandHelp(w io.Writer, c *command) {
	fmt.Fprintf(w, "usage: gridctl %s\n\n%s\n\nflags:\n", c.synopsis(), c.summary)
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	var cfg config
	cfg.timeout = 5 * time.Second
	globalFlags(fs, &cfg)
	c.setup(fs)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

func init() {
	register(
		&command{name: "help", args: "[COMMAND]", summary: "show the commands, or one command's flags",
			setup: func(*flag.FlagSet) runFunc {
				return func(_ context.Context, a *app, args []string) error {
					if len(args) == 0 {
						writeHelp(a.out)
						return nil
					}
					c, ok := commands[args[0]]
					if !ok {
						return usagef("unknown command %q", args[0])
					}
					writeCommandHelp(a.out, c)
					return nil
				}
			}},
	)
}

// needArgs checks the number of positional arguments.
func needArgs(args []string, names ...string) error {
	if len(args) < len(names) {
		return usagef("missing %s", strings.Join(names[len(args):], " and "))
	}
	if len(args) > len(names) {
		return usagef("unexpected argument %q", args[len(names)])
	}
	return nil
}
