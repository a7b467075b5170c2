package uplink

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"linli/mqtt/contract"
	"linli/mqtt/mqtttest"
	"linli/mqtt/outbox"
)

const (
	childEnv    = "LINLI_UPLINK_CHILD"
	childDev    = "mb-kill"
	childEvents = 300
)

// runChild is a stand-in for sensord, run in a child process by
// TestKill9MidStream: it produces alarms (each put in the same bbolt
// transaction as the device's own event counter, as sensord does) while
// its uplink sends them, until it is killed.
func runChild(path, broker string) int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "child:", err); return 2 }
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return fail(err)
	}
	ob, err := outbox.Open(db, nil)
	if err != nil {
		return fail(err)
	}
	u, err := New(db, ob, &Options{Broker: broker, ClientID: childDev, Birth: birthFor(childDev),
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return fail(err)
	}
	go u.Run(context.Background()) // runs until the process is killed
	for {
		var seq uint64
		err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("events"))
			if err != nil {
				return err
			}
			if v := b.Get([]byte("seq")); len(v) == 8 {
				seq = binary.BigEndian.Uint64(v)
			}
			if seq >= childEvents {
				return nil
			}
			seq++
			e := &contract.Event{ID: fmt.Sprintf("%s-e%d", childDev, seq), Device: childDev, Seq: seq, Channel: "busbar-l1",
				Kind: "temperature", From: contract.StateNormal, To: contract.StateAlarm, Cause: "threshold"}
			if _, err := ob.PutTx(tx, outbox.Item{Class: outbox.Event, Topic: contract.DeviceTopic(childDev, "event"), Payload: contract.MustEncode(e), QoS: 1}); err != nil {
				return err
			}
			return b.Put([]byte("seq"), binary.BigEndian.AppendUint64(nil, seq))
		})
		if err != nil {
			return fail(err)
		}
		ob.Notify()
		time.Sleep(2 * time.Millisecond) // the pace of a burst of alarms
	}
}

func startChild(t *testing.T, db, broker string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+db, childEnv+"_BROKER="+broker)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// TestKill9MidStream kills the device process with SIGKILL in the middle of
// a stream of alarms, twice, and restarts it on the same bbolt file: every
// alarm reaches the hub exactly once after de-dup, in order, and the broker
// announces each death with the will.
func TestKill9MidStream(t *testing.T) {
	for _, b := range mqtttest.Brokers(t) {
		t.Run(b.Name, func(t *testing.T) {
			url := b.Start(t)
			r := newReceiver(t, url, "hub")
			db := filepath.Join(t.TempDir(), "dev.db")
			for i, at := range []int{60, 150} {
				cmd := startChild(t, db, url)
				r.waitFor(fmt.Sprintf("%d events", at), 20*time.Second, countEvents(childDev, at))
				if err := cmd.Process.Kill(); err != nil {
					t.Fatal(err)
				}
				cmd.Wait()
				r.waitFor(fmt.Sprintf("will %d", i+1), 20*time.Second, func(m []rx) bool { return len(deaths(m, childDev)) == i+1 })
			}
			startChild(t, db, url)
			msgs := r.waitFor("all events", 30*time.Second, countEvents(childDev, childEvents))
			checkSeqs(t, dedupEvents(msgs, childDev), childEvents)
			if got := births(msgs, childDev); len(got) != 3 || got[1] != got[0]+1 || got[2] != got[0]+2 {
				t.Errorf("births = %v, want sessions n, n+1, n+2", got)
			}
		})
	}
}
