package device_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"linli/firmware/bundle"
	"linli/firmware/device"
	"linli/firmware/transfer"
	"linli/firmware/updater"
	"linli/mqtt/contract"
)

const (
	target = "linux/amd64"
	dev    = "mb-0001"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// fixture is a device's update root with v1 installed and committed, a
// signing key, and the device's bbolt file.
type fixture struct {
	t    *testing.T
	root string
	tmp  string
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
	db   *bolt.DB
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, root: t.TempDir(), tmp: t.TempDir(), priv: priv, pub: pub}
	u, err := updater.Open(&updater.Options{Root: f.root, Roots: []ed25519.PublicKey{pub}, Target: target, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Install(f.bundle("v1", 1, nil)); err != nil {
		t.Fatal(err)
	}
	if err := u.Commit(); err != nil {
		t.Fatal(err)
	}
	u.Close()
	f.db, err = bolt.Open(filepath.Join(t.TempDir(), "dev.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.db.Close() })
	return f
}

type bundleOpts struct {
	target  string
	key     ed25519.PrivateKey
	program string // file name of the program; "" = prog
	size    int    // bytes of random payload; default 20000
}

// bundle writes a signed bundle holding an executable "prog" (the
// program) and returns its path.
func (f *fixture) bundle(version string, security uint64, o *bundleOpts) string {
	f.t.Helper()
	if o == nil {
		o = &bundleOpts{}
	}
	if o.target == "" {
		o.target = target
	}
	if o.key == nil {
		o.key = f.priv
	}
	if o.program == "" {
		o.program = "prog"
	}
	if o.size == 0 {
		o.size = 20000
	}
	payload := make([]byte, o.size)
	rand.Read(payload)
	src := filepath.Join(f.tmp, version+"-"+o.program)
	if err := os.WriteFile(src, append([]byte("#!/bin/true "+version+"\n"), payload...), 0o755); err != nil {
		f.t.Fatal(err)
	}
	path := filepath.Join(f.tmp, version+"-"+strings.ReplaceAll(o.target, "/", "_")+".bundle")
	out, err := os.Create(path)
	if err != nil {
		f.t.Fatal(err)
	}
	defer out.Close()
	m := bundle.Manifest{Product: "linli", Version: version, Security: security, Target: o.target, Created: time.Unix(1e9, 0)}
	if err := bundle.Create(out, m, []bundle.Source{{Name: o.program, Path: src, Mode: 0o755}}, o.key); err != nil {
		f.t.Fatal(err)
	}
	return path
}

// running returns the version the current link points at.
func (f *fixture) running() string {
	f.t.Helper()
	b, err := os.ReadFile(filepath.Join(f.root, "current", "prog"))
	if err != nil {
		f.t.Fatal(err)
	}
	v, _, _ := strings.Cut(strings.TrimPrefix(string(b), "#!/bin/true "), "\n")
	return v
}

// node is one start of the program: a Device wired to an in-process
// "broker" that answers block requests with a transfer.Sender.
type node struct {
	t      *testing.T
	d      *device.Device
	status chan contract.FirmwareStatus
	execs  chan string
	sender *transfer.Sender

	mu     sync.Mutex
	drop   func(i int) bool // drop the i-th block published
	blocks int
	sub    func(string, []byte)
	cancel context.CancelFunc
	done   chan struct{}
}

func (f *fixture) start(version string, o *device.Options) *node {
	f.t.Helper()
	n := &node{t: f.t, status: make(chan contract.FirmwareStatus, 1000), execs: make(chan string, 4)}
	opts := device.Options{}
	if o != nil {
		opts = *o
	}
	opts.Root, opts.RootKeys, opts.Target, opts.Version = f.root, []ed25519.PublicKey{f.pub}, target, version
	opts.Program, opts.Args, opts.Logger = "prog", []string{"prog", "run"}, quiet
	if opts.BlockTimeout == 0 {
		opts.BlockTimeout = 100 * time.Millisecond
	}
	opts.Exec = func(path string, args []string) error {
		n.execs <- path + " " + strings.Join(args[1:], " ")
		return nil
	}
	d, err := device.New(&opts)
	if err != nil {
		f.t.Fatal(err)
	}
	n.d = d
	if _, err := d.Boot(); err != nil {
		f.t.Fatal(err)
	}
	n.sender = transfer.NewSender(func(ctx context.Context, topic string, p []byte) error {
		n.mu.Lock()
		n.blocks++
		drop := n.drop != nil && n.drop(n.blocks)
		sub := n.sub
		n.mu.Unlock()
		if !drop && sub != nil {
			sub(topic, p)
		}
		return nil
	})
	publish := func(ctx context.Context, topic string, p []byte, qos byte, retain bool) error {
		m, err := contract.Decode(topic, p)
		if err != nil {
			f.t.Errorf("device published %s: %v", topic, err)
			return nil
		}
		switch m := m.(type) {
		case *contract.FirmwareStatus:
			if !retain {
				f.t.Errorf("fwstatus not retained")
			}
			n.status <- *m
		case *contract.FirmwareRequest:
			go n.sender.HandleRequest(ctx, m)
		}
		return nil
	}
	if err := d.Attach(dev, f.db, publish); err != nil {
		f.t.Fatal(err)
	}
	if subs := d.Subscriptions(); len(subs) != 1 || subs[0].Topic != contract.DeviceTopic(dev, "fw") {
		f.t.Fatalf("subscriptions %+v", subs)
	} else {
		n.sub = subs[0].Handle
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel, n.done = cancel, make(chan struct{})
	go func() { defer close(n.done); d.Run(ctx) }()
	f.t.Cleanup(n.stop)
	return n
}

func (n *node) stop() {
	if n.cancel == nil {
		return
	}
	n.cancel()
	<-n.done
	n.cancel = nil
	n.sender.Close()
	n.d.Close()
}

// offer adds the bundle to the sender and sends the update command, as an
// older tool does: without the security version.
func (n *node) offer(id, version, path string) *contract.CommandAck {
	n.t.Helper()
	return n.offerSecurity(id, version, path, 0)
}

// offerSecurity is offer with the bundle's security version in the offer.
func (n *node) offerSecurity(id, version, path string, security uint64) *contract.CommandAck {
	n.t.Helper()
	o, err := n.sender.Add(id, version, path, 512)
	if err != nil {
		n.t.Fatal(err)
	}
	o.Security = security
	return n.d.HandleCommand(context.Background(), &contract.Command{ID: "c-" + id, Name: contract.CmdUpdate, Args: o.Args()})
}

// waitState reads statuses until one in state want (returned) or a final
// state that is not want (fatal).
func (n *node) waitState(want string) contract.FirmwareStatus {
	n.t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case s := <-n.status:
			if s.State == want {
				return s
			}
			if s.State == contract.FwFailed || s.State == contract.FwRolledBack || s.State == contract.FwCommitted {
				n.t.Fatalf("status %s (%s), want %s", s.State, s.Error, want)
			}
		case <-timeout:
			n.t.Fatalf("no status %s", want)
		}
	}
}

func (n *node) waitExec() string {
	n.t.Helper()
	select {
	case e := <-n.execs:
		return e
	case <-time.After(20 * time.Second):
		n.t.Fatal("no restart")
	}
	return ""
}

func TestUpdateTrialCommit(t *testing.T) {
	f := newFixture(t)
	n := f.start("v1", nil)
	v2 := f.bundle("v2", 2, nil)
	if ack := n.offer("t-1", "v2", v2); !ack.OK {
		t.Fatalf("ack %+v", ack)
	}
	states := []string{}
	var last contract.FirmwareStatus
	for last.State != contract.FwInstalling {
		select {
		case last = <-n.status:
		case <-time.After(20 * time.Second):
			t.Fatalf("states so far %v", states)
		}
		if len(states) == 0 || states[len(states)-1] != last.State {
			states = append(states, last.State)
		}
	}
	want := []string{"offered", "downloading", "verifying", "installing"}
	if strings.Join(states, " ") != strings.Join(want, " ") {
		t.Errorf("states %v, want %v", states, want)
	}
	if got := n.waitExec(); got != filepath.Join(f.root, "current", "prog")+" run" {
		t.Errorf("exec %q", got)
	}
	if got := f.running(); got != "v2" {
		t.Fatalf("current is %s, want v2", got)
	}
	n.stop()

	// The restarted program: v2 on trial, then healthy.
	n2 := f.start("v2", nil)
	if !n2.d.OnTrial() {
		t.Fatal("v2 not on trial")
	}
	if s := n2.waitState(contract.FwTrial); s.Transfer != "t-1" || s.Version != "v2" {
		t.Errorf("trial status %+v", s)
	}
	if err := n2.d.Healthy(); err != nil {
		t.Fatal(err)
	}
	if s := n2.waitState(contract.FwCommitted); s.Running != "v2" {
		t.Errorf("committed status %+v", s)
	}
	st, _ := n2.d.Updater().State()
	if st.Trial != nil || st.MinSecurity != 2 {
		t.Errorf("state after commit: trial %+v, min security %d", st.Trial, st.MinSecurity)
	}
	n2.stop()

	// A later start reports committed again (brokers lose retained messages).
	n3 := f.start("v2", nil)
	n3.waitState(contract.FwCommitted)
	// The same version is not downloaded again.
	if ack := n3.offer("t-2", "v2", v2); ack.OK || !strings.Contains(ack.Error, "runs already") {
		t.Errorf("re-offer of the running version: %+v", ack)
	}
}

// flip returns a copy of the bundle with one bit flipped at offset off.
func flip(t *testing.T, path string, off int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if off < 0 {
		off += len(b)
	}
	b[off] ^= 0x10
	out := path + ".flipped"
	os.WriteFile(out, b, 0o644)
	return out
}

func truncate(t *testing.T, path string) string {
	b, _ := os.ReadFile(path)
	out := path + ".truncated"
	os.WriteFile(out, b[:len(b)*2/3], 0o644)
	return out
}

// forge rewrites the bundle's manifest (version renamed, same length)
// keeping the old signature.
func forge(t *testing.T, path string) string {
	in, _ := os.Open(path)
	defer in.Close()
	zr, err := gzip.NewReader(in)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		if h.Name == "manifest.json" {
			b = bytes.Replace(b, []byte(`"security_version": 2`), []byte(`"security_version": 9`), 1)
		}
		tw.WriteHeader(h)
		tw.Write(b)
	}
	tw.Close()
	zw.Close()
	out := path + ".forged"
	os.WriteFile(out, buf.Bytes(), 0o644)
	return out
}

func TestRefusals(t *testing.T) {
	f := newFixture(t)
	other, _, _ := bundleKey(t)
	good := f.bundle("v2", 2, &bundleOpts{size: 60000})
	cases := []struct {
		name, path, want string
	}{
		{"bad signature", forge(t, good), bundle.ErrBadSignature.Error()},
		{"unknown key", f.bundle("v2k", 2, &bundleOpts{key: other}), bundle.ErrUnknownKey.Error()},
		{"wrong arch", f.bundle("v2a", 2, &bundleOpts{target: "linux/arm/7"}), bundle.ErrWrongTarget.Error()},
		{"truncated", truncate(t, good), bundle.ErrTruncated.Error()},
		{"flipped bit", flip(t, good, -5000), "bundle: "},
		{"no program", f.bundle("v2p", 2, &bundleOpts{program: "kiosk"}), device.ErrNoProgram.Error()},
		{"older security", f.bundle("v0", 0, nil), bundle.ErrRollback.Error()},
	}
	n := f.start("v1", nil)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := "t-" + string(rune('a'+i))
			if ack := n.offer(id, "x"+c.name[:2], c.path); !ack.OK {
				t.Fatalf("offer refused: %+v", ack)
			}
			s := n.waitStateOrFailed()
			if s.State != contract.FwFailed || !strings.Contains(s.Error, c.want) {
				t.Errorf("status %s %q, want failed with %q", s.State, s.Error, c.want)
			}
			if s.Transfer != id {
				t.Errorf("status of transfer %q, want %q", s.Transfer, id)
			}
			if got := f.running(); got != "v1" {
				t.Errorf("current is %s, want v1", got)
			}
			select {
			case e := <-n.execs:
				t.Errorf("restarted (%s) after a refused bundle", e)
			default:
			}
		})
	}
	if es, _ := os.ReadDir(filepath.Join(f.root, "incoming")); len(es) != 0 {
		t.Errorf("incoming still holds %d files", len(es))
	}
}

func (n *node) waitStateOrFailed() contract.FirmwareStatus {
	n.t.Helper()
	for {
		select {
		case s := <-n.status:
			if s.State == contract.FwFailed || s.State == contract.FwTrial || s.State == contract.FwCommitted {
				return s
			}
		case e := <-n.execs:
			n.t.Fatalf("restarted: %s", e)
		case <-time.After(20 * time.Second):
			n.t.Fatal("no final status")
		}
	}
}

func bundleKey(t *testing.T) (ed25519.PrivateKey, ed25519.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	return priv, pub, err
}

func TestRollbackAtDeadlineNoLoop(t *testing.T) {
	f := newFixture(t)
	n := f.start("v1", &device.Options{TrialDeadline: 300 * time.Millisecond})
	v2 := f.bundle("v2", 2, nil)
	n.offer("t-1", "v2", v2)
	n.waitExec()
	n.stop()

	// v2 starts on trial but never becomes healthy.
	n2 := f.start("v2", nil)
	n2.waitState(contract.FwTrial)
	if got := n2.waitExec(); !strings.HasSuffix(got, "prog run") {
		t.Errorf("exec %q", got)
	}
	s := n2.waitState(contract.FwRolledBack)
	if !strings.Contains(s.Error, "did not become healthy") || s.Version != "v2" || s.Running != "v1" {
		t.Errorf("rolled-back status %+v", s)
	}
	if got := f.running(); got != "v1" {
		t.Fatalf("current is %s, want v1", got)
	}
	n2.stop()

	n3 := f.start("v1", nil)
	if n3.d.OnTrial() {
		t.Error("v1 on trial")
	}
	n3.waitState(contract.FwRolledBack) // reported again after the restart
	ack := n3.offer("t-2", "v2", v2)
	if ack.OK || !strings.Contains(ack.Error, "rolled back") || !strings.Contains(ack.Error, "did not become healthy") {
		t.Errorf("re-offer of a rolled-back version: %+v", ack)
	}
	if st, ok := n3.d.Status(); !ok || st.State != contract.FwFailed || st.Transfer != "t-2" {
		t.Errorf("status %+v", st)
	}
}

func TestUnhealthyRollsBackAtOnce(t *testing.T) {
	f := newFixture(t)
	n := f.start("v1", nil)
	n.offer("t-1", "v2", f.bundle("v2", 2, nil))
	n.waitExec()
	n.stop()
	n2 := f.start("v2", nil)
	n2.waitState(contract.FwTrial)
	if err := n2.d.Unhealthy(context.Background(), "hardware self-test failed: buzzer pin"); err != nil {
		t.Fatal(err)
	}
	if s := n2.waitState(contract.FwRolledBack); !strings.Contains(s.Error, "buzzer pin") || s.Running != "v1" {
		t.Errorf("status %+v", s)
	}
	n2.waitExec()
	if got := f.running(); got != "v1" {
		t.Fatalf("current is %s, want v1", got)
	}
}

// TestReReleaseAfterRollback: after v2 was rolled back, the same bundle is
// refused before any download, a fixed v2 (another bundle, the same
// version string and security version) is taken, and once it is committed
// an offer below the new security version is refused before download too.
func TestReReleaseAfterRollback(t *testing.T) {
	f := newFixture(t)
	n := f.start("v1", nil)
	broken := f.bundle("v2", 2, nil)
	n.offerSecurity("t-1", "v2", broken, 2)
	n.waitExec()
	n.stop()
	n2 := f.start("v2", nil)
	n2.waitState(contract.FwTrial)
	if err := n2.d.Unhealthy(context.Background(), "self-test failed"); err != nil {
		t.Fatal(err)
	}
	n2.waitState(contract.FwRolledBack)
	n2.waitExec()
	n2.stop()

	n3 := f.start("v1", nil)
	n3.waitState(contract.FwRolledBack)
	for _, sec := range []uint64{0, 2, 3} { // whatever the offer says: it is the same bundle
		ack := n3.offerSecurity(fmt.Sprintf("t-2-%d", sec), "v2", broken, sec)
		if ack.OK || !strings.Contains(ack.Error, "rolled back") {
			t.Errorf("re-offer of the rolled-back bundle (security %d): %+v", sec, ack)
		}
	}
	fixedDir := filepath.Join(t.TempDir(), "fixed.bundle")
	if err := os.Rename(f.bundle("v2", 2, nil), fixedDir); err != nil { // new random content
		t.Fatal(err)
	}
	if ack := n3.offerSecurity("t-3", "v2", fixedDir, 2); !ack.OK {
		t.Fatalf("offer of a fixed v2: %+v", ack)
	}
	n3.waitExec()
	if got := f.running(); got != "v2" {
		t.Fatalf("current is %s, want the fixed v2", got)
	}
	n3.stop()
	n4 := f.start("v2", nil)
	n4.waitState(contract.FwTrial)
	if err := n4.d.Healthy(); err != nil {
		t.Fatal(err)
	}
	n4.waitState(contract.FwCommitted)
	old := f.bundle("v1b", 1, nil)
	n4.mu.Lock()
	before := n4.blocks
	n4.mu.Unlock()
	ack := n4.offerSecurity("t-4", "v1b", old, 1)
	if ack.OK || !strings.Contains(ack.Error, "anti-rollback") {
		t.Errorf("offer below the security version: %+v", ack)
	}
	n4.mu.Lock()
	after := n4.blocks
	n4.mu.Unlock()
	if after != before {
		t.Errorf("%d blocks sent for a refused offer", after-before)
	}
}

// TestCrashLoopRollsBackAtBoot: a new version that dies before it becomes
// healthy is rolled back by Boot after MaxTrialStarts starts.
func TestCrashLoopRollsBackAtBoot(t *testing.T) {
	f := newFixture(t)
	n := f.start("v1", nil)
	n.offer("t-1", "v2", f.bundle("v2", 2, nil))
	n.waitExec()
	n.stop()
	for i := 0; i < 3; i++ { // three starts that crash before Healthy
		d, err := device.New(&device.Options{Root: f.root, RootKeys: []ed25519.PublicKey{f.pub}, Target: target, Logger: quiet,
			Exec: func(string, []string) error { t.Fatal("restarted on a trial start"); return nil }})
		if err != nil {
			t.Fatal(err)
		}
		if st, err := d.Boot(); st != updater.OnTrial || err != nil {
			t.Fatalf("start %d: %v %v", i, st, err)
		}
		d.Close()
	}
	n2 := f.start("v2", nil) // the fourth start rolls back and restarts
	n2.waitExec()
	if got := f.running(); got != "v1" {
		t.Fatalf("current is %s, want v1", got)
	}
	n2.stop()
	n3 := f.start("v1", nil)
	if s := n3.waitState(contract.FwRolledBack); !strings.Contains(s.Error, "3 starts") {
		t.Errorf("status %+v", s)
	}
}

func TestTransferResumes(t *testing.T) {
	f := newFixture(t)
	n := f.start("v1", &device.Options{Window: 8})
	v2 := f.bundle("v2", 2, &bundleOpts{size: 40000})
	// The link goes down after half the blocks: blocks 40–47 are lost.
	n.mu.Lock()
	n.drop = func(i int) bool { return i > 40 && i <= 48 }
	n.mu.Unlock()
	n.offer("t-1", "v2", v2)
	n.waitState(contract.FwVerifying)
	n.waitExec()
	o, _ := n.sender.Add("t-x", "v2", v2, 512)
	if sent := n.sender.Sent("t-1"); sent > o.Blocks()+8 {
		t.Errorf("sent %d blocks for %d (window 8): started over", sent, o.Blocks())
	}
	if got := f.running(); got != "v2" {
		t.Errorf("current is %s", got)
	}
}

func TestTransferResumesAfterReboot(t *testing.T) {
	f := newFixture(t)
	n := f.start("v1", &device.Options{Window: 8})
	v2 := f.bundle("v2", 2, &bundleOpts{size: 40000})
	// Everything after block 30 is lost; the device is "rebooted".
	n.mu.Lock()
	n.drop = func(i int) bool { return i > 30 }
	n.mu.Unlock()
	n.offer("t-1", "v2", v2)
	// Wait for a progress report of blocks kept on disk.
	var got contract.FirmwareStatus
	for got.Count < 8 {
		got = n.waitState(contract.FwDownload)
	}
	n.stop()
	n2 := f.start("v1", &device.Options{Window: 8})
	// No new offer: the transfer resumes from the bitmap.
	n2.sender.Add("t-1", "v2", v2, 512)
	s := n2.waitState(contract.FwDownload)
	if s.Count < got.Count {
		t.Errorf("resumed at %d blocks, %d were kept before the reboot", s.Count, got.Count)
	}
	n2.waitState(contract.FwVerifying)
	n2.waitExec()
	o, _ := n2.sender.Add("t-x", "v2", v2, 512)
	if sent := n2.sender.Sent("t-1"); sent > o.Blocks()-got.Count {
		t.Errorf("after the reboot %d blocks were sent, %d were missing", sent, o.Blocks()-got.Count)
	}
}

func TestUSBOnce(t *testing.T) {
	f := newFixture(t)
	stick := filepath.Join(t.TempDir(), "media")
	dir := filepath.Join(stick, "STICK", "linli-update")
	os.MkdirAll(dir, 0o755)
	b, _ := os.ReadFile(f.bundle("v2", 2, nil))
	os.WriteFile(filepath.Join(dir, "sensord-v2.bundle"), b, 0o644)
	opts := &device.Options{USBDirs: []string{filepath.Join(stick, "*", "linli-update")}, USBPoll: 20 * time.Millisecond}
	n := f.start("v1", opts)
	n.waitExec()
	if got := f.running(); got != "v2" {
		t.Fatalf("current is %s", got)
	}
	n.stop()
	n2 := f.start("v2", opts)
	n2.waitState(contract.FwTrial)
	n2.d.Healthy()
	n2.waitState(contract.FwCommitted)
	// The stick is still in: nothing happens.
	if n2.d.ScanUSB(context.Background()) {
		t.Error("the same stick installed again")
	}
	select {
	case e := <-n2.execs:
		t.Errorf("restarted: %s", e)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestLANPush(t *testing.T) {
	f := newFixture(t)
	n := f.start("v1", &device.Options{Token: "s3cret"})
	srv := httptest.NewServer(n.d.Handler())
	defer srv.Close()
	post := func(path, token string) (int, device.PushResult) {
		b, _ := os.ReadFile(path)
		req, _ := http.NewRequest("POST", srv.URL+"/update", bytes.NewReader(b))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r device.PushResult
		json.NewDecoder(resp.Body).Decode(&r)
		return resp.StatusCode, r
	}
	v2 := f.bundle("v2", 2, nil)
	if code, _ := post(v2, "wrong"); code != http.StatusUnauthorized {
		t.Errorf("wrong token: %d", code)
	}
	if code, r := post(forge(t, v2), "s3cret"); code != http.StatusUnprocessableEntity || !strings.Contains(r.Error, "possible attack") {
		t.Errorf("forged: %d %+v", code, r)
	}
	if code, r := post(v2, "s3cret"); code != http.StatusOK || !r.OK || r.Version != "v2" {
		t.Errorf("push: %d %+v", code, r)
	}
	if got := f.running(); got != "v2" {
		t.Errorf("current is %s", got)
	}
	// Handler does not restart by itself: Run's listener does (Options.Listen).
	if es, _ := os.ReadDir(filepath.Join(f.root, "incoming")); len(es) != 0 {
		t.Errorf("incoming still holds %v", es)
	}
}

// TestLANListen pushes through the listener Run starts, which restarts
// the program once the answer is sent.
func TestLANListen(t *testing.T) {
	f := newFixture(t)
	n := f.start("v1", &device.Options{Listen: "127.0.0.1:0"})
	var addr string
	for i := 0; addr == "" && i < 200; i++ {
		time.Sleep(10 * time.Millisecond)
		addr = n.d.LANAddr()
	}
	if addr == "" {
		t.Fatal("LAN endpoint not listening")
	}
	b, _ := os.ReadFile(f.bundle("v2", 2, nil))
	resp, err := http.Post("http://"+addr+"/update", "application/octet-stream", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var r device.PushResult
	json.NewDecoder(resp.Body).Decode(&r)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !r.Restarting {
		t.Fatalf("push: %d %+v", resp.StatusCode, r)
	}
	n.waitExec()
	if got := f.running(); got != "v2" {
		t.Errorf("current is %s", got)
	}
}

func TestDisabled(t *testing.T) {
	d, err := device.New(&device.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := d.Boot(); st != updater.Normal || err != nil {
		t.Fatalf("boot %v %v", st, err)
	}
	if d.Enabled() || d.Subscriptions() != nil {
		t.Error("disabled device has subscriptions")
	}
	ack := d.HandleCommand(context.Background(), &contract.Command{ID: "c1", Name: contract.CmdUpdate})
	if ack.OK || !strings.Contains(ack.Error, "disabled") {
		t.Errorf("ack %+v", ack)
	}
	if _, err := d.Install("x", "local"); !errors.Is(err, device.ErrDisabled) {
		t.Errorf("install: %v", err)
	}
	if err := d.Healthy(); err != nil {
		t.Error(err)
	}
}
