package transfer

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	bolt "go.etcd.io/bbolt"

	"linli/mqtt/contract"
	"linli/mqtt/mqtttest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func openDB(t *testing.T, path string) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func image(t *testing.T, size int) (string, []byte) {
	t.Helper()
	b := make([]byte, size)
	rand.Read(b)
	p := filepath.Join(t.TempDir(), "fw.bundle")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, b
}

// link wires a Sender and a Receiver through a function that may drop blocks.
type link struct {
	mu   sync.Mutex
	recv *Receiver
	drop func(index uint32) bool
}

func (l *link) publish(_ context.Context, _ string, p []byte) error {
	_, idx, _, _ := DecodeBlock(p)
	l.mu.Lock()
	r, drop := l.recv, l.drop
	l.mu.Unlock()
	if r == nil || (drop != nil && drop(idx)) {
		return nil
	}
	go r.HandleBlock(p)
	return nil
}

func TestTransferWithLossAndResume(t *testing.T) {
	path, want := image(t, 300*1024+17) // 19 blocks of 16 KiB, the last short
	dir := t.TempDir()
	l := &link{}
	s := NewSender(l.publish)
	defer s.Close()
	o, err := s.Add("t1", "v2", path, DefaultBlockSize)
	if err != nil {
		t.Fatal(err)
	}
	newReceiver := func(db *bolt.DB) *Receiver {
		r, err := NewReceiver(db, &ReceiverOptions{Device: "mb-0001", Dir: dir, Window: 4, Timeout: 20 * time.Millisecond, Logger: quiet,
			Request: func(ctx context.Context, p []byte) error {
				m, err := contract.Decode(contract.DeviceTopic("mb-0001", "fwreq"), p)
				if err != nil {
					return err
				}
				return s.HandleRequest(ctx, m.(*contract.FirmwareRequest))
			}})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	// First connection: every third block is lost on the way, and the
	// connection drops after 8 blocks arrived.
	db := openDB(t, filepath.Join(dir, "dev.db"))
	r := newReceiver(db)
	l.recv, l.drop = r, func(i uint32) bool { return i%3 == 2 }
	if err := r.Offer(o); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for {
			st, _ := r.Status()
			if st.Count >= 8 {
				cancel()
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	if _, _, err := r.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("first Run = %v", err)
	}
	l.mu.Lock()
	l.recv = nil
	l.mu.Unlock()
	before, _ := r.Status()
	db.Close()

	// Reboot: a new receiver on the same bbolt file resumes.
	db = openDB(t, filepath.Join(dir, "dev.db"))
	defer db.Close()
	r = newReceiver(db)
	st, ok := r.Status()
	if !ok || st.Count != before.Count {
		t.Fatalf("after reboot status = %+v, %v; want %d blocks kept", st, ok, before.Count)
	}
	l.mu.Lock()
	l.recv, l.drop = r, nil
	l.mu.Unlock()
	sentBefore := s.Sent("t1")
	if err := r.Offer(o); err != nil { // the sender offers again after reconnect
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	got, gotOffer, err := r.Run(ctx2)
	if err != nil {
		t.Fatalf("resumed Run = %v", err)
	}
	if gotOffer != o {
		t.Errorf("offer = %+v, want %+v", gotOffer, o)
	}
	b, _ := os.ReadFile(got)
	if !bytes.Equal(b, want) {
		t.Fatal("assembled file differs from the image")
	}
	// The resume asked only for blocks that had not arrived.
	if resent, missing := s.Sent("t1")-sentBefore, o.Blocks()-before.Count; resent > missing {
		t.Errorf("resume sent %d blocks, but only %d were missing", resent, missing)
	}
	r.Finish()
	if _, err := os.Stat(got); !os.IsNotExist(err) {
		t.Error("Finish left the .part file")
	}
}

func TestStalledAndCorrupt(t *testing.T) {
	path, _ := image(t, 40*1024)
	dir := t.TempDir()
	db := openDB(t, filepath.Join(dir, "dev.db"))
	defer db.Close()
	s := NewSender(func(context.Context, string, []byte) error { return nil })
	o, _ := s.Add("t2", "v2", path, 16*1024)
	var states []string
	r, err := NewReceiver(db, &ReceiverOptions{Device: "mb-0001", Dir: dir, Timeout: time.Millisecond, MaxRetries: 3, Logger: quiet,
		Request:  func(context.Context, []byte) error { return nil }, // nobody answers
		Progress: func(st contract.FirmwareStatus) { states = append(states, st.State) }})
	if err != nil {
		t.Fatal(err)
	}
	r.Offer(o)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, _, err := r.Run(ctx); !errors.Is(err, ErrStalled) {
		t.Fatalf("Run with a silent sender = %v, want ErrStalled", err)
	}
	if states[len(states)-1] != contract.FwFailed {
		t.Errorf("last state = %q, want failed", states[len(states)-1])
	}

	// Blocks that do not match the offered hash are caught by the re-hash.
	bad := o
	bad.SHA256 = "00" + o.SHA256[2:]
	r.Offer(bad)
	img, _ := os.ReadFile(path)
	for i := 0; i < bad.Blocks(); i++ {
		end := min((i+1)*bad.BlockSize, len(img))
		if err := r.HandleBlock(EncodeBlock("t2", uint32(i), img[i*bad.BlockSize:end])); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := r.Run(ctx); !errors.Is(err, ErrHash) {
		t.Fatalf("Run with a wrong hash = %v, want ErrHash", err)
	}
	if err := r.HandleBlock([]byte("garbage")); !errors.Is(err, ErrBlock) {
		t.Errorf("HandleBlock(garbage) = %v, want ErrBlock", err)
	}
}

func TestOfferArgs(t *testing.T) {
	o := Offer{Transfer: "t3", Version: "v1", Size: 1000, BlockSize: 4096, SHA256: string(bytes.Repeat([]byte("a"), 64))}
	got, err := OfferFromArgs(o.Args())
	if err != nil || got != o {
		t.Fatalf("round trip = %+v, %v", got, err)
	}
	for _, bad := range []map[string]string{
		{"transfer": "t", "size": "x", "block_size": "4096", "sha256": o.SHA256},
		{"transfer": "a/b", "size": "10", "block_size": "4096", "sha256": o.SHA256},
		{"transfer": "t", "size": "10", "block_size": "1", "sha256": o.SHA256},
		{"transfer": "t", "size": "10", "block_size": "4096", "sha256": "short"},
	} {
		if _, err := OfferFromArgs(bad); !errors.Is(err, ErrOffer) {
			t.Errorf("OfferFromArgs(%v) = %v, want ErrOffer", bad, err)
		}
	}
}

// TestOverBrokers moves an image through real brokers: the sender and the
// device each have their own MQTT connection.
func TestOverBrokers(t *testing.T) {
	for _, b := range mqtttest.Brokers(t) {
		t.Run(b.Name, func(t *testing.T) {
			url := b.Start(t)
			path, want := image(t, 1<<20)
			dev := mqtttest.Client(t, url, "mb-0009")
			snd := mqtttest.Client(t, url, "gridctl-maint")
			pub := func(c *mqtttest.Conn) func(ctx context.Context, topic string, p []byte) error {
				return func(ctx context.Context, topic string, p []byte) error {
					return mqtttest.Wait(ctx, c.Paho().Publish(topic, 1, false, p))
				}
			}
			s := NewSender(pub(snd))
			defer s.Close()
			o, err := s.Add("t4", "v9", path, DefaultBlockSize)
			if err != nil {
				t.Fatal(err)
			}
			db := openDB(t, filepath.Join(t.TempDir(), "dev.db"))
			defer db.Close()
			devPub := pub(dev)
			r, err := NewReceiver(db, &ReceiverOptions{Device: "mb-0009", Dir: t.TempDir(), Window: 32, Logger: quiet,
				Request: func(ctx context.Context, p []byte) error {
					return devPub(ctx, contract.DeviceTopic("mb-0009", "fwreq"), p)
				}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			snd.Paho().Subscribe(contract.DeviceTopic("+", "fwreq"), 1, func(_ paho.Client, m paho.Message) {
				req, err := contract.Decode(m.Topic(), m.Payload())
				if err != nil {
					t.Errorf("bad request: %v", err)
					return
				}
				go s.HandleRequest(ctx, req.(*contract.FirmwareRequest))
			}).Wait()
			dev.Paho().Subscribe(contract.DeviceTopic("mb-0009", "fw"), 1, func(_ paho.Client, m paho.Message) {
				r.HandleBlock(m.Payload())
			}).Wait()
			r.Offer(o)
			got, _, err := r.Run(ctx)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(got)
			if !bytes.Equal(b, want) {
				t.Fatal("assembled file differs")
			}
		})
	}
}

// TestOfferSecurity: the bundle's security version travels in the offer,
// is optional for older tools, and a malformed one is refused.
func TestOfferSecurity(t *testing.T) {
	o := Offer{Transfer: "t1", Version: "v2", Security: 7, Size: 1000, BlockSize: 512, SHA256: string(bytes.Repeat([]byte("a"), 64))}
	args := o.Args()
	if args[contract.UpdateArgSecurity] != "7" {
		t.Fatalf("args %v: no security_version 7", args)
	}
	if got, err := OfferFromArgs(args); err != nil || got != o {
		t.Errorf("round trip: %+v, %v; want %+v", got, err, o)
	}
	delete(args, contract.UpdateArgSecurity)
	if got, err := OfferFromArgs(args); err != nil || got.Security != 0 {
		t.Errorf("without security_version: %+v, %v; want security 0 (unknown)", got, err)
	}
	args[contract.UpdateArgSecurity] = "-1"
	if _, err := OfferFromArgs(args); !errors.Is(err, ErrOffer) {
		t.Errorf("security_version -1: %v, want ErrOffer", err)
	}
}
