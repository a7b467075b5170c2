package dashboard

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"linli/grid/tickets"
	"linli/mqtt/contract"
)

// data is what the charts show, read from the sources for one scope.
type data struct {
	from, now time.Time
	days      []dayCount
	grids     []gridCount
	unacked   int // alarms of the period nobody acknowledged
	ack       []time.Duration
	handle    []time.Duration
	total     []time.Duration

	hasTickets bool
	statuses   []count
	categories []count
	ticketsN   int
	openN      int
	weeks      []weekRatings

	hasDevices bool
	kinds      []kindCount
	offline    []string

	hasAlerts bool
}

type dayCount struct {
	day           time.Time
	alarm, faults int
}

type gridCount struct {
	id, community, name string // names as configured (bilingual)
	alarm, faults       int
}

type count struct {
	id string
	n  int
}

type weekRatings struct {
	start                   time.Time
	satisfied, basic, unsat int
}

type kindCount struct {
	kind          string
	online, total int
}

// collect reads the sources for scope.
func (d *Dashboard) collect(scope Scope) (*data, error) {
	o := &d.o
	now := o.Now().In(o.Zone)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, o.Zone)
	from := today.AddDate(0, 0, -(o.Days - 1))
	x := &data{from: from, now: now}
	in := func(loc contract.Location) bool { return scope.Community == "" || loc.Community == scope.Community }

	if o.Alerts != nil {
		x.hasAlerts = true
		alerts, err := o.Alerts.Alerts(true)
		if err != nil {
			return nil, fmt.Errorf("dashboard: alerts: %w", err)
		}
		for i := range o.Days {
			x.days = append(x.days, dayCount{day: from.AddDate(0, 0, i)})
		}
		for _, c := range o.Config.Communities {
			if scope.Community != "" && c.ID != scope.Community {
				continue
			}
			for _, g := range c.Grids {
				gc := &gridCount{id: g.ID, name: g.Name}
				if scope.Community == "" && len(o.Config.Communities) > 1 {
					gc.community = c.Name
				}
				x.grids = append(x.grids, *gc)
			}
		}
		byGrid := map[string]*gridCount{}
		for i := range x.grids {
			byGrid[x.grids[i].id] = &x.grids[i]
		}
		var unassigned gridCount
		for _, a := range alerts {
			if !in(a.Location) || a.Raised.Before(from) || a.Raised.After(now) {
				continue
			}
			r := a.Raised.In(o.Zone)
			day := int(time.Date(r.Year(), r.Month(), r.Day(), 0, 0, 0, 0, o.Zone).Sub(from).Hours()/24 + 0.5)
			g := byGrid[a.Location.Grid]
			if g == nil {
				g = &unassigned
			}
			if a.State == contract.StateFault {
				if day >= 0 && day < len(x.days) {
					x.days[day].faults++
				}
				g.faults++
				continue
			}
			if day >= 0 && day < len(x.days) {
				x.days[day].alarm++
			}
			g.alarm++
			if a.AckedAt.IsZero() {
				if !a.Cleared {
					x.unacked++
				}
			} else {
				x.ack = append(x.ack, a.AckedAt.Sub(a.Raised))
				if a.Cleared {
					x.handle = append(x.handle, a.ClearedAt.Sub(a.AckedAt))
				}
			}
			if a.Cleared {
				x.total = append(x.total, a.ClearedAt.Sub(a.Raised))
			}
		}
		if unassigned.alarm+unassigned.faults > 0 {
			unassigned.id = "unassigned"
			x.grids = append(x.grids, unassigned)
		}
	}

	if o.Tickets != nil {
		x.hasTickets = true
		ts, err := o.Tickets.List(tickets.Filter{Community: scope.Community})
		if err != nil {
			return nil, fmt.Errorf("dashboard: tickets: %w", err)
		}
		byStatus := map[tickets.State]int{}
		byCat := map[string]int{}
		nWeeks := (o.Days + 6) / 7
		for i := range nWeeks {
			x.weeks = append(x.weeks, weekRatings{start: from.AddDate(0, 0, 7*i)})
		}
		for _, t := range ts {
			x.ticketsN++
			byStatus[t.Status]++
			if !t.Status.Final() {
				x.openN++
			}
			if !t.Filed().Before(from) {
				byCat[t.Report.Category]++
			}
			for _, r := range t.Ratings {
				if r.At.Before(from) || r.At.After(now) {
					continue
				}
				w := &x.weeks[min(int(r.At.Sub(from).Hours()/24)/7, nWeeks-1)]
				switch r.Rating {
				case contract.RatingSatisfied:
					w.satisfied++
				case contract.RatingBasically:
					w.basic++
				default:
					w.unsat++
				}
			}
		}
		for _, s := range statusOrder {
			if byStatus[s] > 0 || mainFlow[s] {
				x.statuses = append(x.statuses, count{id: string(s), n: byStatus[s]})
			}
			delete(byStatus, s)
		}
		var later []count // states added after this package
		for s, n := range byStatus {
			later = append(later, count{id: string(s), n: n})
		}
		slices.SortFunc(later, func(a, b count) int { return cmp.Compare(a.id, b.id) })
		x.statuses = append(x.statuses, later...)
		order := map[string]int{}
		for i, c := range o.Catalog.Categories {
			order[c.ID] = i
		}
		for id, n := range byCat {
			x.categories = append(x.categories, count{id: id, n: n})
		}
		slices.SortFunc(x.categories, func(a, b count) int {
			if a.n != b.n {
				return b.n - a.n
			}
			ia, oka := order[a.id]
			ib, okb := order[b.id]
			if oka != okb {
				if oka {
					return -1
				}
				return 1
			}
			if c := cmp.Compare(ia, ib); c != 0 {
				return c
			}
			return cmp.Compare(a.id, b.id)
		})
	}

	if o.Devices != nil {
		x.hasDevices = true
		kinds := map[string]*kindCount{}
		for _, dv := range o.Devices.Devices() {
			if !in(dv.Location) {
				continue
			}
			k := kinds[dv.Kind]
			if k == nil {
				k = &kindCount{kind: dv.Kind}
				kinds[dv.Kind] = k
			}
			k.total++
			if dv.Online {
				k.online++
			} else {
				x.offline = append(x.offline, dv.Device)
			}
		}
		for _, k := range kinds {
			x.kinds = append(x.kinds, *k)
		}
		slices.SortFunc(x.kinds, func(a, b kindCount) int { return cmp.Compare(a.kind, b.kind) })
		slices.Sort(x.offline)
	}
	return x, nil
}

// statusOrder is the order of the ticket states on the chart: the main
// flow, then the side states.
var statusOrder = []tickets.State{
	tickets.Submitted, tickets.Accepted, tickets.InProgress, tickets.Resolved, tickets.Rated, tickets.Closed,
	tickets.Returned, tickets.Escalated, tickets.Reopened, tickets.Duplicate,
}

// mainFlow are the states always shown, at zero too.
var mainFlow = map[tickets.State]bool{
	tickets.Submitted: true, tickets.Accepted: true, tickets.InProgress: true, tickets.Resolved: true, tickets.Closed: true,
}
