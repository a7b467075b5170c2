package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKeysAndBundle makes a key, signs a bundle and verifies it, all
// offline (no broker is needed: the URL is never dialled).
func TestKeysAndBundle(t *testing.T) {
	dir := t.TempDir()
	const url = "tcp://127.0.0.1:1"
	if r := gridctl(t, url, "keys", "generate", "--out", dir); r.code != 0 || !strings.Contains(r.stdout, "key id") {
		t.Fatalf("keys generate = %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := gridctl(t, url, "keys", "generate", "--out", dir); r.code != 1 || !strings.Contains(r.stderr, "exists") {
		t.Errorf("second keys generate must refuse to overwrite: %d %q", r.code, r.stderr)
	}
	fw := filepath.Join(dir, "sensord")
	os.WriteFile(fw, []byte("firmware"), 0o755)
	b := filepath.Join(dir, "fw.bundle")
	key, pub := filepath.Join(dir, "linli-release.key"), filepath.Join(dir, "linli-release.pub")
	if r := gridctl(t, url, "bundle", "create", "--key", key, "--out", b, "--version", "v2", "--security", "2",
		"--target", "linux/arm/7", "--epoch", "1764201600", "sensord="+fw+":755"); r.code != 0 {
		t.Fatalf("bundle create = %d %q", r.code, r.stderr)
	}
	if r := gridctl(t, url, "bundle", "verify", "--roots", pub, "--target", "linux/arm/7", b); r.code != 0 || !strings.HasPrefix(r.stdout, "OK  linli v2") {
		t.Errorf("bundle verify = %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := gridctl(t, url, "bundle", "verify", "--roots", pub, "--target", "linux/arm64", b); r.code != 1 || !strings.Contains(r.stderr, "another target") {
		t.Errorf("verify for the wrong target = %d %q", r.code, r.stderr)
	}
	// A failed create leaves neither the bundle nor its temporary file.
	before, _ := os.ReadDir(dir)
	if r := gridctl(t, url, "bundle", "create", "--key", key, "--out", filepath.Join(dir, "bad.bundle"), "--version", "v3",
		"--security", "3", "--target", "linux/arm/7", "sensord="+filepath.Join(dir, "missing")); r.code != 1 {
		t.Errorf("bundle create of a missing file = %d %q, want 1", r.code, r.stderr)
	}
	if after, _ := os.ReadDir(dir); len(after) != len(before) {
		t.Errorf("a failed bundle create left files: %d entries before, %d after", len(before), len(after))
	}
	if r := gridctl(t, url, "bundle", "create", "--key", key); r.code != 2 {
		t.Errorf("bundle create without files = %d, want usage (2)", r.code)
	}
}
