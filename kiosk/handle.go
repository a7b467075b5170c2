package kiosk

import (
	"errors"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"linli/mqtt/contract"
)

// errIgnored marks a well-formed message that is not for this kiosk.
var errIgnored = errors.New("kiosk: not for this kiosk")

// HandleMessage takes a message from the uplink's subscriptions (Topics):
// it decodes it, caches it in bbolt and tells the OnChange listeners. An
// empty payload (a retained message being cleared) removes the cached
// copy. A message that does not decode or does not fit its topic is logged
// and counted in Health.BadMessages; one for another community or building
// is counted in Health.Ignored. Of the tickets (the kiosk subscribes to
// every ticket the broker carries, so that a kiosk needs no list of the
// hub's numbers), only those of the kiosk's community
// (TicketStatus.Location.Community) and the reports filed at this kiosk
// are kept: on a broker shared by several communities the others would
// only fill the cache. The hub takes a ticket's community from the report,
// which a kiosk always fills in. It never panics on input and is meant to
// be called from one goroutine at a time (the uplink's).
func (s *Service) HandleMessage(topic string, payload []byte) {
	s.lastMsg.Store(s.opts.Clock().UnixNano())
	kind, err := s.handle(topic, payload)
	switch {
	case errors.Is(err, errIgnored):
		s.ignored.Add(1)
		s.log.Debug("message ignored", "topic", topic, "err", err)
	case err != nil:
		s.bad.Add(1)
		s.log.Warn("bad message", "topic", topic, "bytes", len(payload), "err", err)
	case kind != "":
		s.changed(kind)
	}
}

func (s *Service) handle(topic string, payload []byte) (kind string, err error) {
	t, err := contract.ParseTopic(topic)
	if err != nil {
		return "", err
	}
	// The cache key of the topic, and the change it makes.
	var key string
	switch {
	case t.Kind == "ticket":
		key, kind = t.Parts[1], ChangeTicket
	case t.Kind == "area" && t.Parts[1] != s.opts.Community:
		return "", fmt.Errorf("%w: community %q", errIgnored, t.Parts[1])
	case t.Kind == "area" && t.Leaf == "alerts":
		b := t.Parts[2]
		if s.opts.Buildings != nil && !slices.Contains(s.opts.Buildings, b) {
			return "", fmt.Errorf("%w: building %q", errIgnored, b)
		}
		key, kind = "alerts/"+b, ChangeAlerts
	case t.Kind == "area":
		key = t.Leaf
		kind = map[string]string{"notices": ChangeNotices, "directory": ChangeDirectory, "wishes": ChangeWishes}[t.Leaf]
	default:
		return "", fmt.Errorf("%w: %q is not a kiosk topic", contract.ErrTopic, topic)
	}
	bucket := bucketArea
	if t.Kind == "ticket" {
		bucket = bucketTickets
	}
	if len(payload) == 0 {
		found := false
		err := s.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucket)
			found = b.Get([]byte(key)) != nil
			return b.Delete([]byte(key))
		})
		if err == nil && !found && t.Kind == "ticket" {
			// Another community's ticket, never cached: no change.
			return "", fmt.Errorf("%w: ticket %q is not cached", errIgnored, key)
		}
		return kind, err
	}
	m, err := contract.Decode(topic, payload)
	if err != nil {
		return "", err
	}
	switch m := m.(type) {
	case *contract.TicketStatus:
		if m.Number != key {
			return "", fmt.Errorf("%w: ticket %q on %q", contract.ErrTopic, m.Number, topic)
		}
		if c := m.Location.Community; c != s.opts.Community && !s.ownReport(key) {
			return "", fmt.Errorf("%w: ticket %q of community %q", errIgnored, key, c)
		}
	case *contract.AreaAlerts:
		if m.Community != s.opts.Community || "alerts/"+m.Building != key {
			return "", fmt.Errorf("%w: alerts of %s/%s on %q", contract.ErrTopic, m.Community, m.Building, topic)
		}
	case *contract.Notices:
		err = sameCommunity(m.Community, s.opts.Community, topic)
	case *contract.Directory:
		err = sameCommunity(m.Community, s.opts.Community, topic)
	case *contract.Wishes:
		err = sameCommunity(m.Community, s.opts.Community, topic)
	}
	if err != nil {
		return "", err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		if err := putJSON(tx, bucket, key, m); err != nil {
			return err
		}
		if t.Kind == "ticket" {
			return s.scrub(tx, key)
		}
		return nil
	})
	return kind, err
}

// ownReport reports whether number is a report filed at this kiosk.
func (s *Service) ownReport(number string) bool {
	found := false
	_ = s.db.View(func(tx *bolt.Tx) error {
		found = tx.Bucket(bucketReports).Get([]byte(number)) != nil
		return nil
	})
	return found
}

func sameCommunity(got, want, topic string) error {
	if got != want {
		return fmt.Errorf("%w: community %q on %q", contract.ErrTopic, got, topic)
	}
	return nil
}

// scrub removes the phone number and free text from the kiosk's copy of a
// report the hub has answered for.
func (s *Service) scrub(tx *bolt.Tx, number string) error {
	var r storedReport
	ok, err := getJSON(tx, bucketReports, number, &r)
	if err != nil || !ok || r.Scrubbed {
		return err
	}
	r.Report.Phone, r.Report.Consent, r.Report.Text, r.Scrubbed = "", false, "", true
	return putJSON(tx, bucketReports, number, r)
}
