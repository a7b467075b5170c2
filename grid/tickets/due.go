package tickets

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"linli/grid/replica"
)

// Kind of a due Action.
type Kind string

// Kinds.
const (
	KindWarn     Kind = "warn"     // a time limit is near
	KindEscalate Kind = "escalate" // a time limit passed; the ticket was escalated
)

// Phases of a time limit.
const (
	PhaseAccept  = "accept"
	PhaseResolve = "resolve"
)

// Action is something Due found: a warning, or an escalation it performed.
type Action struct {
	Kind     Kind
	Phase    string // PhaseAccept or PhaseResolve
	Number   string
	Grid     string
	Deadline time.Time
	Ticket   Ticket // the ticket after the action
}

func (s *Store) warnBefore(limit time.Duration) time.Duration {
	if s.opts.WarnBefore > 0 {
		return s.opts.WarnBefore
	}
	return limit / 4
}

// Due looks at every open ticket at time now, returns the warnings and
// escalations that fell due since the last call, and records them so that
// each is emitted once. Escalations are applied (state escalated, Level
// raised, a timeline step by "system") and, with Options.PublishTx set,
// their new status is queued in the same transaction. When a limit has
// already passed, only the escalation is emitted, not a late warning. Call
// it from a ticker; its cost is a scan of the tickets.
func (s *Store) Due(now time.Time) ([]Action, error) {
	var acts []Action
	err := replica.Update(s.db, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTickets)
		var changed []*Ticket
		escalated := map[*Ticket]bool{}
		err := b.ForEach(func(k, v []byte) error {
			var t Ticket
			if err := json.Unmarshal(v, &t); err != nil {
				return fmt.Errorf("tickets: read %s: %w", k, err)
			}
			if t.Status.Final() {
				return nil
			}
			l := s.limit(t.Report.Urgency)
			dirty := false
			check := func(phase string, deadline time.Time, limit time.Duration, warned, escalated *bool) error {
				if *escalated {
					return nil
				}
				if !now.Before(deadline) {
					*warned, *escalated = true, true
					dirty = true
					note := fmt.Sprintf("%s time limit passed (%s)", phase, limit)
					if err := s.step(&t, VerbEscalate, "system", note, now, func(t *Ticket, _ time.Time) error {
						t.Level++
						return nil
					}); err != nil {
						return err
					}
					s.log.Warn("ticket escalated", "number", t.Number, "phase", phase, "level", t.Level)
					acts = append(acts, Action{Kind: KindEscalate, Phase: phase, Number: t.Number, Grid: t.Grid, Deadline: deadline})
					return nil
				}
				if !*warned && !now.Before(deadline.Add(-s.warnBefore(limit))) {
					*warned = true
					dirty = true
					acts = append(acts, Action{Kind: KindWarn, Phase: phase, Number: t.Number, Grid: t.Grid, Deadline: deadline})
				}
				return nil
			}
			first := len(acts)
			if t.AcceptedAt.IsZero() {
				if err := check(PhaseAccept, t.AcceptBy, l.Accept, &t.Flags.WarnedAccept, &t.Flags.EscalatedAccept); err != nil {
					return err
				}
			}
			if err := check(PhaseResolve, t.ResolveBy, l.Resolve, &t.Flags.WarnedResolve, &t.Flags.EscalatedResolve); err != nil {
				return err
			}
			for i := first; i < len(acts); i++ {
				acts[i].Ticket = t
			}
			if dirty {
				changed = append(changed, &t)
				for _, a := range acts[first:] {
					if a.Kind == KindEscalate {
						escalated[&t] = true
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, t := range changed {
			if err := putTicket(tx, t); err != nil {
				return err
			}
			if escalated[t] {
				if err := s.announce(tx, StatusPublication(*t)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return acts, nil
}
