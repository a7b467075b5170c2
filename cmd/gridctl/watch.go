package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"linli/mqtt/contract"
)

func init() {
	register(&command{name: "watch", args: "[--grid G]",
		summary: "watch alerts live: the active ones, then every change, with the escalation countdown",
		setup:   setupWatch})
}

func setupWatch(fs *flag.FlagSet) runFunc {
	grid := fs.String("grid", "", "only alerts of this `grid`")
	return func(ctx context.Context, a *app, args []string) error {
		if err := needArgs(args); err != nil {
			return err
		}
		if *grid != "" && !contract.ValidID(*grid) {
			return usagef("--grid %q is not a grid id", *grid)
		}
		c, err := a.hub(ctx)
		if err != nil {
			return err
		}
		// Subscribe before listing, so that no change between the two is
		// lost; a change already in the list is shown again, harmlessly.
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		ch, err := c.Alerts(wctx, *grid)
		if err != nil {
			return err
		}
		var list []contract.Alert
		if err := a.call(ctx, contract.OpAlertsList, nil, nil, &list); err != nil {
			return err
		}
		w := &watcher{app: a, grid: *grid, active: map[string]contract.Alert{}}
		sortAlerts(list)
		for _, al := range list {
			if w.matches(al) && !al.Cleared {
				w.active[al.ID] = al
				w.order = append(w.order, al.ID)
			}
		}
		if a.sys.terminal && !a.cfg.json {
			err = w.live(ctx, ch)
		} else {
			err = w.lines(ctx, list, ch)
		}
		if ctx.Err() != nil {
			return nil // interrupted: the normal way to stop watching
		}
		return err
	}
}

// watcher keeps the active alerts seen by watch.
type watcher struct {
	*app
	grid   string
	active map[string]contract.Alert
	order  []string // ids of active, first seen first
	recent []string // the last changes, for the live view
}

func (w *watcher) matches(al contract.Alert) bool {
	return w.grid == "" || al.Location.Grid == w.grid
}

// apply records al and names the change from what was known of it:
// raised, escalated, acked, cleared or updated.
func (w *watcher) apply(al contract.Alert) string {
	prev, known := w.active[al.ID]
	change := "updated"
	switch {
	case al.Cleared:
		change = "cleared"
	case !known:
		change = "raised"
	case al.AckedBy != "" && prev.AckedBy == "":
		change = "acked"
	case al.Level != prev.Level:
		change = "escalated"
	}
	if al.Cleared {
		if known {
			delete(w.active, al.ID)
			for i, id := range w.order {
				if id == al.ID {
					w.order = append(w.order[:i:i], w.order[i+1:]...)
					break
				}
			}
		}
		return change
	}
	if !known {
		w.order = append(w.order, al.ID)
	}
	w.active[al.ID] = al
	return change
}

// line renders one alert change on one line.
func (w *watcher) line(change string, al contract.Alert) string {
	parts := []string{
		w.clock.now().In(w.clock.loc).Format("15:04:05"),
		fmt.Sprintf("%-9s", change),
		al.ID, string(al.State), al.Device + "/" + al.Channel, value(al.Value, al.Unit),
		orDash(al.Location.String()),
		orDash(al.Level) + ": " + orDash(strings.Join(al.Assigned, ",")),
		w.alertStatus(al),
	}
	return clean(strings.Join(parts, "  "))
}

// lines prints the active alerts, then one line per change, until ch
// closes. With --json each line is {"change": …, "alert": {…}}.
func (w *watcher) lines(ctx context.Context, list []contract.Alert, ch <-chan contract.Alert) error {
	if !w.cfg.json {
		scope := "every grid"
		if w.grid != "" {
			scope = "grid " + w.grid
		}
		fmt.Fprintf(w.out, "watching alerts of %s: %d active\n", scope, len(w.order))
	}
	for _, id := range w.order {
		if err := w.emit("active", w.active[id]); err != nil {
			return err
		}
	}
	for al := range ch {
		if !w.matches(al) {
			continue
		}
		if err := w.emit(w.apply(al), al); err != nil {
			return err
		}
	}
	return ctx.Err()
}

func (w *watcher) emit(change string, al contract.Alert) error {
	if w.cfg.json {
		// Alerts from the list come without the message header; give
		// every line the same shape.
		al.V, al.Type = contract.Version, contract.TypeAlert
		return w.printJSONLine(struct {
			Change string         `json:"change"`
			Alert  contract.Alert `json:"alert"`
		}{change, al})
	}
	_, err := fmt.Fprintln(w.out, w.line(change, al))
	return err
}

func (w *watcher) printJSONLine(v any) error {
	b, err := jsonLine(v)
	if err != nil {
		return err
	}
	_, err = w.out.Write(b)
	return err
}

// live redraws a compact table of the active alerts every second and on
// every change, with the last changes below it, until ch closes.
func (w *watcher) live(ctx context.Context, ch <-chan contract.Alert) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	w.redraw()
	for {
		select {
		case al, ok := <-ch:
			if !ok {
				return ctx.Err()
			}
			if !w.matches(al) {
				continue
			}
			change := w.apply(al)
			w.recent = append(w.recent, w.line(change, al))
			if len(w.recent) > 5 {
				w.recent = w.recent[len(w.recent)-5:]
			}
		case <-tick.C:
		}
		w.redraw()
	}
}

func (w *watcher) redraw() {
	var b strings.Builder
	b.WriteString("\x1b[H\x1b[2J") // home, clear screen
	scope := "every grid"
	if w.grid != "" {
		scope = "grid " + w.grid
	}
	fmt.Fprintf(&b, "Linli alerts — %s — %d active — %s   (Ctrl-C to quit)\n\n",
		scope, len(w.order), w.clock.now().In(w.clock.loc).Format("15:04:05"))
	if len(w.order) == 0 {
		b.WriteString("no active alerts\n")
	} else {
		as := make([]contract.Alert, 0, len(w.order))
		for _, id := range w.order {
			as = append(as, w.active[id])
		}
		sortAlerts(as)
		_ = w.alertTable(as).write(&b)
	}
	if len(w.recent) > 0 {
		b.WriteString("\nlast changes:\n")
		for _, l := range w.recent {
			b.WriteString("  " + l + "\n")
		}
	}
	_, _ = fmt.Fprint(w.out, b.String())
}
