package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"linli/devices/store"
	"linli/mqtt/contract"
)

// openReadOnly opens the store of --data for reading.
func openReadOnly(c *cliConfig) (*store.DB, error) {
	path := filepath.Join(c.data, dbFile)
	db, err := store.Open(path, &store.Options{ReadOnly: true, Timeout: 3 * time.Second})
	if errors.Is(err, store.ErrLocked) {
		return nil, fmt.Errorf("%s is in use by a running sensord; stop it to read the log: %w", path, err)
	}
	return db, err
}

func stamp(s contract.Stamp) string {
	if s.Synced && !s.At.IsZero() {
		return s.At.Local().Format("2006-01-02 15:04:05")
	}
	return "+" + s.Uptime.Truncate(time.Second).String() + " (unsynced)"
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func valueOf(ev *contract.Event) string {
	switch {
	case ev.Kind == "smoke":
		if ev.To == contract.StateFault {
			return "-"
		}
		if ev.Value >= 1 {
			return "smoke"
		}
		return "clear"
	case ev.Kind == "device" || ev.To == contract.StateFault || (ev.From == ev.To && ev.Value == 0):
		return "-"
	}
	return strconv.FormatFloat(ev.Value, 'f', 1, 64) + " " + ev.Unit
}

func setPointOf(ev *contract.Event) string {
	if ev.SetPoint == 0 || ev.Kind == "smoke" {
		return "-"
	}
	if ev.Cause == "rate-of-rise" {
		return num(ev.SetPoint) + " K/min"
	}
	return num(ev.SetPoint) + " " + ev.Unit
}

// formatEvent is the one line sensord run prints per event.
func formatEvent(ev *contract.Event) string {
	s := fmt.Sprintf("%s  %s  #%d  %-11s %s → %s  %s", stamp(ev.Time), ev.Device, ev.Seq, ev.Channel, ev.From, ev.To, valueOf(ev))
	if sp := setPointOf(ev); sp != "-" {
		s += "  (set-point " + sp + ")"
	}
	s += "  " + ev.Cause
	if ev.Detail != "" {
		s += ": " + ev.Detail
	}
	return s + "  [" + ev.ID + "]"
}

// listEvents prints the event log: aligned columns for people, or one
// contract-encoded JSON event a line with --json.
func listEvents(c *cliConfig, out io.Writer) error {
	db, err := openReadOnly(c)
	if err != nil {
		return err
	}
	defer db.Close()
	evs, err := db.Events(0, 0)
	if err != nil {
		return err
	}
	if c.jsonOut {
		for i := range evs {
			b, err := contract.Encode(&evs[i])
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "%s\n", b)
		}
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tCHANNEL\tFROM\tTO\tVALUE\tSET-POINT\tCAUSE\tID\tDETAIL")
	for i := range evs {
		ev := &evs[i]
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ev.Seq, stamp(ev.Time), ev.Channel, ev.From, ev.To,
			valueOf(ev), setPointOf(ev), ev.Cause, ev.ID, ev.Detail)
	}
	return tw.Flush()
}

// showStatus prints every channel's last committed state; a channel in
// alarm is latched.
func showStatus(c *cliConfig, out io.Writer) error {
	db, err := openReadOnly(c)
	if err != nil {
		return err
	}
	defer db.Close()
	chs, err := db.Channels()
	if err != nil {
		return err
	}
	if c.jsonOut {
		enc := json.NewEncoder(out)
		for _, ch := range chs {
			if err := enc.Encode(struct {
				store.ChannelState
				Latched bool `json:"latched"`
			}{ch, ch.State == contract.StateAlarm}); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHANNEL\tKIND\tSTATE\tLATCHED\tSINCE EVENT")
	for _, ch := range chs {
		latched := ""
		if ch.State == contract.StateAlarm {
			latched = "yes (until reset)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t#%d\n", ch.Channel, ch.Kind, ch.State, latched, ch.Seq)
	}
	return tw.Flush()
}
