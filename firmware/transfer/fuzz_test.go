package transfer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// FuzzDecodeBlock checks that DecodeBlock never panics, that it refuses
// only with ErrBlock, and that what it accepts is exactly what EncodeBlock
// lays out: encoding the parts again gives the same bytes.
func FuzzDecodeBlock(f *testing.F) {
	f.Add(EncodeBlock("t1", 0, []byte("hello")))
	f.Add(EncodeBlock("t1", 0xffffffff, bytes.Repeat([]byte{0xaa}, 512)))
	f.Add(EncodeBlock("", 7, nil))
	f.Add([]byte("LFW1"))
	f.Add([]byte("LFW1\xff\xff"))
	f.Add([]byte("LFW0\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, p []byte) {
		id, idx, data, err := DecodeBlock(p)
		if err != nil {
			if !errors.Is(err, ErrBlock) {
				t.Fatalf("DecodeBlock(%q) error %v does not wrap ErrBlock", p, err)
			}
			return
		}
		if got := EncodeBlock(id, idx, data); !bytes.Equal(got, p) {
			t.Fatalf("DecodeBlock(%q) = %q, %d, %q; encodes again as %q", p, id, idx, data, got)
		}
	})
}

// FuzzOfferFromArgs checks that OfferFromArgs never panics, refuses only
// with ErrOffer, and that an offer it accepts is within the bounds a
// receiver relies on and survives Args.
func FuzzOfferFromArgs(f *testing.F) {
	sum := hex.EncodeToString(make([]byte, 32))
	f.Add("t1", "v2", "307217", "16384", sum)
	f.Add("t1", "v2", "1", "512", sum)
	f.Add("t1", "v2", "2147483648", "512", sum)
	f.Add("t1", "", "0x10", "16384", sum)
	f.Add("a/b", "v2", "100", "16384", sum)
	f.Add("..", "v2", "100", "262144", sum)
	f.Add("t1", "v2", "100", "16384", "zz"+sum[2:])
	f.Add("t1", "v2", "100", "16384", "AB"+sum[2:])
	f.Fuzz(func(t *testing.T, transfer, version, size, blockSize, sha string) {
		args := map[string]string{"transfer": transfer, "version": version, "size": size, "block_size": blockSize, "sha256": sha}
		o, err := OfferFromArgs(args)
		if err != nil {
			if !errors.Is(err, ErrOffer) {
				t.Fatalf("OfferFromArgs(%q) error %v does not wrap ErrOffer", args, err)
			}
			return
		}
		if o.Size <= 0 || o.Size > 1<<31 || o.BlockSize < 512 || o.BlockSize > MaxBlockSize {
			t.Fatalf("OfferFromArgs(%q) accepted size %d, block size %d", args, o.Size, o.BlockSize)
		}
		if n := o.Blocks(); n <= 0 || n > (1<<31)/512 {
			t.Fatalf("OfferFromArgs(%q): %d blocks", args, n)
		}
		if _, err := hex.DecodeString(o.SHA256); err != nil || len(o.SHA256) != 64 || strings.ToLower(o.SHA256) != o.SHA256 {
			t.Fatalf("OfferFromArgs(%q) accepted sha256 %q, which no file can match", args, o.SHA256)
		}
		if d := filepath.Base(filepath.Join("/x", o.Transfer+".part")); d != o.Transfer+".part" {
			t.Fatalf("OfferFromArgs(%q): transfer id %q escapes the .part folder", args, o.Transfer)
		}
		o2, err := OfferFromArgs(o.Args())
		if err != nil || o2 != o {
			t.Fatalf("OfferFromArgs(Args()) = %+v, %v; want %+v", o2, err, o)
		}
	})
}

// fuzzImage is the transfer FuzzHandleBlock offers: three blocks of 512
// bytes and a short fourth.
var fuzzImage = func() []byte {
	b := make([]byte, 3*512+100)
	for i := range b {
		b[i] = byte(i*7 + i/512)
	}
	return b
}()

func fuzzOffer() Offer {
	sum := sha256.Sum256(fuzzImage)
	return Offer{Transfer: "fz", Version: "v9", Size: int64(len(fuzzImage)), BlockSize: 512, SHA256: hex.EncodeToString(sum[:])}
}

// FuzzHandleBlock feeds a receiver in the middle of a transfer one
// arbitrary block message. It must never panic, and must never count a
// block it did not write: after a block is taken, the .part file holds
// exactly the message's data at the block's place, and Status counts one
// more block; anything else leaves the count alone.
//
// The fuzzer sees the first block already received, so duplicates are
// reachable too.
func FuzzHandleBlock(f *testing.F) {
	o := fuzzOffer()
	for i := range o.Blocks() {
		end := min((i+1)*512, len(fuzzImage))
		f.Add(EncodeBlock(o.Transfer, uint32(i), fuzzImage[i*512:end]))
	}
	f.Add(EncodeBlock(o.Transfer, 3, fuzzImage[:512]))          // last block too long
	f.Add(EncodeBlock(o.Transfer, 4, fuzzImage[:100]))          // past the end
	f.Add(EncodeBlock(o.Transfer, 0xffffffff, fuzzImage[:512])) // int(index) < 0 on 32-bit
	f.Add(EncodeBlock(o.Transfer, 0x80000000, fuzzImage[:512])) // likewise
	f.Add(EncodeBlock(o.Transfer, 0xfffffff8, fuzzImage[:512])) // likewise
	f.Add(EncodeBlock("other", 1, fuzzImage[512:1024]))         // another transfer
	f.Add([]byte("LFW1\x00\x02fz"))                             // truncated header

	dir := f.TempDir()
	db, err := bolt.Open(filepath.Join(dir, "dev.db"), 0o600, &bolt.Options{Timeout: time.Second, NoSync: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	noRequest := func(context.Context, []byte) error { return nil }

	f.Fuzz(func(t *testing.T, p []byte) {
		r, err := NewReceiver(db, &ReceiverOptions{Device: "mb-0001", Dir: dir, Request: noRequest, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Finish()
		if err := r.Offer(o); err != nil {
			t.Fatal(err)
		}
		if err := r.HandleBlock(EncodeBlock(o.Transfer, 0, fuzzImage[:512])); err != nil {
			t.Fatal(err)
		}
		part := filepath.Join(dir, o.Transfer+".part")
		before, err := os.ReadFile(part)
		if err != nil {
			t.Fatal(err)
		}

		herr := r.HandleBlock(p)

		st, ok := r.Status()
		if !ok {
			t.Fatalf("HandleBlock(%q) ended the transfer", p)
		}
		after, err := os.ReadFile(part)
		if err != nil {
			t.Fatal(err)
		}
		id, idx, data, derr := DecodeBlock(p)
		valid := derr == nil && id == o.Transfer && int64(idx) < int64(o.Blocks()) &&
			len(data) == min(512, len(fuzzImage)-int(idx)*512)
		switch {
		case st.Count != 1 && st.Count != 2:
			t.Fatalf("HandleBlock(%q): %d blocks received, want 1 or 2", p, st.Count)
		case st.Count == 2 && (herr != nil || !valid || idx == 0):
			t.Fatalf("HandleBlock(%q) = %v counted a block it should not have", p, herr)
		case st.Count == 2:
			off := int(idx) * 512
			if len(after) < off+len(data) || !bytes.Equal(after[off:off+len(data)], data) || !bytes.Equal(after[:512], before[:512]) {
				t.Fatalf("HandleBlock(%q) counted block %d but the file does not hold its data", p, idx)
			}
		case !bytes.Equal(after, before):
			t.Fatalf("HandleBlock(%q) = %v changed the file without counting a block", p, herr)
		case valid && idx != 0:
			t.Fatalf("HandleBlock(%q) = %v refused a good block %d", p, herr, idx)
		}
		if herr != nil && !errors.Is(herr, ErrBlock) {
			t.Fatalf("HandleBlock(%q) error %v does not wrap ErrBlock", p, herr)
		}
	})
}
