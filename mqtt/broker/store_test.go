package broker

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	bbolt "go.etcd.io/bbolt"

	"linli/mqtt/contract"
)

// fleetAccounts are testAccounts plus n devices fl-00…, password "pw".
func fleetAccounts(n int) (Static, []string) {
	var e []Entry
	var ids []string
	for i := range n {
		id := fmt.Sprintf("fl-%02d", i)
		ids = append(ids, id)
		e = append(e, Entry{Account{ID: id, Role: RoleDevice}, "pw"})
	}
	e = append(e, Entry{Account{ID: "gridhub", Role: RoleHub}, "pwh"}, Entry{Account{ID: "w-li", Role: RoleWorker}, "pww"})
	return NewStatic(e...), ids
}

// startWith starts a broker on dir; its close func (also run at cleanup)
// closes it once.
func startWith(t *testing.T, dir string, acc Accounts) (*Server, func() error) {
	t.Helper()
	s, err := New(&Options{Listen: "127.0.0.1:0", DataDir: dir, Accounts: acc, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	closeOnce := sync.OnceValue(s.Close)
	t.Cleanup(func() { _ = closeOnce() })
	return s, closeOnce
}

// TestStoreAckedIsOnDisk: the store commits in groups, but every message a
// publisher got its PUBACK for is on disk at that moment, retained ones and
// those in flight to an offline persistent session alike: a copy of
// broker.db taken right then (the broker killed, no Close) brings them all
// back. Acknowledged deliveries are deleted by the time the broker stops.
func TestStoreAckedIsOnDisk(t *testing.T) {
	acc, ids := fleetAccounts(20)
	dir := t.TempDir()
	s, _ := startWith(t, dir, acc)
	// Each group commit takes 20 ms: a PUBACK sent before its message's
	// commit would show as a message missing from the copy below.
	s.store.slowDisk.Store(int64(20 * time.Millisecond))
	hub, err := connect(t, s, "gridhub", "gridhub", false, "pwh")
	if err != nil {
		t.Fatal(err)
	}
	subscribe(t, hub, contract.Root+"/dev/+/event")
	hub.Disconnect(100)

	const perDevice = 10
	var wg sync.WaitGroup
	for _, id := range ids {
		d, err := connect(t, s, id, id, true, "pw")
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			toks := []paho.Token{d.Publish(contract.DeviceTopic(id, "birth"), 1, true, "birth "+id)}
			for i := range perDevice {
				toks = append(toks, d.Publish(contract.DeviceTopic(id, "event"), 1, false, fmt.Sprintf("%s/%d", id, i)))
			}
			for _, tok := range toks {
				if err := wait(t, tok); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	// Every publish is acknowledged: the broker "dies" now.
	crashed := t.TempDir()
	b, err := os.ReadFile(filepath.Join(dir, "broker.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(crashed, "broker.db"), b, 0o600); err != nil {
		t.Fatal(err)
	}

	s2, close2 := startWith(t, crashed, acc)
	hub2, err := connect(t, s2, "gridhub", "gridhub", false, "pwh")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for len(seen) < len(ids)*perDevice {
		m := receive(t, hub2)
		seen[string(m.Payload())] = true
	}
	for _, id := range ids {
		for i := range perDevice {
			if !seen[fmt.Sprintf("%s/%d", id, i)] {
				t.Errorf("event %s/%d acknowledged to the device but lost", id, i)
			}
		}
	}
	w := mustConnect(t, s2, "w-li")
	subscribe(t, w, contract.Root+"/dev/+/birth")
	births := map[string]bool{}
	for len(births) < len(ids) {
		if m := receive(t, w); m.Retained() {
			births[string(m.Payload())] = true
		}
	}

	// The hub's PUBACKs went out before its own publish, which the broker
	// reads after them: once that is acknowledged, the deletions are
	// queued, and Close commits them.
	if err := wait(t, hub2.Publish(contract.Root+"/hub/probe", 1, false, "x")); err != nil {
		t.Fatal(err)
	}
	hub2.Disconnect(100)
	if err := close2(); err != nil {
		t.Fatal(err)
	}
	db, err := bbolt.Open(filepath.Join(crashed, "broker.db"), 0o600, &bbolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	left := 0
	_ = db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(storeBucket).Cursor()
		for k, _ := c.Seek([]byte("IFM_")); k != nil && bytes.HasPrefix(k, []byte("IFM_")); k, _ = c.Next() {
			left++
		}
		return nil
	})
	if left != 0 {
		t.Errorf("%d in-flight records left after every delivery was acknowledged", left)
	}
	if n := s2.Stats().StoreErrors; n != 0 {
		t.Errorf("%d store errors", n)
	}
}
