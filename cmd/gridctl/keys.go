package main

// Maintenance commands for firmware: signing keys and signed bundles.
// They work offline and never touch the broker.

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"linli/firmware/bundle"
)

func init() {
	register(&command{name: "keys", args: "generate --out DIR [--name NAME]",
		summary: "make an Ed25519 signing key pair for firmware releases (offline)", setup: setupKeys},
		&command{name: "bundle", args: "create|verify ...",
			summary: "make or check a signed firmware bundle (offline)", setup: setupBundle})
}

func setupKeys(fs *flag.FlagSet) runFunc {
	out := fs.String("out", ".", "`folder` to write NAME.key (private) and NAME.pub (public) into")
	name := fs.String("name", "linli-release", "key file `name`")
	return func(_ context.Context, a *app, args []string) error {
		if len(args) != 1 || args[0] != "generate" {
			return usagef("usage: gridctl keys generate --out DIR [--name NAME]")
		}
		return keysGenerate(*out, *name, a.out)
	}
}

// keysGenerate writes a new key pair into out.
func keysGenerate(out, name string, stdout io.Writer) error {
	privPEM, pubPEM, err := bundle.GenerateKey()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o700); err != nil {
		return err
	}
	priv := filepath.Join(out, name+".key")
	pub := filepath.Join(out, name+".pub")
	// O_EXCL: never overwrite a key that may already sign releases.
	f, err := os.OpenFile(priv, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("keys generate: %w", err)
	}
	if _, err := f.Write(privPEM); err != nil {
		f.Close()
		return fmt.Errorf("keys generate: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("keys generate: %w", err)
	}
	if err := os.WriteFile(pub, pubPEM, 0o644); err != nil {
		return fmt.Errorf("keys generate: %w", err)
	}
	keys, err := bundle.ParsePublicKeys(pubPEM)
	if err != nil {
		return fmt.Errorf("keys generate: %w", err)
	}
	fmt.Fprintf(stdout, "private key  %s  (keep it offline; never commit it)\npublic key   %s  (provision on devices as their root key)\nkey id       %s\n",
		priv, pub, bundle.KeyID(keys[0]))
	return nil
}

type bundleFlags struct {
	key, out, version, target, product, epoch, roots *string
	security                                         *uint64
}

func setupBundle(fs *flag.FlagSet) runFunc {
	f := bundleFlags{
		key:      fs.String("key", os.Getenv("LINLI_SIGNING_KEY"), "create: private key `file` (env LINLI_SIGNING_KEY)"),
		out:      fs.String("out", "", "create: bundle `file` to write"),
		version:  fs.String("version", "", "create: firmware `version`"),
		security: fs.Uint64("security", 0, "create: security version (monotonically increasing; devices refuse lower)"),
		target:   fs.String("target", "", "target, e.g. linux/arm/7 (create: required; verify: expected)"),
		product:  fs.String("product", "linli", "create: product"),
		epoch:    fs.String("epoch", os.Getenv("SOURCE_DATE_EPOCH"), "create: creation time, seconds since 1970 (env SOURCE_DATE_EPOCH)"),
		roots:    fs.String("roots", "", "verify: root public keys `file`"),
	}
	return func(_ context.Context, a *app, args []string) error {
		if len(args) == 0 {
			return usagef("usage: gridctl bundle create|verify ...")
		}
		switch args[0] {
		case "create":
			return bundleCreate(f, args[1:], a.out)
		case "verify":
			return bundleVerify(f, args[1:], a.out)
		}
		return usagef("usage: gridctl bundle create|verify ...")
	}
}

func bundleCreate(f bundleFlags, files []string, stdout io.Writer) error {
	key, out, version, target, security, product, epoch := f.key, f.out, f.version, f.target, f.security, f.product, f.epoch
	if *key == "" || *out == "" || *version == "" || *target == "" || *security == 0 || len(files) == 0 {
		return usagef("usage: gridctl bundle create --key K --out F --version V --security N --target T NAME=PATH[:MODE] ...")
	}
	kb, err := os.ReadFile(*key)
	if err != nil {
		return fmt.Errorf("bundle create: %w", err)
	}
	priv, err := bundle.ParsePrivateKey(kb)
	if err != nil {
		return err
	}
	created := time.Unix(0, 0).UTC()
	if *epoch != "" {
		s, err := strconv.ParseInt(*epoch, 10, 64)
		if err != nil {
			return fmt.Errorf("bundle create: --epoch %q: %w", *epoch, err)
		}
		created = time.Unix(s, 0).UTC()
	}
	var srcs []bundle.Source
	for _, a := range files {
		name, path, ok := strings.Cut(a, "=")
		if !ok {
			return usagef("bundle create: file %s is not NAME=PATH[:MODE]", a)
		}
		mode := uint32(0)
		if p, m, ok := strings.Cut(path, ":"); ok {
			v, err := strconv.ParseUint(m, 8, 32)
			if err != nil {
				return fmt.Errorf("bundle create: mode of %s: %w", name, err)
			}
			path, mode = p, uint32(v)
		}
		srcs = append(srcs, bundle.Source{Name: name, Path: path, Mode: mode})
	}
	m := bundle.Manifest{Product: *product, Version: *version, Security: *security, Target: *target, Created: created}
	if err := writeFileAtomic(*out, 0o644, func(w io.Writer) error { return bundle.Create(w, m, srcs, priv) }); err != nil {
		return fmt.Errorf("bundle create: %w", err)
	}
	fmt.Fprintf(stdout, "%s  %s %s security %d  %d files\n", *out, *product, *version, *security, len(srcs))
	return nil
}

func bundleVerify(f bundleFlags, args []string, stdout io.Writer) error {
	roots, target := f.roots, f.target
	if len(args) != 1 || *roots == "" {
		return usagef("usage: gridctl bundle verify --roots FILE [--target T] BUNDLE")
	}
	keys, err := bundle.LoadPublicKeys(*roots)
	if err != nil {
		return err
	}
	m, err := bundle.VerifyFile(args[0], bundle.Policy{Roots: keys, Target: *target}, "")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "OK  %s %s  security %d  target %s  created %s\n", m.Product, m.Version, m.Security, m.Target, m.Created.Format(time.RFC3339))
	for _, fl := range m.Files {
		fmt.Fprintf(stdout, "    %-24s %10d  %04o  %s\n", fl.Name, fl.Size, fl.Mode, fl.SHA256[:16])
	}
	return nil
}
