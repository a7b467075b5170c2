package kiosk

import (
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"linli/mqtt/contract"
	"linli/mqtt/outbox"
)

// FuzzHandleMessage feeds a kiosk of community 幸福里 arbitrary topics and
// payloads, seeded with the contract's golden messages on their topics.
// HandleMessage must never panic; each message is counted as bad or
// ignored, or makes at most one change, never both; and the cache it
// fills must read back without panicking.
func FuzzHandleMessage(f *testing.F) {
	const community = "幸福里"
	seeds := []struct{ file, topic string }{
		{"ticket.json", contract.TicketTopic("K01-20261127-0042")},
		{"notices.json", contract.AreaTopic(community, "notices")},
		{"directory.json", contract.AreaTopic(community, "directory")},
		{"wishes.json", contract.AreaTopic(community, "wishes")},
		{"area-alerts.json", contract.AreaAlertsTopic(community, "3")},
		{"area-alerts.json", contract.AreaAlertsTopic(community, "4")},
		{"notices.json", contract.AreaTopic("other", "notices")},
		{"event.json", contract.DeviceTopic("mb-0001", "event")},
	}
	for _, s := range seeds {
		b, err := os.ReadFile(filepath.Join("..", "mqtt", "contract", "testdata", s.file))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(s.topic, b)
		f.Add(s.topic, []byte{})
	}
	f.Add(contract.AreaTopic(community, "x"), []byte(`{"v":1,"type":"notices","community":"幸福里"}`))
	f.Add("linli/v1/area/"+community, []byte(`{}`))
	f.Add("linli/v1/ticket", []byte{})
	f.Add("linli/v1/ticket/", []byte{})
	f.Add("", []byte(`null`))

	db, err := bolt.Open(filepath.Join(f.TempDir(), "kiosk.db"), 0o600, &bolt.Options{Timeout: time.Second, NoSync: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	ob, err := outbox.Open(db, nil)
	if err != nil {
		f.Fatal(err)
	}
	s, err := Open(db, ob, &Options{Device: "kiosk-01", Code: "K01", Community: community, Buildings: []string{"3"},
		TimeZone: time.UTC, Clock: func() time.Time { return t0 }})
	if err != nil {
		f.Fatal(err)
	}
	var changes atomic.Int64
	s.OnChange(func(string) { changes.Add(1) })

	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		h0, err := s.Health()
		if err != nil {
			t.Fatal(err)
		}
		c0 := changes.Load()
		s.HandleMessage(topic, payload)
		h1, err := s.Health()
		if err != nil {
			t.Fatal(err)
		}
		bad, ignored, changed := h1.BadMessages-h0.BadMessages, h1.Ignored-h0.Ignored, changes.Load()-c0
		if bad+ignored > 1 || changed > 1 || (bad+ignored == 1 && changed == 1) {
			t.Fatalf("HandleMessage(%q, %q): %d bad, %d ignored, %d changes", topic, payload, bad, ignored, changed)
		}
		if tp, err := contract.ParseTopic(topic); err == nil && tp.Kind == "ticket" && len(tp.Parts) > 1 {
			s.Track(tp.Parts[1])
		}
		s.Notices()
		s.Directory()
		s.Wishes()
		s.Alerts()
		s.Reports()
	})
}
