package transfer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"linli/mqtt/contract"
)

// DefaultBlockSize is the block size senders use: 16 KiB fits every broker
// and a Pi-class board's memory.
const DefaultBlockSize = 16 << 10

// MaxBlockSize bounds the block size a receiver accepts.
const MaxBlockSize = 256 << 10

// Errors.
var (
	// ErrHash means the assembled file's sha256 is not the offer's.
	ErrHash = errors.New("transfer: assembled file does not match the offered sha256")
	// ErrBlock means a block message is malformed or does not fit the transfer.
	ErrBlock = errors.New("transfer: bad block")
	// ErrStalled means MaxRetries windows went unanswered.
	ErrStalled = errors.New("transfer: sender stopped answering")
	// ErrOffer means an offer is malformed.
	ErrOffer = errors.New("transfer: bad offer")
)

var magic = []byte("LFW1")

// Offer describes a transfer. It travels as the args of an "update"
// command (contract.UpdateArg*).
type Offer struct {
	Transfer string `json:"transfer"`
	Version  string `json:"version"`
	// Security is the bundle's security version (its manifest's); 0 means
	// the offer does not say (offers made before it was carried).
	Security  uint64 `json:"security_version,omitempty"`
	Size      int64  `json:"size"`
	BlockSize int    `json:"block_size"`
	SHA256    string `json:"sha256"`
}

// Blocks is the number of blocks of the transfer.
func (o Offer) Blocks() int { return int((o.Size + int64(o.BlockSize) - 1) / int64(o.BlockSize)) }

// Args renders the offer as command arguments.
func (o Offer) Args() map[string]string {
	a := map[string]string{contract.UpdateArgTransfer: o.Transfer, contract.UpdateArgVersion: o.Version,
		contract.UpdateArgSize: strconv.FormatInt(o.Size, 10), contract.UpdateArgBlockSize: strconv.Itoa(o.BlockSize),
		contract.UpdateArgSHA256: o.SHA256}
	if o.Security != 0 {
		a[contract.UpdateArgSecurity] = strconv.FormatUint(o.Security, 10)
	}
	return a
}

// OfferFromArgs parses command arguments made by Args. A missing security
// version is 0 (the offer does not say).
func OfferFromArgs(a map[string]string) (Offer, error) {
	o := Offer{Transfer: a[contract.UpdateArgTransfer], Version: a[contract.UpdateArgVersion], SHA256: a[contract.UpdateArgSHA256]}
	var err1, err2, err3 error
	o.Size, err1 = strconv.ParseInt(a[contract.UpdateArgSize], 10, 64)
	o.BlockSize, err2 = strconv.Atoi(a[contract.UpdateArgBlockSize])
	if sec, ok := a[contract.UpdateArgSecurity]; ok {
		o.Security, err3 = strconv.ParseUint(sec, 10, 64)
	}
	switch {
	case err1 != nil || err2 != nil:
		return o, fmt.Errorf("%w: size %q, block_size %q", ErrOffer, a["size"], a["block_size"])
	case err3 != nil:
		return o, fmt.Errorf("%w: security_version %q", ErrOffer, a[contract.UpdateArgSecurity])
	case !contract.ValidID(o.Transfer):
		return o, fmt.Errorf("%w: transfer id %q", ErrOffer, o.Transfer)
	case o.Size <= 0 || o.Size > 1<<31:
		return o, fmt.Errorf("%w: size %d", ErrOffer, o.Size)
	case o.BlockSize < 512 || o.BlockSize > MaxBlockSize:
		return o, fmt.Errorf("%w: block size %d (want 512..%d)", ErrOffer, o.BlockSize, MaxBlockSize)
	case len(o.SHA256) != 64 || !lowerHex(o.SHA256):
		return o, fmt.Errorf("%w: sha256 %q (want 64 lower-case hex digits)", ErrOffer, o.SHA256)
	}
	return o, nil
}

// lowerHex reports whether s is lower-case hex, as verify compares it.
func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// EncodeBlock lays out a block message.
func EncodeBlock(transfer string, index uint32, data []byte) []byte {
	b := make([]byte, 0, len(magic)+2+len(transfer)+4+len(data))
	b = append(b, magic...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(transfer)))
	b = append(b, transfer...)
	b = binary.BigEndian.AppendUint32(b, index)
	return append(b, data...)
}

// DecodeBlock splits a block message.
func DecodeBlock(p []byte) (transfer string, index uint32, data []byte, err error) {
	if len(p) < len(magic)+2 || !bytes.Equal(p[:4], magic) {
		return "", 0, nil, fmt.Errorf("%w: no LFW1 header", ErrBlock)
	}
	n := int(binary.BigEndian.Uint16(p[4:]))
	if len(p) < 6+n+4 {
		return "", 0, nil, fmt.Errorf("%w: %d bytes, too short", ErrBlock, len(p))
	}
	return string(p[6 : 6+n]), binary.BigEndian.Uint32(p[6+n:]), p[10+n:], nil
}

// Sender serves blocks of the bundles it was given. Its methods are safe
// for concurrent use.
type Sender struct {
	publish func(ctx context.Context, topic string, payload []byte) error
	mu      sync.Mutex
	files   map[string]*os.File
	offers  map[string]Offer
	sent    map[string]int // blocks sent per transfer
}

// NewSender returns a Sender that publishes blocks with publish (QoS 1).
func NewSender(publish func(ctx context.Context, topic string, payload []byte) error) *Sender {
	return &Sender{publish: publish, files: map[string]*os.File{}, offers: map[string]Offer{}, sent: map[string]int{}}
}

// Add makes the bundle at path available as transfer id and returns its offer.
func (s *Sender) Add(id, version, path string, blockSize int) (Offer, error) {
	if blockSize == 0 {
		blockSize = DefaultBlockSize
	}
	f, err := os.Open(path)
	if err != nil {
		return Offer{}, fmt.Errorf("transfer: %w", err)
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		f.Close()
		return Offer{}, fmt.Errorf("transfer: %w", err)
	}
	o := Offer{Transfer: id, Version: version, Size: n, BlockSize: blockSize, SHA256: hex.EncodeToString(h.Sum(nil))}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.files[id]; old != nil {
		old.Close()
	}
	s.files[id], s.offers[id] = f, o
	return o, nil
}

// Sent returns how many blocks of transfer were sent, resends included.
func (s *Sender) Sent(transfer string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent[transfer]
}

// Close closes the bundle files.
func (s *Sender) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.files {
		f.Close()
	}
	s.files = map[string]*os.File{}
	return nil
}

// HandleRequest answers a FirmwareRequest by publishing the blocks asked for.
func (s *Sender) HandleRequest(ctx context.Context, req *contract.FirmwareRequest) error {
	s.mu.Lock()
	f, o := s.files[req.Transfer], s.offers[req.Transfer]
	s.mu.Unlock()
	if f == nil {
		return fmt.Errorf("transfer: %s asks for unknown transfer %q", req.Device, req.Transfer)
	}
	buf := make([]byte, o.BlockSize)
	for _, i := range req.Blocks {
		if int(i) >= o.Blocks() {
			return fmt.Errorf("%w: %s asks for block %d of %d", ErrBlock, req.Device, i, o.Blocks())
		}
		n, err := f.ReadAt(buf, int64(i)*int64(o.BlockSize))
		if err != nil && err != io.EOF {
			return fmt.Errorf("transfer: read block %d: %w", i, err)
		}
		if err := s.publish(ctx, contract.DeviceTopic(req.Device, "fw"), EncodeBlock(req.Transfer, i, buf[:n])); err != nil {
			return err
		}
		s.mu.Lock()
		s.sent[req.Transfer]++
		s.mu.Unlock()
	}
	return nil
}

// ReceiverOptions configures a Receiver.
type ReceiverOptions struct {
	Device string // this device's id; required
	Dir    string // where .part files go; required
	// Window is how many blocks may be asked for and not yet received.
	// More are asked for whenever half of them arrived, so the sender
	// never waits for a whole round trip. Default 64.
	Window int
	// SyncEvery is how many received blocks are written before the file is
	// fsync'd and the bitmap committed; blocks after the last commit are
	// asked for again after a crash. Default 16.
	SyncEvery int
	// Timeout is how long the transfer may go without a block before the
	// outstanding blocks are asked for again. Default 5 s.
	Timeout time.Duration
	// MaxRetries is how many timeouts in a row may pass with no block
	// before the transfer fails. Default 10.
	MaxRetries int
	// Request publishes a FirmwareRequest payload on DeviceTopic(Device, "fwreq").
	Request func(ctx context.Context, payload []byte) error
	// Progress, if set, is called on every state change and after every
	// commit of the bitmap (not for every block).
	Progress func(contract.FirmwareStatus)
	Logger   *slog.Logger
}

// Receiver assembles a transfer on the device. Run drives it; HandleBlock
// feeds it the blocks.
type Receiver struct {
	db   *bolt.DB
	opts ReceiverOptions
	log  *slog.Logger

	mu        sync.Mutex
	cur       *state // durable: what the bitmap in bbolt says
	got       []byte // in memory: every block written, synced or not
	received  int    // blocks in got
	unsynced  int    // blocks written since the last commit
	requested []bool // asked for and not yet received
	asked     int    // number of true entries in requested
	file      *os.File
	wake      chan struct{}
	retries   int
}

type state struct {
	Offer    Offer  `json:"offer"`
	Bitmap   []byte `json:"bitmap"`
	Received int    `json:"received"`
}

var bucket = []byte("transfer")

// NewReceiver returns a receiver keeping its bitmap in db. A transfer that
// was in progress before a restart resumes when Run starts.
func NewReceiver(db *bolt.DB, opts *ReceiverOptions) (*Receiver, error) {
	o := *opts
	if o.Device == "" || o.Dir == "" || o.Request == nil {
		return nil, errors.New("transfer: ReceiverOptions needs Device, Dir and Request")
	}
	if o.Window <= 0 {
		o.Window = 64
	}
	if o.SyncEvery <= 0 {
		o.SyncEvery = 16
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.MaxRetries <= 0 {
		o.MaxRetries = 10
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("transfer: %w", err)
	}
	r := &Receiver{db: db, opts: o, log: o.Logger.With("component", "transfer"), wake: make(chan struct{}, 1)}
	err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		if v := b.Get([]byte("current")); v != nil {
			var s state
			if err := json.Unmarshal(v, &s); err != nil || len(s.Bitmap) != (s.Offer.Blocks()+7)/8 {
				return b.Delete([]byte("current")) // unreadable: start over when offered again
			}
			r.cur = &s
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("transfer: open: %w", err)
	}
	if r.cur != nil {
		r.resetMemory()
		if err := r.openPart(); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// resetMemory makes the in-memory view the durable one; r.mu is held.
func (r *Receiver) resetMemory() {
	r.got = append([]byte(nil), r.cur.Bitmap...)
	r.received = r.cur.Received
	r.unsynced = 0
	r.requested = make([]bool, r.cur.Offer.Blocks())
	r.asked = 0
}

func (r *Receiver) partPath(o Offer) string { return filepath.Join(r.opts.Dir, o.Transfer+".part") }

func (r *Receiver) openPart() error {
	f, err := os.OpenFile(r.partPath(r.cur.Offer), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("transfer: %w", err)
	}
	r.file = f
	return nil
}

func (r *Receiver) save(tx *bolt.Tx) error {
	if r.cur == nil {
		return tx.Bucket(bucket).Delete([]byte("current"))
	}
	b, _ := json.Marshal(r.cur)
	return tx.Bucket(bucket).Put([]byte("current"), b)
}

// commit makes every written block durable: fsync the file, then record
// the bitmap. r.mu is held.
func (r *Receiver) commit() error {
	if r.unsynced == 0 {
		return nil
	}
	if err := r.file.Sync(); err != nil {
		return fmt.Errorf("transfer: sync: %w", err)
	}
	r.cur.Bitmap = append(r.cur.Bitmap[:0], r.got...)
	r.cur.Received = r.received
	if err := r.db.Update(r.save); err != nil {
		return fmt.Errorf("transfer: %w", err)
	}
	r.unsynced = 0
	r.report(contract.FwDownload, "")
	return nil
}

// Offer starts a transfer, or resumes it when it is the one in progress.
// A different transfer replaces the one in progress.
func (r *Receiver) Offer(o Offer) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur != nil && r.cur.Offer == o {
		// The sender offers again after a reconnect: ask for everything
		// outstanding again.
		r.requested = make([]bool, o.Blocks())
		r.asked = 0
		r.retries = 0
		r.poke()
		return nil
	}
	if r.file != nil {
		r.file.Close()
		os.Remove(r.partPath(r.cur.Offer))
	}
	r.cur = &state{Offer: o, Bitmap: make([]byte, (o.Blocks()+7)/8)}
	r.resetMemory()
	if err := r.openPart(); err != nil {
		r.cur = nil
		return err
	}
	if err := r.db.Update(r.save); err != nil {
		return fmt.Errorf("transfer: %w", err)
	}
	r.retries = 0
	r.report(contract.FwDownload, "")
	r.poke()
	return nil
}

func (r *Receiver) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *Receiver) report(st, msg string) {
	if r.opts.Progress == nil || r.cur == nil {
		return
	}
	r.opts.Progress(contract.FirmwareStatus{Device: r.opts.Device, Transfer: r.cur.Offer.Transfer, Version: r.cur.Offer.Version,
		State: st, Count: r.received, Of: r.cur.Offer.Blocks(), Error: msg})
}

func has(bm []byte, i int) bool { return bm[i/8]&(1<<(i%8)) != 0 }

// HandleBlock writes one block. Blocks of other transfers, duplicates and
// blocks that do not fit are ignored (the last with an error).
func (r *Receiver) HandleBlock(payload []byte) error {
	id, idx, data, err := DecodeBlock(payload)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur == nil || id != r.cur.Offer.Transfer {
		return nil
	}
	o := r.cur.Offer
	if idx >= uint32(o.Blocks()) { // before int(idx), negative on 32-bit boards
		return fmt.Errorf("%w: block %d of %d", ErrBlock, idx, o.Blocks())
	}
	i := int(idx)
	want := o.BlockSize
	if i == o.Blocks()-1 {
		want = int(o.Size - int64(i)*int64(o.BlockSize))
	}
	if len(data) != want {
		return fmt.Errorf("%w: block %d has %d bytes, want %d", ErrBlock, i, len(data), want)
	}
	if has(r.got, i) {
		return nil
	}
	if _, err := r.file.WriteAt(data, int64(i)*int64(o.BlockSize)); err != nil {
		return fmt.Errorf("transfer: write block %d: %w", i, err)
	}
	r.got[i/8] |= 1 << (i % 8)
	r.received++
	r.unsynced++
	if r.requested[i] {
		r.requested[i] = false
		r.asked--
	}
	r.retries = 0
	if r.unsynced >= r.opts.SyncEvery || r.received == o.Blocks() {
		if err := r.commit(); err != nil {
			return err
		}
	}
	r.poke()
	return nil
}

// nextAsk returns up to n missing blocks that are not asked for yet and
// marks them asked; r.mu is held.
func (r *Receiver) nextAsk(n int) []uint32 {
	var out []uint32
	for i := 0; i < r.cur.Offer.Blocks() && len(out) < n; i++ {
		if !has(r.got, i) && !r.requested[i] {
			r.requested[i] = true
			r.asked++
			out = append(out, uint32(i))
		}
	}
	return out
}

// Run asks for missing blocks until the transfer in progress is complete
// and verified, and returns the path of the assembled file and its offer
// (the caller installs it and then calls Finish). It returns ctx.Err() when
// ctx is done, ErrStalled or ErrHash when the transfer failed (after which
// a new Offer starts it over).
func (r *Receiver) Run(ctx context.Context) (string, Offer, error) {
	timer := time.NewTimer(r.opts.Timeout)
	defer timer.Stop()
	for {
		r.mu.Lock()
		if r.cur == nil {
			r.mu.Unlock()
			select {
			case <-ctx.Done():
				return "", Offer{}, ctx.Err()
			case <-r.wake:
				continue
			}
		}
		if r.received == r.cur.Offer.Blocks() {
			path, o, err := r.verify()
			r.mu.Unlock()
			return path, o, err
		}
		var ask []uint32
		if r.asked <= r.opts.Window/2 {
			ask = r.nextAsk(r.opts.Window - r.asked)
		}
		transfer := r.cur.Offer.Transfer
		r.mu.Unlock()
		if len(ask) > 0 {
			p := contract.MustEncode(&contract.FirmwareRequest{Device: r.opts.Device, Transfer: transfer, Blocks: ask})
			if err := r.opts.Request(ctx, p); err != nil {
				r.log.Warn("firmware block request failed", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			r.mu.Lock()
			if r.cur != nil {
				if err := r.commit(); err != nil {
					r.log.Warn("firmware progress not saved", "err", err)
				}
			}
			r.mu.Unlock()
			return "", Offer{}, ctx.Err()
		case <-r.wake:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
			timer.Reset(r.opts.Timeout)
		case <-timer.C:
			// No block for a whole Timeout: keep what arrived, and ask
			// for everything outstanding again.
			r.mu.Lock()
			r.retries++
			if r.retries > r.opts.MaxRetries {
				err := fmt.Errorf("%w: %d timeouts of %s with no block", ErrStalled, r.retries-1, r.opts.Timeout)
				r.report(contract.FwFailed, err.Error())
				r.mu.Unlock()
				return "", Offer{}, err
			}
			if r.cur != nil {
				if err := r.commit(); err != nil {
					r.log.Warn("firmware progress not saved", "err", err)
				}
				r.requested = make([]bool, r.cur.Offer.Blocks())
				r.asked = 0
			}
			r.mu.Unlock()
			timer.Reset(r.opts.Timeout)
		}
	}
}

// verify re-hashes the whole assembled file; r.mu is held.
func (r *Receiver) verify() (string, Offer, error) {
	o := r.cur.Offer
	r.report(contract.FwVerifying, "")
	if _, err := r.file.Seek(0, io.SeekStart); err != nil {
		return "", o, err
	}
	h := sha256.New()
	n, err := io.Copy(h, r.file)
	if err != nil {
		return "", o, fmt.Errorf("transfer: verify: %w", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); n != o.Size || got != o.SHA256 {
		err := fmt.Errorf("%w: %d bytes with sha256 %s, offered %d bytes with %s", ErrHash, n, got, o.Size, o.SHA256)
		r.report(contract.FwFailed, err.Error())
		r.reset()
		return "", o, err
	}
	return r.partPath(o), o, nil
}

// reset forgets the transfer in progress; r.mu is held.
func (r *Receiver) reset() {
	if r.file != nil {
		r.file.Close()
		r.file = nil
	}
	if r.cur != nil {
		os.Remove(r.partPath(r.cur.Offer))
	}
	r.cur = nil
	if err := r.db.Update(r.save); err != nil {
		r.log.Warn("firmware transfer state not cleared", "err", err)
	}
}

// Finish forgets the finished transfer and removes its file; call it once
// the file was installed (or refused).
func (r *Receiver) Finish() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reset()
}

// Status returns the transfer in progress, if any.
func (r *Receiver) Status() (contract.FirmwareStatus, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur == nil {
		return contract.FirmwareStatus{}, false
	}
	return contract.FirmwareStatus{Device: r.opts.Device, Transfer: r.cur.Offer.Transfer, Version: r.cur.Offer.Version,
		State: contract.FwDownload, Count: r.received, Of: r.cur.Offer.Blocks()}, true
}
