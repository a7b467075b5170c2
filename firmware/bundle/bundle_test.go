package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/ed25519"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

type keypair struct {
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
}

func newKey(t *testing.T) keypair {
	t.Helper()
	privPEM, pubPEM, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	priv, err := ParsePrivateKey(privPEM)
	if err != nil {
		t.Fatal(err)
	}
	pubs, err := ParsePublicKeys(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	return keypair{priv, pubs[0]}
}

func sources(t *testing.T) []Source {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "sensord")
	if err := os.WriteFile(bin, bytes.Repeat([]byte("\x7fELF firmware "), 5000), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "sensord.json")
	if err := os.WriteFile(cfg, []byte(`{"device":"mb-0001"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return []Source{{Name: "sensord", Path: bin, Mode: 0o755}, {Name: "etc/sensord.json", Path: cfg}}
}

var created = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)

func manifest(security uint64, target string) Manifest {
	return Manifest{Product: "linli", Version: "v1.2.0", Security: security, Target: target, Created: created}
}

func TestVerifyGood(t *testing.T) {
	k := newKey(t)
	b, err := Bytes(manifest(3, "linux/arm/7"), sources(t), k.priv)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "slot")
	m, err := Verify(bytes.NewReader(b), Policy{Roots: []ed25519.PublicKey{k.pub}, Target: "linux/arm/7", MinSecurity: 3}, dst)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got, want := m.Version, "v1.2.0"; got != want {
		t.Errorf("version = %q, want %q", got, want)
	}
	got, err := os.ReadFile(filepath.Join(dst, "etc", "sensord.json"))
	if err != nil || string(got) != `{"device":"mb-0001"}` {
		t.Errorf("extracted config = %q, %v", got, err)
	}
	fi, err := os.Stat(filepath.Join(dst, "sensord"))
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("extracted binary mode = %v, %v; want 0755", fi.Mode(), err)
	}
}

func TestReproducible(t *testing.T) {
	k := newKey(t)
	src := sources(t)
	a, err := Bytes(manifest(1, "linux/arm64"), src, k.priv)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Bytes(manifest(1, "linux/arm64"), src, k.priv)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("two bundles of the same inputs differ")
	}
}

// retar rewrites a bundle, letting edit change each entry's content.
func retar(t *testing.T, b []byte, edit func(name string, data []byte) []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	tw := tar.NewWriter(zw)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		data = edit(hdr.Name, data)
		hdr.Size = int64(len(data))
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	tw.Close()
	zw.Close()
	return out.Bytes()
}

func TestRefusals(t *testing.T) {
	k := newKey(t)
	other := newKey(t)
	src := sources(t)
	good, err := Bytes(manifest(5, "linux/arm/7"), src, k.priv)
	if err != nil {
		t.Fatal(err)
	}
	byOther, err := Bytes(manifest(5, "linux/arm/7"), src, other.priv)
	if err != nil {
		t.Fatal(err)
	}
	flipManifest := retar(t, good, func(name string, d []byte) []byte {
		if name == "manifest.json" {
			d = bytes.Replace(d, []byte("v1.2.0"), []byte("v1.2.1"), 1)
		}
		return d
	})
	flipFile := retar(t, good, func(name string, d []byte) []byte {
		if name == "files/sensord" {
			d = append([]byte(nil), d...)
			d[100] ^= 0x01
		}
		return d
	})
	flipBit := append([]byte(nil), good...)
	flipBit[len(flipBit)/2] ^= 0x10
	roots := []ed25519.PublicKey{k.pub}
	for _, tc := range []struct {
		name   string
		bundle []byte
		policy Policy
		want   error
	}{
		{"unknown key", byOther, Policy{Roots: roots}, ErrUnknownKey},
		{"bad signature", flipManifest, Policy{Roots: roots}, ErrBadSignature},
		{"wrong target", good, Policy{Roots: roots, Target: "linux/arm64"}, ErrWrongTarget},
		{"older security version", good, Policy{Roots: roots, MinSecurity: 6}, ErrRollback},
		{"truncated", good[:len(good)*2/3], Policy{Roots: roots}, ErrTruncated},
		{"flipped bit in a file", flipFile, Policy{Roots: roots}, ErrHash},
		{"empty", nil, Policy{Roots: roots}, ErrTruncated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "slot")
			_, err := Verify(bytes.NewReader(tc.bundle), tc.policy, dst)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
			if _, err := os.Stat(dst); !os.IsNotExist(err) {
				t.Errorf("refused bundle left %s behind", dst)
			}
		})
	}
	// A flipped bit anywhere in the compressed stream must be refused,
	// whichever layer notices it first.
	if _, err := Verify(bytes.NewReader(flipBit), Policy{Roots: roots}, ""); err == nil {
		t.Error("Verify accepted a bundle with a flipped bit")
	}
}
