package main

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	bolt "go.etcd.io/bbolt"

	"linli/firmware/transfer"
	"linli/mqtt/contract"
	"linli/mqtt/mqtttest"
)

// shmDir returns a folder on tmpfs when the machine has one, so that the
// transfer figure measures the protocol and the broker, not this disk's
// fsync (the receiver syncs every block).
func shmDir(tb testing.TB) string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		d, err := os.MkdirTemp("/dev/shm", "linli-bench-")
		if err == nil {
			tb.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return tb.TempDir()
}

// benchClient connects a paho client for a benchmark.
func benchClient(tb testing.TB, url, id string) paho.Client {
	tb.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID(id).SetCleanSession(true).
		SetAutoReconnect(false).SetOrderMatters(true))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := waitToken(ctx, c.Connect()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Disconnect(50) })
	return c
}

// rawRun publishes n payloads of size bytes QoS 1 from pub to sub through
// the broker, with the same number in flight as flash's block publisher,
// and returns when sub received them all.
func rawRun(tb testing.TB, pub paho.Client, got <-chan struct{}, topic string, n, size int) time.Duration {
	payload := make([]byte, size)
	rand.Read(payload)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := &blockPublisher{c: pub, toks: make(chan paho.Token, 64)}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); p.run(ctx) }()
	start := time.Now()
	for range n {
		if err := p.publish(ctx, topic, payload); err != nil {
			tb.Fatal(err)
		}
	}
	for range n {
		select {
		case <-got:
		case <-ctx.Done():
			tb.Fatal("raw: messages lost")
		}
	}
	d := time.Since(start)
	cancel()
	wg.Wait()
	return d
}

// transferRun sends the file at path to a fresh receiver through the broker
// the way flash does (transfer.Sender publishing through blockPublisher,
// requests over MQTT) and returns when the receiver verified it.
func transferRun(tb testing.TB, url, dir, path string, i int) time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	id := "bench-dev"
	ctl := benchClient(tb, url, "bench-ctl")
	dev := benchClient(tb, url, "bench-dev")
	p := &blockPublisher{c: ctl, toks: make(chan paho.Token, 64)}
	s := transfer.NewSender(p.publish)
	defer s.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Add(1)
	go func() { defer wg.Done(); p.run(ctx) }()
	reqs := make(chan *contract.FirmwareRequest, 64)
	if err := waitToken(ctx, ctl.Subscribe(contract.DeviceTopic(id, "fwreq"), 1, func(_ paho.Client, m paho.Message) {
		if msg, err := contract.Decode(m.Topic(), m.Payload()); err == nil {
			reqs <- msg.(*contract.FirmwareRequest)
		}
	})); err != nil {
		tb.Fatal(err)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case r := <-reqs:
				s.HandleRequest(ctx, r)
			}
		}
	}()
	db, err := bolt.Open(filepath.Join(dir, "dev.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	recv, err := transfer.NewReceiver(db, &transfer.ReceiverOptions{Device: id, Dir: dir, Logger: quietLog, Window: benchWindow,
		Request: func(ctx context.Context, p []byte) error {
			return waitToken(ctx, dev.Publish(contract.DeviceTopic(id, "fwreq"), 1, false, p))
		}})
	if err != nil {
		tb.Fatal(err)
	}
	if err := waitToken(ctx, dev.Subscribe(contract.DeviceTopic(id, "fw"), 1, func(_ paho.Client, m paho.Message) {
		recv.HandleBlock(m.Payload())
	})); err != nil {
		tb.Fatal(err)
	}
	tid := "t-" + string(rune('a'+i%26)) + time.Now().Format("150405.000000")
	o, err := s.Add(tid, "2.0.0", path, transfer.DefaultBlockSize)
	if err != nil {
		tb.Fatal(err)
	}
	start := time.Now()
	if err := recv.Offer(o); err != nil {
		tb.Fatal(err)
	}
	if _, _, err := recv.Run(ctx); err != nil {
		tb.Fatal(err)
	}
	d := time.Since(start)
	recv.Finish()
	return d
}

// BenchmarkFirmwareTransfer measures a firmware transfer over MQTT on
// loopback through the embedded broker against the broker's raw QoS 1
// byte throughput (a plain paho publisher to a subscriber, same payload
// size and in-flight window) in the same run, and reports their ratio as
// x-raw-throughput (the target: ≥ 0.5). Storage is tmpfs in
// "tmpfs" (the protocol's figure) and the test's temporary folder in
// "disk" (with this machine's fsync per block).
func BenchmarkFirmwareTransfer(b *testing.B) {
	const size = 4 << 20
	img := filepath.Join(b.TempDir(), "fw.bin")
	buf := make([]byte, size)
	rand.Read(buf)
	if err := os.WriteFile(img, buf, 0o644); err != nil {
		b.Fatal(err)
	}
	for _, storage := range []string{"tmpfs", "disk"} {
		b.Run(storage, func(b *testing.B) {
			url := mqtttest.Embedded(b)
			pub := benchClient(b, url, "raw-pub")
			sub := benchClient(b, url, "raw-sub")
			got := make(chan struct{}, 1024)
			if err := waitToken(context.Background(), sub.Subscribe("bench/raw", 1, func(paho.Client, paho.Message) { got <- struct{}{} })); err != nil {
				b.Fatal(err)
			}
			n := size / transfer.DefaultBlockSize
			blockMsg := len(transfer.EncodeBlock("t-a000000.000000", 0, make([]byte, transfer.DefaultBlockSize)))
			var raw, xfer time.Duration
			b.SetBytes(size)
			b.ResetTimer()
			for i := range b.N {
				raw += rawRun(b, pub, got, "bench/raw", n, blockMsg)
				dir := b.TempDir()
				if storage == "tmpfs" {
					dir = shmDir(b)
				}
				xfer += transferRun(b, url, dir, img, i)
			}
			rawBps := float64(size) * float64(b.N) / raw.Seconds()
			xferBps := float64(size) * float64(b.N) / xfer.Seconds()
			b.ReportMetric(rawBps/1e6, "raw-MB/s")
			b.ReportMetric(xferBps/1e6, "transfer-MB/s")
			b.ReportMetric(xferBps/rawBps, "x-raw-throughput")
		})
	}
}

// resumeOnce interrupts a transfer over the broker after about a third of
// the blocks (the device's connection drops, as in a power cut), resumes it
// with a new receiver on the same bbolt file, and returns the blocks sent
// after the resume and the blocks that were not acknowledged (not in the
// receiver's bitmap) at the interruption.
func resumeOnce(tb testing.TB) (resent, unacked, of int) {
	url := mqtttest.Embedded(tb)
	dir := tb.TempDir()
	img := filepath.Join(dir, "fw.bin")
	buf := make([]byte, 1<<20+123)
	rand.Read(buf)
	os.WriteFile(img, buf, 0o644)
	ctl := benchClient(tb, url, "resume-ctl")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := &blockPublisher{c: ctl, toks: make(chan paho.Token, 64)}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); p.run(ctx) }()
	defer wg.Wait()
	defer cancel()
	s := transfer.NewSender(p.publish)
	defer s.Close()
	o, err := s.Add("t-resume", "2.0.0", img, 8<<10)
	if err != nil {
		tb.Fatal(err)
	}
	db, err := bolt.Open(filepath.Join(dir, "dev.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	// phase runs a receiver on its own connection until stop says so (or
	// the transfer is complete) and returns its status after the
	// connection dropped.
	phase := func(name string, stop func(contract.FirmwareStatus) bool) (contract.FirmwareStatus, bool) {
		dev := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID(name).SetCleanSession(true).SetAutoReconnect(false))
		if err := waitToken(ctx, dev.Connect()); err != nil {
			tb.Fatal(err)
		}
		pctx, pcancel := context.WithCancel(ctx)
		defer pcancel()
		var recv *transfer.Receiver
		recv, err = transfer.NewReceiver(db, &transfer.ReceiverOptions{Device: "mb-0001", Dir: dir, Logger: quietLog,
			Request: func(ctx context.Context, b []byte) error {
				m, err := contract.Decode(contract.DeviceTopic("mb-0001", "fwreq"), b)
				if err != nil {
					return err
				}
				return s.HandleRequest(ctx, m.(*contract.FirmwareRequest)) // direct: only the blocks travel the broker here
			},
			Progress: func(st contract.FirmwareStatus) {
				if stop(st) {
					pcancel()
				}
			}})
		if err != nil {
			tb.Fatal(err)
		}
		if err := waitToken(ctx, dev.Subscribe(contract.DeviceTopic("mb-0001", "fw"), 1, func(_ paho.Client, m paho.Message) {
			recv.HandleBlock(m.Payload())
		})); err != nil {
			tb.Fatal(err)
		}
		if err := recv.Offer(o); err != nil {
			tb.Fatal(err)
		}
		_, _, err := recv.Run(pctx)
		dev.Disconnect(0) // the power cut: blocks in flight are lost
		st, _ := recv.Status()
		return st, err == nil
	}
	before, done := phase("dev-1", func(st contract.FirmwareStatus) bool { return st.Count >= st.Of/3 })
	if done {
		tb.Fatal("the transfer finished before the interruption")
	}
	sentBefore := s.Sent("t-resume")
	if _, done := phase("dev-2", func(contract.FirmwareStatus) bool { return false }); !done {
		tb.Fatal("the resumed transfer did not finish")
	}
	return s.Sent("t-resume") - sentBefore, o.Blocks() - before.Count, o.Blocks()
}

// TestTransferResume: a resumed transfer re-sends at most the blocks the
// device had not acknowledged (written and recorded in its bitmap).
func TestTransferResume(t *testing.T) {
	resent, unacked, of := resumeOnce(t)
	t.Logf("%d blocks, %d not acknowledged at the interruption, %d sent after the resume", of, unacked, resent)
	if resent > unacked || unacked == 0 || unacked == of {
		t.Errorf("sent %d blocks after the resume; want at most the %d not acknowledged (of %d)", resent, unacked, of)
	}
}

// BenchmarkTransferResume reports the blocks re-sent after a resume per
// block not acknowledged before it (≤ 1 means nothing acknowledged is sent
// again).
func BenchmarkTransferResume(b *testing.B) {
	var resent, unacked int
	for range b.N {
		r, u, _ := resumeOnce(b)
		resent += r
		unacked += u
	}
	b.ReportMetric(float64(resent)/float64(unacked), "resent/unacked")
}

// benchWindow is the receiver's window in BenchmarkFirmwareTransfer: 0 is
// transfer's default (16 blocks), what devices use.
var benchWindow = 0
