package bundle_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"linli/firmware/bundle"
)

func Example() {
	privPEM, pubPEM, _ := bundle.GenerateKey()
	priv, _ := bundle.ParsePrivateKey(privPEM)
	roots, _ := bundle.ParsePublicKeys(pubPEM)

	dir, _ := os.MkdirTemp("", "bundle")
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "sensord")
	os.WriteFile(bin, []byte("firmware"), 0o755)

	m := bundle.Manifest{Product: "linli", Version: "v1.0.0", Security: 1, Target: "linux/arm64",
		Created: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)}
	var buf bytes.Buffer
	if err := bundle.Create(&buf, m, []bundle.Source{{Name: "sensord", Path: bin, Mode: 0o755}}, priv); err != nil {
		fmt.Println(err)
		return
	}
	b := buf.Bytes()
	got, err := bundle.Verify(bytes.NewReader(b), bundle.Policy{Roots: roots, Target: "linux/arm64"}, filepath.Join(dir, "slot"))
	fmt.Println(got.Version, got.Files[0].Name, err)

	_, err = bundle.Verify(bytes.NewReader(b), bundle.Policy{Roots: []ed25519.PublicKey{make(ed25519.PublicKey, 32)}}, "")
	fmt.Println(errors.Is(err, bundle.ErrUnknownKey))
	// Output:
	// v1.0.0 sensord <nil>
	// true
}
