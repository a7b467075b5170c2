package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"linli/firmware/version"
	"linli/mqtt/contract"
)

func init() {
	register(
		&command{name: "version", summary: "print gridctl's version",
			setup: func(*flag.FlagSet) runFunc { return runVersion }},
		&command{name: "alerts", args: "[--all]", summary: "list the active alerts (--all: with the cleared ones)",
			setup: setupAlerts},
		&command{name: "ack", args: "ID", summary: "acknowledge an alert: you are on it (stops its escalation)",
			setup: func(*flag.FlagSet) runFunc { return runAck }},
		&command{name: "devices", summary: "list the devices: online state, channels, health",
			setup: func(*flag.FlagSet) runFunc { return runDevices }},
		&command{name: "reset", args: "DEVICE [--channel C]", summary: "reset the latched alarms of a device (one channel with --channel)",
			setup: setupReset},
		&command{name: "cmd", args: "DEVICE NAME [KEY=VALUE ...]", summary: "send a command to a device (ack, reset, test, set-thresholds, rebirth, …)",
			setup: setupCmd},
		&command{name: "tickets", args: "[--status S] [--grid G]", summary: "list tickets",
			setup: setupTickets},
		&command{name: "ticket", args: "NUMBER", summary: "show a ticket and its timeline (ticket assign: see assign)",
			setup: setupTicket},
		ticketStep("accept", contract.OpTicketAccept, "accept a ticket: it is yours", ""),
		ticketStep("start", contract.OpTicketStart, "start work on a ticket", ""),
		ticketStep("close", contract.OpTicketClose, "close a ticket", "optional"),
		ticketStep("resolve", contract.OpTicketResolve, "mark a ticket resolved; the resident rates it", "required"),
		ticketStep("return", contract.OpTicketReturn, "return a ticket (not ours, or cannot be done), saying why", "required"),
		&command{name: "assign", args: "NUMBER (--grid G | --worker W) [--note TEXT]",
			summary: "send a ticket to another grid or grid worker (also: ticket assign)", setup: setupAssign},
		&command{name: "duplicate", args: "NUMBER --of OTHER", summary: "mark a ticket as a duplicate of another",
			setup: setupDuplicate},
		&command{name: "wishes", args: "[--community C]", summary: "list residents' micro-wishes",
			setup: setupWishes},
		&command{name: "claim", args: "WISH-ID --by NAME", summary: "record the volunteer who takes on a wish",
			setup: setupClaim},
		&command{name: "notice", args: "--community C --title T --body B",
			summary: "publish a notice to a community's kiosks ([--level info|warning|typhoon] [--expires 24h])", setup: setupNotice},
	)
}

// printJSON writes v as indented JSON.
func (a *app) printJSON(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(a.out, "%s\n", b)
	return err
}

func runVersion(_ context.Context, a *app, args []string) error {
	if err := needArgs(args); err != nil {
		return err
	}
	if a.cfg.json {
		return a.printJSON(map[string]string{"version": version.Version, "build": version.String()})
	}
	_, err := fmt.Fprintln(a.out, "gridctl", version.String())
	return err
}

// ---- alerts

func setupAlerts(fs *flag.FlagSet) runFunc {
	all := fs.Bool("all", false, "include cleared alerts")
	return func(ctx context.Context, a *app, args []string) error {
		if err := needArgs(args); err != nil {
			return err
		}
		var alerts []contract.Alert
		var qargs map[string]string
		if *all {
			qargs = map[string]string{"all": "true"}
		}
		if err := a.call(ctx, contract.OpAlertsList, qargs, nil, &alerts); err != nil {
			return err
		}
		if a.cfg.json {
			return a.printJSON(nonNil(alerts))
		}
		if len(alerts) == 0 {
			_, err := fmt.Fprintln(a.out, "no active alerts")
			return err
		}
		sortAlerts(alerts)
		return a.alertTable(alerts).write(a.out)
	}
}

// sortAlerts puts the most severe and oldest first.
func sortAlerts(as []contract.Alert) {
	slices.SortStableFunc(as, func(x, y contract.Alert) int {
		if x.Cleared != y.Cleared {
			if x.Cleared {
				return 1
			}
			return -1
		}
		if d := y.State.Severity() - x.State.Severity(); d != 0 {
			return d
		}
		return x.Raised.Compare(y.Raised)
	})
}

func (a *app) alertTable(alerts []contract.Alert) *table {
	t := newTable("ID", "STATE", "WHERE", "DEVICE/CHANNEL", "VALUE", "RAISED", "LEVEL", "ASSIGNED", "STATUS")
	for _, al := range alerts {
		v := value(al.Value, al.Unit)
		if al.State == contract.StateFault && al.Value == 0 {
			v = "" // a fault has no reading
		}
		t.add(al.ID, string(al.State), al.Location.String(), al.Device+"/"+al.Channel, v,
			a.clock.at(al.Raised), al.Level, strings.Join(al.Assigned, ","), a.alertStatus(al))
	}
	return t
}

// alertStatus says where an alert stands: cleared, acknowledged, or when
// it escalates.
func (a *app) alertStatus(al contract.Alert) string {
	switch {
	case al.Cleared:
		return "cleared " + a.clock.rel(al.ClearedAt)
	case al.AckedBy != "":
		return "acked by " + al.AckedBy + " " + a.clock.rel(al.AckedAt)
	case al.EscalateAt.IsZero():
		return "not acked"
	}
	left := al.EscalateAt.Sub(a.clock.now())
	if left <= 0 {
		return "escalation due " + countdown(-left) + " ago"
	}
	return "escalates to " + nextLevel(al.Level) + " in " + countdown(left)
}

// nextLevel is the level an unacknowledged alert escalates to.
func nextLevel(level string) string {
	switch level {
	case "grid", "":
		return "community"
	case "community":
		return "subdistrict"
	}
	return "the next level"
}

// value renders a reading with its unit: "320 mA", "41.5 °C".
// value shows a reading as a person reads it: at most one decimal.
func value(v float64, unit string) string {
	s := strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
	if unit == "" {
		return s
	}
	return s + " " + unit
}

func runAck(ctx context.Context, a *app, args []string) error {
	if err := needArgs(args, "ID"); err != nil {
		return err
	}
	var al contract.Alert
	if err := a.call(ctx, contract.OpAlertAck, map[string]string{"id": args[0]}, nil, &al); err != nil {
		return err
	}
	if a.cfg.json {
		return a.printJSON(al)
	}
	_, err := fmt.Fprintf(a.out, "acknowledged %s: %s %s on %s at %s\n", al.ID, al.Channel, al.State,
		al.Device, clean(orDash(al.Location.String())))
	return err
}

// ---- devices

func runDevices(ctx context.Context, a *app, args []string) error {
	if err := needArgs(args); err != nil {
		return err
	}
	var devs []contract.DeviceInfo
	if err := a.call(ctx, contract.OpDevices, nil, nil, &devs); err != nil {
		return err
	}
	if a.cfg.json {
		return a.printJSON(nonNil(devs))
	}
	if len(devs) == 0 {
		_, err := fmt.Fprintln(a.out, "no devices")
		return err
	}
	slices.SortFunc(devs, func(x, y contract.DeviceInfo) int { return strings.Compare(x.Device, y.Device) })
	t := newTable("DEVICE", "KIND", "STATE", "LAST SEEN", "FIRMWARE", "WHERE", "CHANNELS", "QUEUE", "MISSED", "DB ERRORS")
	for _, d := range devs {
		online := "offline"
		if d.Online {
			online = "online"
		}
		t.add(d.Device, d.Kind, online, a.clock.at(d.LastSeen), d.Firmware, d.Location.String(),
			channels(d.Channels), strconv.Itoa(d.Health.QueueDepth), strconv.FormatUint(d.MissingEvents, 10),
			strconv.FormatUint(d.Health.StorageErrors, 10))
	}
	return t.write(a.out)
}

// channels summarises channel states, the worst first: "residual alarm,
// 2 normal".
func channels(cs []contract.ChannelState) string {
	cs = slices.Clone(cs)
	slices.SortStableFunc(cs, func(x, y contract.ChannelState) int { return y.State.Severity() - x.State.Severity() })
	var parts []string
	normal := 0
	for _, c := range cs {
		if c.State == contract.StateNormal {
			normal++
			continue
		}
		parts = append(parts, c.Channel+" "+string(c.State))
	}
	if normal > 0 {
		parts = append(parts, strconv.Itoa(normal)+" normal")
	}
	return strings.Join(parts, ", ")
}

// deviceWaitFlag registers --device-timeout: the hub waits for the device's
// answer (gridhub: up to 15 s) before it answers, so a device command may
// take that much longer than --timeout.
func deviceWaitFlag(fs *flag.FlagSet) *time.Duration {
	return fs.Duration("device-timeout", 15*time.Second, "how long the hub may wait for the device, on top of --timeout")
}

func setupReset(fs *flag.FlagSet) runFunc {
	channel := fs.String("channel", "", "reset only this `channel` (default: all)")
	wait := deviceWaitFlag(fs)
	return func(ctx context.Context, a *app, args []string) error {
		if err := needArgs(args, "DEVICE"); err != nil {
			return err
		}
		cargs := map[string]string{}
		if *channel != "" {
			cargs["channel"] = *channel
		}
		return a.deviceCmd(ctx, *wait, args[0], contract.CmdReset, cargs)
	}
}

func setupCmd(fs *flag.FlagSet) runFunc {
	wait := deviceWaitFlag(fs)
	return func(ctx context.Context, a *app, args []string) error { return runCmd(ctx, a, *wait, args) }
}

func runCmd(ctx context.Context, a *app, wait time.Duration, args []string) error {
	if len(args) < 2 {
		return usagef("need DEVICE and NAME")
	}
	cargs := map[string]string{}
	for _, kv := range args[2:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return usagef("argument %q is not KEY=VALUE", kv)
		}
		if k == "device" || k == "name" {
			return usagef("argument %q: %s is set by the command line itself", kv, k)
		}
		cargs[k] = v
	}
	return a.deviceCmd(ctx, wait, args[0], args[1], cargs)
}

// deviceCmd sends a command through the hub and reports the device's
// answer; a refusal is an error.
func (a *app) deviceCmd(ctx context.Context, wait time.Duration, device, name string, cargs map[string]string) error {
	if !contract.ValidID(device) {
		return usagef("%q is not a device id", device)
	}
	args := map[string]string{"device": device, "name": name}
	for k, v := range cargs {
		args[k] = v
	}
	var ack contract.CommandAck
	if err := a.callWithin(ctx, a.cfg.timeout+wait, contract.OpDeviceCmd, args, nil, &ack); err != nil {
		if errors.As(err, new(errNoAnswer)) {
			return fmt.Errorf("%w (or %s is not answering)", err, device)
		}
		return err
	}
	if a.cfg.json {
		if err := a.printJSON(ack); err != nil {
			return err
		}
	}
	if !ack.OK {
		msg := ack.Error
		if msg == "" {
			msg = "no reason given"
		}
		return fmt.Errorf("%s refused %s: %s", device, name, clean(msg))
	}
	if a.cfg.json {
		return nil
	}
	line := device + ": " + name + " done"
	if len(ack.Result) > 0 && string(ack.Result) != "null" {
		line += " " + clean(string(ack.Result))
	}
	_, err := fmt.Fprintln(a.out, line)
	return err
}

// ---- tickets

func setupTickets(fs *flag.FlagSet) runFunc {
	status := fs.String("status", "", "only tickets with this `status` (reported, accepted, in-progress, resolved, …)")
	grid := fs.String("grid", "", "only tickets of this `grid`")
	return func(ctx context.Context, a *app, args []string) error {
		if err := needArgs(args); err != nil {
			return err
		}
		q := map[string]string{}
		if *status != "" {
			q["status"] = *status
		}
		if *grid != "" {
			q["grid"] = *grid
		}
		var ts []contract.TicketStatus
		if err := a.call(ctx, contract.OpTicketsList, q, nil, &ts); err != nil {
			return err
		}
		if a.cfg.json {
			return a.printJSON(nonNil(ts))
		}
		if len(ts) == 0 {
			_, err := fmt.Fprintln(a.out, "no tickets")
			return err
		}
		t := newTable("NUMBER", "STATUS", "CATEGORY", "WHERE", "ASSIGNED", "REPORTED", "DUE")
		for _, s := range ts {
			t.add(s.Number, s.Status, s.Category, s.Location.String(), s.Assigned, a.clock.at(reported(s)), a.due(s))
		}
		return t.write(a.out)
	}
}

// reported is the time of a ticket's first step.
func reported(s contract.TicketStatus) time.Time {
	if len(s.Timeline) == 0 {
		return time.Time{}
	}
	return s.Timeline[0].At
}

// due renders the deadline, or "overdue 2h" for an open ticket past it.
func (a *app) due(s contract.TicketStatus) string {
	if s.Due.IsZero() {
		return ""
	}
	switch s.Status {
	case "resolved", "closed", "duplicate":
		return a.clock.at(s.Due)
	}
	if late := a.clock.now().Sub(s.Due); late > 0 {
		return "OVERDUE " + short(late)
	}
	return a.clock.at(s.Due)
}

// setupTicket is "ticket NUMBER", and "ticket assign ..." as a second
// spelling of assign.
func setupTicket(fs *flag.FlagSet) runFunc {
	assign := setupAssign(fs)
	return func(ctx context.Context, a *app, args []string) error {
		if len(args) > 0 && args[0] == "assign" {
			return assign(ctx, a, args[1:])
		}
		var set []string
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "grid" || f.Name == "worker" || f.Name == "note" {
				set = append(set, "--"+f.Name)
			}
		})
		if len(set) > 0 {
			return usagef("%s only with ticket assign", strings.Join(set, ", "))
		}
		return runTicket(ctx, a, args)
	}
}

func runTicket(ctx context.Context, a *app, args []string) error {
	if err := needArgs(args, "NUMBER"); err != nil {
		return err
	}
	var s contract.TicketStatus
	if err := a.call(ctx, contract.OpTicketGet, map[string]string{"number": args[0]}, nil, &s); err != nil {
		return err
	}
	if a.cfg.json {
		return a.printJSON(s)
	}
	return a.writeTicket(s)
}

func (a *app) writeTicket(s contract.TicketStatus) error {
	err := fields(a.out,
		"Ticket", s.Number,
		"Status", s.Status,
		"Category", s.Category,
		"Where", s.Location.String(),
		"Assigned", s.Assigned,
		"Due", a.due(s),
		"Rating", s.Rating,
	)
	if err != nil || len(s.Timeline) == 0 {
		return err
	}
	fmt.Fprintln(a.out)
	t := newTable("WHEN", "STATUS", "BY", "NOTE")
	for _, st := range s.Timeline {
		t.add(a.clock.at(st.At), st.Status, st.By, st.Note)
	}
	return t.write(a.out)
}

// ticketStep is a command that moves a ticket on. note is "", "optional"
// or "required": whether it takes --note.
func ticketStep(name, op, summary, note string) *command {
	args := "NUMBER"
	switch note {
	case "required":
		args += " --note TEXT"
	case "optional":
		args += " [--note TEXT]"
	}
	return &command{name: name, args: args, summary: summary, setup: func(fs *flag.FlagSet) runFunc {
		var text *string
		if note != "" {
			text = fs.String("note", "", "a `note` for the ticket's timeline (the resident sees it)")
		}
		return func(ctx context.Context, a *app, args []string) error {
			if err := needArgs(args, "NUMBER"); err != nil {
				return err
			}
			q := map[string]string{"number": args[0]}
			if note == "required" && strings.TrimSpace(*text) == "" {
				return usagef("--note is required")
			}
			if text != nil && *text != "" {
				q["note"] = *text
			}
			return a.ticketChange(ctx, op, q)
		}
	}}
}

func (a *app) ticketChange(ctx context.Context, op string, q map[string]string) error {
	var s contract.TicketStatus
	if err := a.call(ctx, op, q, nil, &s); err != nil {
		return err
	}
	if a.cfg.json {
		return a.printJSON(s)
	}
	line := fmt.Sprintf("%s is now %s", s.Number, s.Status)
	if op == contract.OpTicketAssign {
		line += " in grid " + s.Location.Grid
	}
	if s.Assigned != "" {
		line += " (assigned to " + s.Assigned + ")"
	}
	_, err := fmt.Fprintln(a.out, clean(line))
	return err
}

func setupDuplicate(fs *flag.FlagSet) runFunc {
	of := fs.String("of", "", "the ticket `number` this one duplicates")
	return func(ctx context.Context, a *app, args []string) error {
		if err := needArgs(args, "NUMBER"); err != nil {
			return err
		}
		if *of == "" {
			return usagef("--of is required")
		}
		if *of == args[0] {
			return usagef("a ticket cannot duplicate itself")
		}
		return a.ticketChange(ctx, contract.OpTicketDuplicate, map[string]string{"number": args[0], "of": *of})
	}
}

func setupAssign(fs *flag.FlagSet) runFunc {
	grid := fs.String("grid", "", "the `grid` to send the ticket to")
	worker := fs.String("worker", "", "the grid `worker` to send the ticket to (their grid, unless --grid)")
	note := fs.String("note", "", "why, for the ticket's timeline (the resident sees it)")
	return func(ctx context.Context, a *app, args []string) error {
		if err := needArgs(args, "NUMBER"); err != nil {
			return err
		}
		if *grid == "" && *worker == "" {
			return usagef("--grid or --worker is required")
		}
		q := map[string]string{"number": args[0]}
		for k, v := range map[string]string{"grid": *grid, "worker": *worker} {
			if v == "" {
				continue
			}
			if !contract.ValidID(v) {
				return usagef("--%s %q is not a %s id", k, v, k)
			}
			q[k] = v
		}
		if *note != "" {
			q["note"] = *note
		}
		return a.ticketChange(ctx, contract.OpTicketAssign, q)
	}
}

// ---- wishes and notices

func setupWishes(fs *flag.FlagSet) runFunc {
	community := fs.String("community", "", "only wishes of this `community`")
	return func(ctx context.Context, a *app, args []string) error {
		if err := needArgs(args); err != nil {
			return err
		}
		var q map[string]string
		if *community != "" {
			q = map[string]string{"community": *community}
		}
		var ws []contract.Wish
		if err := a.call(ctx, contract.OpWishesList, q, nil, &ws); err != nil {
			return err
		}
		if a.cfg.json {
			return a.printJSON(nonNil(ws))
		}
		if len(ws) == 0 {
			_, err := fmt.Fprintln(a.out, "no wishes")
			return err
		}
		t := newTable("ID", "WISH", "WHERE", "CLAIMED BY", "POSTED")
		for _, w := range ws {
			claimed := w.ClaimedBy
			if claimed != "" {
				claimed += " " + a.clock.rel(w.ClaimedAt)
			}
			if w.Done {
				claimed = "done: " + w.ClaimedBy
			}
			t.add(w.ID, w.Text, w.Location.String(), claimed, a.stamp(w.Time))
		}
		return t.write(a.out)
	}
}

// stamp renders a device's time, which is not shown as a date unless the
// device's clock was set.
func (a *app) stamp(s contract.Stamp) string {
	if !s.Synced {
		return "unsynced clock"
	}
	return a.clock.at(s.At)
}

func setupClaim(fs *flag.FlagSet) runFunc {
	by := fs.String("by", "", "the volunteer's `name`")
	return func(ctx context.Context, a *app, args []string) error {
		if err := needArgs(args, "WISH-ID"); err != nil {
			return err
		}
		if strings.TrimSpace(*by) == "" {
			return usagef("--by is required")
		}
		var w contract.Wish
		if err := a.call(ctx, contract.OpWishClaim, map[string]string{"id": args[0], "by": *by}, nil, &w); err != nil {
			return err
		}
		if a.cfg.json {
			return a.printJSON(w)
		}
		_, err := fmt.Fprintf(a.out, "%s claimed by %s: %s\n", w.ID, clean(w.ClaimedBy), clean(w.Text))
		return err
	}
}

func setupNotice(fs *flag.FlagSet) runFunc {
	community := fs.String("community", "", "the `community` whose kiosks show the notice")
	title := fs.String("title", "", "the notice's `title`")
	body := fs.String("body", "", "the notice's `text`")
	level := fs.String("level", "info", "info, warning or typhoon (warning and typhoon are shown prominently)")
	expires := fs.Duration("expires", 0, "remove the notice after this `duration` (e.g. 24h; 0 = never)")
	return func(ctx context.Context, a *app, args []string) error {
		if err := needArgs(args); err != nil {
			return err
		}
		switch {
		case *community == "":
			return usagef("--community is required")
		case strings.TrimSpace(*title) == "":
			return usagef("--title is required")
		case strings.TrimSpace(*body) == "":
			return usagef("--body is required")
		case *expires < 0:
			return usagef("--expires must not be negative")
		}
		switch *level {
		case "info", "warning", "typhoon":
		default:
			return usagef("--level %q: want info, warning or typhoon", *level)
		}
		now := a.clock.now()
		n := contract.Notice{Title: *title, Body: *body, Level: *level, Published: now}
		if *expires > 0 {
			n.Expires = now.Add(*expires)
		}
		var ns contract.Notices
		if err := a.call(ctx, contract.OpNotice, map[string]string{"community": *community}, n, &ns); err != nil {
			return err
		}
		if a.cfg.json {
			return a.printJSON(ns)
		}
		line := fmt.Sprintf("published %q to %s (%d notices)", *title, *community, len(ns.Notices))
		if !n.Expires.IsZero() {
			line += ", expires " + a.clock.at(n.Expires)
		}
		_, err := fmt.Fprintln(a.out, clean(line))
		return err
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// nonNil makes JSON print [] rather than null for an empty list.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// jsonLine marshals v as one line of JSON.
func jsonLine(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
