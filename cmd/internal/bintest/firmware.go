package bintest

import (
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"linli/firmware/bundle"
	"linli/firmware/updater"
)

// Signer makes firmware bundles of one program, signed with a key of its
// own, as a release manager would.
type Signer struct {
	t       testing.TB
	dir     string
	program string
	priv    ed25519.PrivateKey

	PublicPEM []byte              // the root key file's contents
	Keys      []ed25519.PublicKey // the parsed root keys
}

// NewSigner generates a key pair for bundles of program (the file name in
// the bundle, "sensord" or "kiosk") written into dir.
func NewSigner(t testing.TB, dir, program string) *Signer {
	t.Helper()
	privPEM, pubPEM, err := bundle.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	priv, err := bundle.ParsePrivateKey(privPEM)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := bundle.ParsePublicKeys(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	return &Signer{t: t, dir: dir, program: program, priv: priv, PublicPEM: pubPEM, Keys: keys}
}

// Bundle writes a bundle of bin as version with security for target
// ("" = this machine) and returns its path.
func (s *Signer) Bundle(version string, security uint64, bin, target string) string {
	s.t.Helper()
	if target == "" {
		target = updater.DefaultTarget()
	}
	path := filepath.Join(s.dir, fmt.Sprintf("%s-%d-%s.bundle", version, security, strings.ReplaceAll(target, "/", "_")))
	f, err := os.Create(path)
	if err != nil {
		s.t.Fatal(err)
	}
	defer f.Close()
	m := bundle.Manifest{Product: "linli", Version: version, Security: security, Target: target, Created: time.Unix(1.8e9, 0)}
	if err := bundle.Create(f, m, []bundle.Source{{Name: s.program, Path: bin, Mode: 0o755}}, s.priv); err != nil {
		s.t.Fatal(err)
	}
	return path
}

// WriteKeys writes the root key file to path, making its directory.
func (s *Signer) WriteKeys(path string) {
	s.t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(path, s.PublicPEM, 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// Ship installs bundle into the update root and commits it: a device as
// it leaves the workshop.
func (s *Signer) Ship(root, bundle string) {
	s.t.Helper()
	u, err := updater.Open(&updater.Options{Root: root, Roots: s.Keys})
	if err != nil {
		s.t.Fatal(err)
	}
	defer u.Close()
	if _, err := u.Install(bundle); err != nil {
		s.t.Fatal(err)
	}
	if err := u.Commit(); err != nil {
		s.t.Fatal(err)
	}
}
