package bundle

import (
	"bytes"
	"compress/gzip"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fuzzBundles makes two small bundles signed with a fixed key (fuzz
// workers are separate processes, so the key must not be random), and
// returns them with their manifests and file contents.
func fuzzBundles(tb testing.TB) (pub ed25519.PublicKey, bundles [][]byte, manifests map[string]bool, contents map[string][]byte) {
	tb.Helper()
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	pub = priv.Public().(ed25519.PublicKey)
	dir := tb.TempDir()
	contents = map[string][]byte{
		"sensord":          bytes.Repeat([]byte("\x7fELF fw "), 40),
		"etc/sensord.json": []byte(`{"device":"mb-0001"}`),
		"etc/a/b/deep":     []byte("deep"),
	}
	var srcs []Source
	for _, name := range []string{"sensord", "etc/sensord.json", "etc/a/b/deep"} {
		p := filepath.Join(dir, strings.ReplaceAll(name, "/", "_"))
		if err := os.WriteFile(p, contents[name], 0o644); err != nil {
			tb.Fatal(err)
		}
		mode := uint32(0o644)
		if name == "sensord" {
			mode = 0o755
		}
		srcs = append(srcs, Source{Name: name, Path: p, Mode: mode})
	}
	manifests = map[string]bool{}
	for _, files := range [][]Source{srcs, srcs[1:2]} {
		b, err := Bytes(manifest(3, "linux/arm/7"), files, priv)
		if err != nil {
			tb.Fatal(err)
		}
		m, err := ReadManifest(bytes.NewReader(b), Policy{Roots: []ed25519.PublicKey{pub}})
		if err != nil {
			tb.Fatal(err)
		}
		mj, _ := json.Marshal(m)
		manifests[string(mj)] = true
		bundles = append(bundles, b)
	}
	return pub, bundles, manifests, contents
}

func gunzip(tb testing.TB, b []byte) []byte {
	tb.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		tb.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

var bundleErrs = []error{ErrBadSignature, ErrUnknownKey, ErrWrongTarget, ErrRollback, ErrTruncated, ErrHash, ErrFormat}

func isBundleErr(err error) bool {
	for _, s := range bundleErrs {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// FuzzVerify feeds Verify and ReadManifest arbitrary bundles: gzip streams
// as they come (raw), or tar streams the harness compresses, so that the
// fuzzer reaches the tar and manifest checks. It checks that they never
// panic; that they refuse with one of the package's errors; that nothing
// is ever written outside dst, and dst is gone after a refusal; and that
// what they accept is one of the manifests the key signed, whose files
// are extracted with exactly their signed content and nothing else.
//
// The seeds are two real bundles, whole and as tar, and tar streams with
// a changed manifest, a changed file and a changed signature.
func FuzzVerify(f *testing.F) {
	pub, bundles, manifests, contents := fuzzBundles(f)
	for _, b := range bundles {
		f.Add(b, true)
		tb := gunzip(f, b)
		f.Add(tb, false)
		f.Add(bytes.Replace(tb, []byte(`"security_version": 3`), []byte(`"security_version": 9`), 1), false)
		f.Add(bytes.Replace(tb, []byte(`mb-0001`), []byte(`mb-0002`), 1), false)
		f.Add(bytes.Replace(tb, []byte(`"key_id":"`), []byte(`"key_id":"x`), 1), false)
		f.Add(bytes.Replace(tb, []byte("files/etc/sensord.json"), []byte("files/../sensord.json!"), 1), false)
		f.Add(tb[:len(tb)/2], false)
	}
	f.Add([]byte{}, true)
	f.Add([]byte("\x1f\x8b\x08\x00\x00\x00\x00\x00"), true)

	policy := Policy{Roots: []ed25519.PublicKey{pub}, Target: "linux/arm/7", MinSecurity: 3}
	// Extract to a tmpfs where there is one: Verify fsyncs every file
	// and folder, which on a disk costs the fuzzer most of its speed.
	base, err := os.MkdirTemp("/dev/shm", "bundlefuzz")
	if err != nil {
		base = f.TempDir()
	} else {
		f.Cleanup(func() { os.RemoveAll(base) })
	}
	f.Fuzz(func(t *testing.T, data []byte, raw bool) {
		hang := time.AfterFunc(10*time.Second, func() { panic("FuzzVerify: one input took over 10 s") })
		defer hang.Stop()
		if !raw {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write(data)
			zw.Close()
			data = buf.Bytes()
		}
		check := func(what string, m *Manifest, err error) {
			t.Helper()
			if err != nil {
				if m != nil {
					t.Fatalf("%s returned a manifest with error %v", what, err)
				}
				if !isBundleErr(err) && !strings.HasPrefix(err.Error(), "bundle: extract: ") {
					t.Fatalf("%s error %v wraps none of the package's errors", what, err)
				}
				return
			}
			mj, _ := json.Marshal(m)
			if !manifests[string(mj)] {
				t.Fatalf("%s accepted a manifest nobody signed: %s", what, mj)
			}
		}
		m, err := ReadManifest(bytes.NewReader(data), policy)
		check("ReadManifest", m, err)
		m, err = Verify(bytes.NewReader(data), policy, "")
		check("Verify without dst", m, err)

		root, err := os.MkdirTemp(base, "v")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(root)
		dst := filepath.Join(root, "slot")
		m, err = Verify(bytes.NewReader(data), policy, dst)
		check("Verify", m, err)
		ents, _ := os.ReadDir(root)
		if err != nil {
			if len(ents) != 0 {
				t.Fatalf("Verify refused (%v) but left %d entries (first %q) in dst's parent", err, len(ents), ents[0].Name())
			}
			return
		}
		if len(ents) != 1 || ents[0].Name() != "slot" {
			t.Fatalf("Verify wrote %d entries beside dst", len(ents))
		}
		want := map[string]bool{}
		for _, fl := range m.Files {
			want[fl.Name] = true
		}
		filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(dst, p)
			rel = filepath.ToSlash(rel)
			got, _ := os.ReadFile(p)
			if !want[rel] || !bytes.Equal(got, contents[rel]) || !d.Type().IsRegular() {
				t.Fatalf("Verify extracted %q (%d bytes, %v), not a file of the signed manifest", rel, len(got), d.Type())
			}
			delete(want, rel)
			return nil
		})
		if len(want) != 0 {
			t.Fatalf("Verify accepted but did not extract %v", want)
		}
	})
}

// TestFuzzSeedsVerify makes sure the harness can tell acceptance: the
// unchanged seed bundles pass it and extract.
func TestFuzzSeedsVerify(t *testing.T) {
	pub, bundles, _, contents := fuzzBundles(t)
	dst := filepath.Join(t.TempDir(), "slot")
	if _, err := Verify(bytes.NewReader(bundles[0]), Policy{Roots: []ed25519.PublicKey{pub}, Target: "linux/arm/7", MinSecurity: 3}, dst); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dst, "etc", "a", "b", "deep"))
	if err != nil || !bytes.Equal(got, contents["etc/a/b/deep"]) {
		t.Fatalf("deep file = %q, %v", got, err)
	}
}
