package hub

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"linli/grid/config"
	"linli/grid/replica"
	"linli/mqtt/contract"
)

// Alert levels (Alert.Level).
const (
	LevelGrid        = "grid"
	LevelCommunity   = "community"
	LevelSubdistrict = "subdistrict"
)

// UnassignedGrid is the grid topic of alerts of devices whose building is in
// no grid.
const UnassignedGrid = "unassigned"

// alertsForEvent raises or clears the alerts ev calls for, inside tx. The
// returned functions update memory and log, to be run after the commit.
// cs is ev's channel; late means a later event of it was applied before.
// h.mu must be held.
func (h *Hub) alertsForEvent(tx *bolt.Tx, ev *contract.Event, r *devRecord, cs *chanState, late bool, now time.Time) ([]func(), error) {
	loc := r.Location
	if loc.Community == "" && loc.Building == "" {
		loc = h.cfg.Locate(ev.Location)
	}
	if late {
		return h.lateAlert(tx, ev, loc, cs, ev.Session < r.EventBoot, now)
	}
	return h.channelAlerts(tx, ev, loc, cs, now)
}

// channelAlerts applies ev, the newest event of its channel cs, to the
// channel's alerts.
func (h *Hub) channelAlerts(tx *bolt.Tx, ev *contract.Event, loc contract.Location, cs *chanState, now time.Time) ([]func(), error) {
	changed := map[string]*contract.Alert{}
	var effects []func()
	if isNote(ev) {
		// A sensor failing or recovering while its channel stays latched in
		// alarm: no new alert, no change of level or escalation time; the
		// active alert's description says what happened last.
		for _, a := range h.alerts {
			if a.Device != ev.Device || a.Channel != ev.Channel {
				continue
			}
			c := *a
			c.Description = withNote(a.Description, ev.Cause)
			if c.Description == a.Description {
				continue
			}
			changed[c.ID] = &c
			effects = append(effects, func() {
				h.alerts[c.ID] = &c
				h.log.Info("alert note", "alert", c.ID, "device", c.Device, "channel", c.Channel, "cause", ev.Cause, "event", ev.ID)
			})
		}
		if len(changed) == 0 {
			h.log.Info("event noted; no active alert", "device", ev.Device, "channel", ev.Channel, "cause", ev.Cause, "event", ev.ID)
			return nil, nil
		}
		return effects, h.saveAlerts(tx, changed, now)
	}
	// Leaving a state ends its alert: a latched alarm is left only by a
	// reset on the device (whatever state the reset lands in, e.g. fault
	// when the sensor is broken too), a fault when the sensor answers
	// again. A reset back to normal ends every alert of the channel.
	resetAll := isReset(ev)
	if leaves(ev) {
		for _, a := range h.alerts {
			if a.Device != ev.Device || a.Channel != ev.Channel {
				continue
			}
			if a.State != ev.From && !resetAll {
				continue
			}
			c := *a
			c.Cleared, c.ClearedAt, c.EscalateAt = true, now, time.Time{}
			changed[c.ID] = &c
			effects = append(effects, func() {
				delete(h.alerts, c.ID)
				h.c.cleared.Add(1)
				h.log.Info("alert cleared", "alert", c.ID, "grid", gridOf(&c), "device", c.Device, "channel", c.Channel,
					"cause", ev.Cause, "acked_by", c.AckedBy)
			})
		}
	}
	if raises(ev) {
		for _, a := range h.alerts {
			if a.Device == ev.Device && a.Channel == ev.Channel && a.State == ev.To && changed[a.ID] == nil {
				h.log.Info("alert already active", "alert", a.ID, "device", ev.Device, "channel", ev.Channel, "event", ev.ID)
				if len(changed) == 0 {
					return nil, nil
				}
				return effects, h.saveAlerts(tx, changed, now)
			}
		}
		a, err := h.newAlert(tx, ev, loc, now)
		if err != nil {
			return nil, err
		}
		changed[a.ID] = a
		cs.AlertSeq = ev.Seq
		effects = append(effects, func() {
			h.alerts[a.ID] = a
			h.c.raised.Add(1)
			h.log.Info("alert raised", "alert", a.ID, "grid", gridOf(a), "device", a.Device, "channel", a.Channel,
				"state", a.State, "value", a.Value, "unit", a.Unit, "where", a.Location.String(),
				"level", a.Level, "assigned", strings.Join(a.Assigned, ","), "escalate_at", a.EscalateAt)
		})
	}
	if len(changed) == 0 {
		return nil, nil
	}
	return effects, h.saveAlerts(tx, changed, now)
}

// isNote reports whether ev leaves its channel latched in alarm (From ==
// To == alarm) and only tells of something that happened to it: sensord
// logs "sensor-fault:<why>" and "sensor-recovered" this way, since a fault
// never masks a latched alarm. Such an event never raises, escalates or
// clears an alert.
// lateAlert handles an event that arrived after a later one of its
// channel cs (a copy in flight to a killed hub, delivered again to its
// successor after the ones that followed, or one released from the
// reorder hold before it): the channel's state is that of its newest
// event, so a late event sets nothing back.
//
// A late alarm or fault still gets its alert, for the record: raised and
// cleared at once, routed as usual but never escalated, its description
// saying why. A late event that leaves a state (a reset) after the event
// that raised the channel's active alert ended that alert: it is cleared,
// and if the channel's newest event latched it again (an alarm folded into
// the old alert), that event raises its own alert, as it would have in
// order. An event of the device's earlier numbering (prev: its store was
// replaced since) is only recorded, as a late alarm is: it ends nothing.
// h.mu must be held.
func (h *Hub) lateAlert(tx *bolt.Tx, ev *contract.Event, loc contract.Location, cs *chanState, prev bool, now time.Time) ([]func(), error) {
	var newer uint64
	note := "arrived after the device numbered its events anew"
	if !prev {
		newer = cs.Newest.Seq
		note = fmt.Sprintf("arrived after event %d of the channel", newer)
	}
	if !prev && leaves(ev) && !raises(ev) && cs.AlertSeq != 0 && cs.AlertSeq < ev.Seq {
		ended, err := h.channelAlerts(tx, ev, loc, cs, now)
		if err != nil || len(ended) == 0 {
			return ended, err
		}
		// Memory now, so that the newest event finds the alerts ended (on a
		// failed commit the hub reloads memory from disk).
		for _, f := range ended {
			f()
		}
		nw := cs.Newest
		if !raises(nw) {
			return nil, nil
		}
		h.log.Info("late event ended an alert; the channel's newest event raises its own", "device", ev.Device,
			"channel", ev.Channel, "event", ev.ID, "newest", nw.ID)
		return h.channelAlerts(tx, nw, loc, cs, now)
	}
	if !raises(ev) {
		h.log.Info("late event recorded; the channel has moved on", "device", ev.Device, "channel", ev.Channel,
			"event", ev.ID, "seq", ev.Seq, "newer_seq", newer)
		return nil, nil
	}
	a, err := h.newAlert(tx, ev, loc, now)
	if err != nil {
		return nil, err
	}
	a.Description = withNote(a.Description, note)
	a.Cleared, a.ClearedAt, a.EscalateAt = true, now, time.Time{}
	effects := []func(){func() {
		h.c.raised.Add(1)
		h.c.cleared.Add(1)
		h.log.Warn("late alert recorded as cleared: the channel has moved on", "alert", a.ID, "grid", gridOf(a),
			"device", a.Device, "channel", a.Channel, "state", a.State, "event", ev.ID, "seq", ev.Seq, "newer_seq", newer)
	}}
	return effects, h.saveAlerts(tx, map[string]*contract.Alert{a.ID: a}, now)
}

// newAlert returns the alert ev raises, numbered and routed to its grid.
func (h *Hub) newAlert(tx *bolt.Tx, ev *contract.Event, loc contract.Location, now time.Time) (*contract.Alert, error) {
	n, err := replica.NextSequence(tx, bAlerts)
	if err != nil {
		return nil, err
	}
	id := fmt.Sprintf("A%08d", n)
	if h.cfg.SharedBroker {
		id = h.cfg.Hub.ID + "-" + id // distinct across the shards a worker may see
	}
	a := &contract.Alert{
		ID: id, Device: ev.Device, Channel: ev.Channel, Kind: ev.Kind,
		State: ev.To, Value: ev.Value, Unit: ev.Unit, Location: loc, Raised: now,
		EventTime: ev.Time, EventID: ev.ID, Description: describe(ev, loc),
	}
	h.route(a, LevelGrid, now)
	return a, nil
}

// raises reports whether ev latches its channel into a state that has an
// alert (alarm, fault); a note does not.
func raises(ev *contract.Event) bool {
	return !isNote(ev) && (ev.To == contract.StateAlarm || ev.To == contract.StateFault)
}

// isReset reports whether ev is a reset back to normal, which ends every
// alert of its channel.
func isReset(ev *contract.Event) bool { return ev.To == contract.StateNormal && ev.Cause == "reset" }

// leaves reports whether ev ends an alert of its channel: it leaves a
// state, or resets it.
func leaves(ev *contract.Event) bool { return !isNote(ev) && (ev.From != ev.To || isReset(ev)) }

func isNote(ev *contract.Event) bool {
	return ev.From == contract.StateAlarm && ev.To == contract.StateAlarm
}

// noteSep separates an alert's description from its latest note.
const noteSep = "; latest: "

// withNote returns description with its note replaced by note.
func withNote(description, note string) string {
	if i := strings.Index(description, noteSep); i >= 0 {
		description = description[:i]
	}
	if note == "" {
		return description
	}
	return description + noteSep + note
}

func describe(ev *contract.Event, loc contract.Location) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", ev.Kind, ev.To)
	if ev.To == contract.StateAlarm || ev.Value != 0 {
		fmt.Fprintf(&b, " %g%s", ev.Value, ev.Unit)
	}
	if ev.SetPoint != 0 {
		fmt.Fprintf(&b, " (set-point %g%s)", ev.SetPoint, ev.Unit)
	}
	if ev.Cause != "" {
		fmt.Fprintf(&b, ", %s", ev.Cause)
	}
	fmt.Fprintf(&b, " on %s/%s", ev.Device, ev.Channel)
	if s := loc.String(); s != "" {
		fmt.Fprintf(&b, " at %s", s)
	}
	return b.String()
}

func gridOf(a *contract.Alert) string {
	if a.Location.Grid == "" {
		return UnassignedGrid
	}
	return a.Location.Grid
}

// route assigns a to the workers of level, or of the next level up when
// nobody is there. h.mu must be held.
func (h *Hub) route(a *contract.Alert, level string, now time.Time) {
	esc := h.cfg.Escalation
	pick := func(match func(w config.Worker) bool) []string {
		var on, all []string
		for _, w := range h.cfg.Workers {
			if match(w) {
				all = append(all, w.ID)
				if w.OnDuty {
					on = append(on, w.ID)
				}
			}
		}
		if len(on) > 0 {
			return on
		}
		return all
	}
	if level == LevelGrid {
		var ws []string
		for _, w := range h.cfg.Workers {
			if w.Role == config.RoleGridWorker && w.OnDuty && w.Grid == a.Location.Grid && a.Location.Grid != "" {
				ws = append(ws, w.ID)
			}
		}
		if len(ws) > 0 {
			a.Level, a.Assigned, a.EscalateAt = LevelGrid, ws, now.Add(time.Duration(esc.Grid))
			return
		}
		level = LevelCommunity
	}
	if level == LevelCommunity {
		ws := pick(func(w config.Worker) bool {
			return w.Role == config.RoleCommunity && w.Community == a.Location.Community && a.Location.Community != ""
		})
		if len(ws) > 0 {
			a.Level, a.Assigned, a.EscalateAt = LevelCommunity, ws, now.Add(time.Duration(esc.Community))
			return
		}
	}
	a.Level = LevelSubdistrict
	a.Assigned = pick(func(w config.Worker) bool { return w.Role == config.RoleSubdistrict })
	a.EscalateAt = time.Time{}
}

// saveAlerts stores the changed alerts and queues their publication and
// that of their buildings' AreaAlerts, inside tx. h.mu must be held.
func (h *Hub) saveAlerts(tx *bolt.Tx, changed map[string]*contract.Alert, now time.Time) error {
	areas := map[[2]string]bool{}
	ids := make([]string, 0, len(changed))
	for id := range changed {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		a := changed[id]
		if err := putJSON(tx, bAlerts, a.ID, a); err != nil {
			return err
		}
		c := *a
		if err := h.queue(tx, contract.GridAlertTopic(gridOf(a)), &c, false); err != nil {
			return err
		}
		if a.Location.Community != "" && a.Location.Building != "" {
			areas[[2]string{a.Location.Community, a.Location.Building}] = true
		}
	}
	for area := range areas {
		if err := h.queue(tx, contract.AreaAlertsTopic(area[0], area[1]), h.areaAlerts(area, changed, now), true); err != nil {
			return err
		}
	}
	return nil
}

// areaAlerts returns the active alerts of a building, with changed applied
// over the current ones. h.mu must be held.
func (h *Hub) areaAlerts(area [2]string, changed map[string]*contract.Alert, now time.Time) *contract.AreaAlerts {
	in := func(a *contract.Alert) bool {
		return a.Location.Community == area[0] && a.Location.Building == area[1] && !a.Cleared
	}
	m := &contract.AreaAlerts{Community: area[0], Building: area[1], Alerts: []contract.Alert{}, Updated: now}
	for id, a := range h.alerts {
		if _, ok := changed[id]; !ok && in(a) {
			m.Alerts = append(m.Alerts, *a)
		}
	}
	for _, a := range changed {
		if in(a) {
			m.Alerts = append(m.Alerts, *a)
		}
	}
	fitAreaAlerts(m)
	sort.Slice(m.Alerts, func(i, j int) bool { return m.Alerts[i].ID < m.Alerts[j].ID })
	return m
}

// fitAreaAlerts leaves out of m the alerts that would take it over
// contract.MaxPayload, counting them in Omitted: alarms before faults, the
// newest first. Too large a retained message could not be queued, and the
// event that changed it would be refused again and again.
func fitAreaAlerts(m *contract.AreaAlerts) {
	const slack = 1024 // the message's own fields
	size := 0
	for i := range m.Alerts {
		b, _ := json.Marshal(&m.Alerts[i])
		size += len(b) + 1
	}
	if size+slack <= contract.MaxPayload {
		return
	}
	sort.Slice(m.Alerts, func(i, j int) bool {
		a, b := &m.Alerts[i], &m.Alerts[j]
		if (a.State == contract.StateAlarm) != (b.State == contract.StateAlarm) {
			return a.State == contract.StateAlarm
		}
		return a.Raised.After(b.Raised)
	})
	size = 0
	for i := range m.Alerts {
		b, _ := json.Marshal(&m.Alerts[i])
		if size+len(b)+1+slack > contract.MaxPayload {
			m.Omitted = len(m.Alerts) - i
			m.Alerts = m.Alerts[:i]
			return
		}
		size += len(b) + 1
	}
}

// publishAllAreas queues the AreaAlerts of every building, so that a
// retained list left from before a restart is replaced.
func (h *Hub) publishAllAreas() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	areas := map[[2]string]bool{}
	for _, b := range h.cfg.Buildings() {
		areas[b] = true
	}
	for _, a := range h.alerts {
		if a.Location.Community != "" && a.Location.Building != "" {
			areas[[2]string{a.Location.Community, a.Location.Building}] = true
		}
	}
	now := h.now()
	return replica.Update(h.db, func(tx *bolt.Tx) error {
		for area := range areas {
			if err := h.queue(tx, contract.AreaAlertsTopic(area[0], area[1]), h.areaAlerts(area, nil, now), true); err != nil {
				return err
			}
		}
		return nil
	})
}

// escalateDue moves every unacknowledged alert whose time is up one level
// up. h.mu must be held.
func (h *Hub) escalateDue() {
	now := h.now()
	changed := map[string]*contract.Alert{}
	for id, a := range h.alerts {
		if a.AckedBy != "" || a.EscalateAt.IsZero() || now.Before(a.EscalateAt) {
			continue
		}
		c := *a
		next := LevelSubdistrict
		if a.Level == LevelGrid {
			next = LevelCommunity
		}
		h.route(&c, next, now)
		changed[id] = &c
	}
	if len(changed) == 0 {
		return
	}
	err := replica.Update(h.db, func(tx *bolt.Tx) error { return h.saveAlerts(tx, changed, now) })
	if err != nil {
		h.c.storeErrors.Add(1)
		h.log.Error("escalation not stored; will retry", "error", err)
		return
	}
	for id, c := range changed {
		from := h.alerts[id].Level
		h.alerts[id] = c
		h.c.escalations.Add(1)
		h.log.Warn("alert escalated: nobody acknowledged", "alert", id, "grid", gridOf(c), "device", c.Device,
			"from", from, "to", c.Level, "assigned", strings.Join(c.Assigned, ","), "escalate_at", c.EscalateAt)
	}
}

// sees reports whether w is responsible for loc.
func sees(w config.Worker, loc contract.Location) bool {
	switch w.Role {
	case config.RoleGridWorker:
		return loc.Grid != "" && loc.Grid == w.Grid
	case config.RoleCommunity:
		return loc.Community != "" && loc.Community == w.Community
	case config.RoleSubdistrict, config.RoleMaintenance:
		return true
	}
	return false
}

// ack acknowledges alert id for w.
func (h *Hub) ack(w config.Worker, id string) (contract.Alert, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	a := h.alerts[id]
	if a == nil {
		var stored *contract.Alert
		if err := h.db.View(func(tx *bolt.Tx) error {
			if v := tx.Bucket(bAlerts).Get([]byte(id)); v != nil {
				stored = new(contract.Alert)
				return json.Unmarshal(v, stored)
			}
			return nil
		}); err != nil {
			return contract.Alert{}, fmt.Errorf("hub: ack: %w", err)
		}
		if stored == nil || !sees(w, stored.Location) {
			return contract.Alert{}, fmt.Errorf("%w: alert %q", ErrNotFound, id)
		}
		return *stored, nil // cleared already
	}
	if !sees(w, a.Location) && !slices.Contains(a.Assigned, w.ID) {
		return contract.Alert{}, fmt.Errorf("%w: alert %s of grid %s is not %s's", ErrForbidden, id, gridOf(a), w.ID)
	}
	if a.AckedBy != "" {
		return *a, nil
	}
	now := h.now()
	c := *a
	c.AckedBy, c.AckedAt, c.EscalateAt = w.ID, now, time.Time{}
	c.AckedRole, c.AckedName = w.Role, w.Name // public: kiosks say who is coming
	changed := map[string]*contract.Alert{id: &c}
	if err := replica.Update(h.db, func(tx *bolt.Tx) error { return h.saveAlerts(tx, changed, now) }); err != nil {
		h.c.storeErrors.Add(1)
		return contract.Alert{}, fmt.Errorf("hub: ack: %w", err)
	}
	h.alerts[id] = &c
	h.c.acks.Add(1)
	h.log.Info("alert acknowledged", "alert", id, "grid", gridOf(&c), "device", c.Device, "by", w.ID,
		"level", c.Level, "after", now.Sub(c.Raised).Round(time.Second))
	return c, nil
}
