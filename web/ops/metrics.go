package ops

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"linli/mqtt/contract"
)

// The alert levels and states /metrics always lists, so that a series
// exists (at 0) before its first alert: alerting rules see 0, not nothing.
var (
	alertLevels = []string{"grid", "community", "subdistrict"}
	alertStates = []contract.State{contract.StateAlarm, contract.StateFault}
)

// WriteMetrics writes every metric in the text exposition format 0.0.4.
// It returns the first error of a source or of w.
func (s *Ops) WriteMetrics(w io.Writer) error {
	e := newExpWriter(w)
	e.family("process_start_time_seconds", typeGauge, "Start time of the process since the Unix epoch, in seconds.")
	e.sample("process_start_time_seconds", nil, float64(s.start.UnixMilli())/1000)
	if s.o.Hub != nil {
		if err := writeHub(e, s.o.Hub); err != nil {
			return err
		}
	}
	if s.o.Broker != nil {
		st := s.o.Broker()
		e.family("linli_broker_connects_refused_total", typeCounter, "MQTT connects refused by the embedded broker, by reason: wrong user or password, forbidden will topic, another account's client id.")
		e.sample("linli_broker_connects_refused_total", []Label{{"reason", "login"}}, float64(st.RefusedLogin))
		e.sample("linli_broker_connects_refused_total", []Label{{"reason", "will"}}, float64(st.RefusedWill))
		e.sample("linli_broker_connects_refused_total", []Label{{"reason", "client-id"}}, float64(st.RefusedClientID))
		counter(e, "linli_broker_connects_deferred_total", "MQTT connects refused because the hub was not admitting clients yet.", st.ConnectsDeferred)
		e.family("linli_broker_denied_total", typeCounter, "MQTT operations the embedded broker's ACL denied, by operation.")
		e.sample("linli_broker_denied_total", []Label{{"op", "delivery"}}, float64(st.DeliveriesDenied))
		e.sample("linli_broker_denied_total", []Label{{"op", "publish"}}, float64(st.PublishDenied))
		e.sample("linli_broker_denied_total", []Label{{"op", "subscribe"}}, float64(st.SubscribeDenied))
		counter(e, "linli_broker_deliveries_dropped_total", "Messages the embedded broker dropped for a subscriber whose queue was full: lost for its session (alert on any increase).", st.DeliveriesDropped)
		counter(e, "linli_broker_clients_stalled_total", "Connections the embedded broker closed because the client took nothing it sent for the write timeout.", st.ClientsStalled)
	}
	if s.o.HTTP != nil {
		st := s.o.HTTP()
		counter(e, "linli_http_logins_refused_total", "Web console logins refused: wrong password or throttled.", st.RefusedLogins)
		e.family("linli_http_sse_clients", typeGauge, "Open server-sent-event streams (live pages).")
		e.sample("linli_http_sse_clients", nil, float64(st.SSEClients))
		e.family("linli_http_request_duration_seconds", typeHistogram, "Web request latencies, in seconds.")
		e.histogram("linli_http_request_duration_seconds", nil, st.Latency)
	}
	if s.o.Replica != nil {
		st := s.o.Replica()
		active := 0.0
		if st.Active {
			active = 1
		}
		gauge(e, "linli_replica_active", "1 while this hub is the active one of its configuration, 0 while it stands by.", active)
		gauge(e, "linli_replica_epoch", "The active hub's lease epoch; 0 while standing by.", float64(st.Epoch))
		gauge(e, "linli_replica_journal_applied", "Journal sequence this hub's file holds: a standby's should follow the active hub's.", float64(st.Applied))
		counter(e, "linli_replica_compactions_total", "Journal compactions (snapshot stored, entries purged) made by this hub.", st.Compactions)
		counter(e, "linli_replica_restores_total", "Times this hub's file was replaced by the snapshot (it was behind the journal's start).", st.Restores)
	}
	if s.o.Counters != nil {
		m := s.o.Counters()
		names := make([]string, 0, len(m))
		for k := range m {
			names = append(names, k)
		}
		slices.Sort(names)
		seen := map[string]bool{}
		for _, k := range names {
			name := "linli_" + strings.TrimSuffix(metricName(k), "_total") + "_total"
			if seen[name] {
				continue // two keys that differ only in invalid characters
			}
			seen[name] = true
			counter(e, name, fmt.Sprintf("Counter %q of the hub's sources.", k), m[k])
		}
	}
	return e.flush()
}

func counter(e *expWriter, name, help string, v uint64) {
	e.family(name, typeCounter, help)
	e.sample(name, nil, float64(v))
}

func gauge(e *expWriter, name, help string, v float64) {
	e.family(name, typeGauge, help)
	e.sample(name, nil, v)
}

func writeHub(e *expWriter, h Hub) error {
	st := h.Stats()
	active, err := h.Alerts(false)
	if err != nil {
		return fmt.Errorf("ops: metrics: %w", err)
	}
	devs := h.Devices()

	counter(e, "linli_hub_messages_received_total", "MQTT messages the hub received.", st.Received)
	e.family("linli_hub_messages_refused_total", typeCounter, "Messages the hub refused, by reason.")
	for _, r := range []struct {
		reason string
		n      uint64
	}{{"bad_type", st.BadType}, {"bad_version", st.BadVersion}, {"malformed", st.Malformed}, {"too_large", st.TooLarge}} {
		e.sample("linli_hub_messages_refused_total", []Label{{"reason", r.reason}}, float64(r.n))
	}
	e.family("linli_hub_events_ignored_total", typeCounter, "Device events the hub did not apply again, by reason.")
	e.sample("linli_hub_events_ignored_total", []Label{{"reason", "duplicate"}}, float64(st.Duplicates))
	e.sample("linli_hub_events_ignored_total", []Label{{"reason", "out_of_order"}}, float64(st.OutOfOrder))
	counter(e, "linli_hub_foreign_total", "Messages and requests of other shards' devices and workers, left to their hubs (shared broker).", st.Foreign)
	counter(e, "linli_hub_resends_total", "Devices asked to send their events again after a missing one.", st.Resends)
	counter(e, "linli_hub_events_held_total", "Device events held for a missing predecessor.", st.Held)
	counter(e, "linli_hub_events_missing_total", "Device events never received (sequence gaps given up on).", st.Missing)

	counter(e, "linli_alerts_raised_total", "Grid alerts raised.", st.AlertsRaised)
	counter(e, "linli_alerts_cleared_total", "Grid alerts cleared.", st.AlertsCleared)
	counter(e, "linli_alerts_escalated_total", "Escalations of unacknowledged alerts to the next level.", st.Escalations)
	counter(e, "linli_alerts_acknowledged_total", "Alerts acknowledged by a worker.", st.Acks)

	type key struct{ level, state string }
	byKey := map[key]int{}
	unacked := 0
	for _, a := range active {
		byKey[key{a.Level, string(a.State)}]++
		if a.AckedBy == "" {
			unacked++
		}
	}
	levels := slices.Clone(alertLevels)
	states := make([]string, 0, len(alertStates))
	for _, st := range alertStates {
		states = append(states, string(st))
	}
	for k := range byKey {
		if !slices.Contains(levels, k.level) {
			levels = append(levels, k.level)
		}
		if !slices.Contains(states, k.state) {
			states = append(states, k.state)
		}
	}
	slices.Sort(levels)
	slices.Sort(states)
	e.family("linli_alerts_active", typeGauge, "Active (not cleared) alerts, by the level that must act and by state.")
	for _, l := range levels {
		for _, s := range states {
			e.sample("linli_alerts_active", []Label{{"level", l}, {"state", s}}, float64(byKey[key{l, s}]))
		}
	}
	gauge(e, "linli_alerts_unacknowledged", "Active alerts nobody has acknowledged yet.", float64(unacked))

	known, online := map[string]int{}, map[string]int{}
	depth, maxDepth := 0, 0
	var dropped uint64
	for _, d := range devs {
		known[d.Kind]++
		if d.Online {
			online[d.Kind]++
		}
		depth += d.Health.QueueDepth
		maxDepth = max(maxDepth, d.Health.QueueDepth)
		dropped += d.Health.Dropped
	}
	kinds := make([]string, 0, len(known))
	for k := range known {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	e.family("linli_devices", typeGauge, "Devices the hub knows (configured or seen), by kind.")
	for _, k := range kinds {
		e.sample("linli_devices", []Label{{"kind", k}}, float64(known[k]))
	}
	e.family("linli_devices_online", typeGauge, "Devices online (birth seen, no death since), by kind.")
	for _, k := range kinds {
		e.sample("linli_devices_online", []Label{{"kind", k}}, float64(online[k]))
	}
	gauge(e, "linli_devices_outbox_depth", "Messages waiting in the devices' outboxes, summed, as last reported to the hub.", float64(depth))
	gauge(e, "linli_devices_outbox_depth_max", "The fullest device outbox, as last reported to the hub.", float64(maxDepth))
	gauge(e, "linli_devices_telemetry_dropped", "Telemetry the devices' outbox bounds dropped, summed, as last reported.", float64(dropped))

	counter(e, "linli_hub_requests_total", "Worker requests (gridctl, web) the hub served.", st.Requests)
	counter(e, "linli_hub_request_errors_total", "Worker requests answered with an error.", st.RequestErrors)
	counter(e, "linli_hub_handler_errors_total", "Errors of the hub's device message handlers.", st.HandlerErrors)
	counter(e, "linli_hub_store_errors_total", "bbolt failures of the hub (message left unacknowledged).", st.StoreErrors)
	gauge(e, "linli_hub_outbox_depth", "Messages waiting in the hub's own outbox.", float64(st.QueueDepth))
	gauge(e, "linli_hub_outbox_depth_max", "The hub outbox's largest depth since start.", float64(st.MaxQueueDepth))
	return nil
}
