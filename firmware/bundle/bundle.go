package bundle

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Refusals of Verify. Each is wrapped with the detail.
var (
	// ErrBadSignature means the manifest's signature does not verify
	// against the key it names: the bundle was altered or forged.
	ErrBadSignature = errors.New("bundle: bad signature — possible attack")
	// ErrUnknownKey means the manifest is signed by a key that is not among
	// the device's root keys.
	ErrUnknownKey = errors.New("bundle: signed by an unknown key — possible attack")
	// ErrWrongTarget means the bundle is built for another architecture.
	ErrWrongTarget = errors.New("bundle: built for another target")
	// ErrRollback means the bundle's security version is lower than one the
	// device has already accepted.
	ErrRollback = errors.New("bundle: older security version (anti-rollback)")
	// ErrTruncated means the bundle ends early.
	ErrTruncated = errors.New("bundle: truncated")
	// ErrHash means a file's size or sha256 differs from the manifest.
	ErrHash = errors.New("bundle: file does not match its manifest hash — possible attack")
	// ErrFormat means the archive is not laid out as a bundle.
	ErrFormat = errors.New("bundle: malformed bundle")
)

// Manifest describes a bundle. It is signed as the exact bytes stored.
type Manifest struct {
	Product string `json:"product"`
	Version string `json:"version"`
	// Security is the monotonically increasing security version: a device
	// refuses any bundle whose Security is below the highest it accepted.
	Security uint64    `json:"security_version"`
	Target   string    `json:"target"` // e.g. "linux/arm/7", "linux/arm64", "linux/amd64"
	Created  time.Time `json:"created"`
	Files    []File    `json:"files"`
}

// File is one file of a bundle.
type File struct {
	Name   string `json:"name"` // a plain name or a relative slash path, e.g. "sensord", "etc/sensord.json"
	Size   int64  `json:"size"`
	Mode   uint32 `json:"mode"` // permission bits, e.g. 0o755
	SHA256 string `json:"sha256"`
}

type signature struct {
	KeyID string `json:"key_id"`
	Sig   []byte `json:"sig"`
}

// Source is a file to put into a bundle.
type Source struct {
	Name string // name inside the bundle
	Path string // where to read it
	Mode uint32 // 0 means 0o644
}

// Create writes a signed bundle of files to w. m's Files are filled in
// from files; the rest of m is taken as given (set Created from
// SOURCE_DATE_EPOCH for reproducible bundles).
func Create(w io.Writer, m Manifest, files []Source, key ed25519.PrivateKey) error {
	m.Files = nil
	for _, f := range files {
		if err := checkName(f.Name); err != nil {
			return err
		}
		b, err := os.ReadFile(f.Path)
		if err != nil {
			return fmt.Errorf("bundle: create: %w", err)
		}
		sum := sha256.Sum256(b)
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
		}
		m.Files = append(m.Files, File{Name: f.Name, Size: int64(len(b)), Mode: mode, SHA256: hex.EncodeToString(sum[:])})
	}
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("bundle: create: %w", err)
	}
	pub := key.Public().(ed25519.PublicKey)
	sb, err := json.Marshal(signature{KeyID: KeyID(pub), Sig: ed25519.Sign(key, mb)})
	if err != nil {
		return fmt.Errorf("bundle: create: %w", err)
	}
	zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(zw)
	mtime := m.Created.UTC().Truncate(time.Second)
	add := func(name string, mode uint32, data []byte) error {
		hdr := &tar.Header{Name: name, Mode: int64(mode), Size: int64(len(data)), ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	if err := add("manifest.json", 0o644, mb); err != nil {
		return fmt.Errorf("bundle: create: %w", err)
	}
	if err := add("manifest.sig", 0o644, sb); err != nil {
		return fmt.Errorf("bundle: create: %w", err)
	}
	for i, f := range files {
		b, err := os.ReadFile(f.Path)
		if err != nil {
			return fmt.Errorf("bundle: create: %w", err)
		}
		if int64(len(b)) != m.Files[i].Size {
			return fmt.Errorf("bundle: create: %s changed while bundling", f.Path)
		}
		if err := add("files/"+f.Name, m.Files[i].Mode, b); err != nil {
			return fmt.Errorf("bundle: create: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("bundle: create: %w", err)
	}
	return zw.Close()
}

func checkName(name string) error {
	if name == "" || path.IsAbs(name) || path.Clean(name) != name || strings.HasPrefix(name, "../") || name == ".." || strings.Contains(name, "\\") {
		return fmt.Errorf("%w: bad file name %q", ErrFormat, name)
	}
	return nil
}

// Policy is what a device accepts.
type Policy struct {
	Roots       []ed25519.PublicKey // provisioned root keys; at least one
	Target      string              // this device's target; "" accepts any
	MinSecurity uint64              // highest security version already accepted
	Product     string              // "" accepts any
}

// ReadManifest reads and checks the manifest and its signature from the
// start of a bundle, against p, without reading the files.
func ReadManifest(r io.Reader, p Policy) (*Manifest, error) {
	tr, zr, err := openTar(r)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	return readManifest(tr, p)
}

func openTar(r io.Reader) (*tar.Reader, *gzip.Reader, error) {
	zr, err := gzip.NewReader(bufio.NewReader(r))
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, nil, fmt.Errorf("%w: %w", ErrTruncated, err)
		}
		return nil, nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	return tar.NewReader(zr), zr, nil
}

func readEntry(tr *tar.Reader, want string, max int64) ([]byte, error) {
	hdr, err := tr.Next()
	if err != nil {
		return nil, streamErr(err, "reading "+want)
	}
	if hdr.Name != want {
		return nil, fmt.Errorf("%w: found %q where %q belongs", ErrFormat, hdr.Name, want)
	}
	if hdr.Size > max {
		return nil, fmt.Errorf("%w: %s is %d bytes", ErrFormat, want, hdr.Size)
	}
	b, err := io.ReadAll(tr)
	if err != nil {
		return nil, streamErr(err, "reading "+want)
	}
	return b, nil
}

func streamErr(err error, what string) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: %s", ErrTruncated, what)
	}
	return fmt.Errorf("%w: %s: %w", ErrFormat, what, err)
}

func readManifest(tr *tar.Reader, p Policy) (*Manifest, error) {
	mb, err := readEntry(tr, "manifest.json", 1<<20)
	if err != nil {
		return nil, err
	}
	sb, err := readEntry(tr, "manifest.sig", 4096)
	if err != nil {
		return nil, err
	}
	var sig signature
	if err := json.Unmarshal(sb, &sig); err != nil {
		return nil, fmt.Errorf("%w: manifest.sig: %w", ErrFormat, err)
	}
	var key ed25519.PublicKey
	for _, k := range p.Roots {
		if KeyID(k) == sig.KeyID {
			key = k
		}
	}
	if key == nil {
		return nil, fmt.Errorf("%w: key id %q", ErrUnknownKey, sig.KeyID)
	}
	if !ed25519.Verify(key, mb, sig.Sig) {
		return nil, fmt.Errorf("%w: manifest signed as key %s does not verify", ErrBadSignature, sig.KeyID)
	}
	// Only a verified manifest is parsed.
	var m Manifest
	if err := json.Unmarshal(mb, &m); err != nil {
		return nil, fmt.Errorf("%w: manifest.json: %w", ErrFormat, err)
	}
	if p.Target != "" && m.Target != p.Target {
		return nil, fmt.Errorf("%w: bundle is for %s, this device is %s", ErrWrongTarget, m.Target, p.Target)
	}
	if p.Product != "" && m.Product != p.Product {
		return nil, fmt.Errorf("%w: bundle is product %q, want %q", ErrWrongTarget, m.Product, p.Product)
	}
	if m.Security < p.MinSecurity {
		return nil, fmt.Errorf("%w: bundle %s has security version %d, device accepted %d", ErrRollback, m.Version, m.Security, p.MinSecurity)
	}
	for _, f := range m.Files {
		if err := checkName(f.Name); err != nil {
			return nil, err
		}
	}
	return &m, nil
}

// Verify checks the bundle read from r against p and, when dst is not "",
// extracts its files into the folder dst (which must not exist; it is
// created, and removed again if anything fails). Files are fsync'd, and so
// is every folder. It returns the verified manifest.
func Verify(r io.Reader, p Policy, dst string) (m *Manifest, err error) {
	tr, zr, err := openTar(r)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	m, err = readManifest(tr, p)
	if err != nil {
		return nil, err
	}
	if dst != "" {
		if err := os.Mkdir(dst, 0o755); err != nil {
			return nil, fmt.Errorf("bundle: extract: %w", err)
		}
		defer func() {
			if err != nil {
				os.RemoveAll(dst)
			}
		}()
	}
	for _, f := range m.Files {
		hdr, err := tr.Next()
		if err != nil {
			return nil, streamErr(err, "reading files/"+f.Name)
		}
		if hdr.Name != "files/"+f.Name || hdr.Typeflag != tar.TypeReg {
			return nil, fmt.Errorf("%w: found %q where files/%s belongs", ErrFormat, hdr.Name, f.Name)
		}
		if hdr.Size != f.Size {
			return nil, fmt.Errorf("%w: %s is %d bytes, manifest says %d", ErrHash, f.Name, hdr.Size, f.Size)
		}
		if err := extract(tr, f, dst); err != nil {
			return nil, err
		}
	}
	if _, err := tr.Next(); err != io.EOF {
		if err == nil {
			return nil, fmt.Errorf("%w: extra entries after the manifest's files", ErrFormat)
		}
		return nil, streamErr(err, "reading the end")
	}
	if dst != "" {
		if err := syncDirs(dst); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func extract(r io.Reader, f File, dst string) error {
	h := sha256.New()
	var w io.Writer = h
	var out *os.File
	if dst != "" {
		name := filepath.Join(dst, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			return fmt.Errorf("bundle: extract: %w", err)
		}
		var err error
		out, err = os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, os.FileMode(f.Mode&0o777))
		if err != nil {
			return fmt.Errorf("bundle: extract: %w", err)
		}
		defer out.Close()
		w = io.MultiWriter(h, out)
	}
	n, err := io.Copy(w, r)
	if err != nil {
		return streamErr(err, "reading files/"+f.Name)
	}
	if n != f.Size {
		return fmt.Errorf("%w: files/%s", ErrTruncated, f.Name)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != f.SHA256 {
		return fmt.Errorf("%w: %s has sha256 %s, manifest says %s", ErrHash, f.Name, got, f.SHA256)
	}
	if out != nil {
		if err := out.Sync(); err != nil {
			return fmt.Errorf("bundle: extract: %w", err)
		}
		return out.Close()
	}
	return nil
}

// syncDirs fsyncs dst and every folder below it, so the extracted files'
// names are durable.
func syncDirs(dst string) error {
	return filepath.WalkDir(dst, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		return SyncDir(p)
	})
}

// SyncDir fsyncs a folder, making renames and creations in it durable.
func SyncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("bundle: sync %s: %w", dir, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("bundle: sync %s: %w", dir, err)
	}
	return nil
}

// VerifyFile is Verify on the bundle file at path.
func VerifyFile(bundlePath string, p Policy, dst string) (*Manifest, error) {
	f, err := os.Open(bundlePath)
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	defer f.Close()
	return Verify(f, p, dst)
}

// Bytes is a helper for tests and small tools: Create into memory.
func Bytes(m Manifest, files []Source, key ed25519.PrivateKey) ([]byte, error) {
	var buf bytes.Buffer
	err := Create(&buf, m, files, key)
	return buf.Bytes(), err
}
