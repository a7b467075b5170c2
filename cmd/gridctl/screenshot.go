package main

// gridctl screenshot: what a kiosk's screen shows, for maintenance staff.

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"time"

	"linli/mqtt/contract"
	"linli/mqtt/hubclient"
	"linli/ui/screenshot"
)

func init() {
	register(&command{name: "screenshot", args: "KIOSK [-o FILE]",
		summary: "fetch a kiosk's current screen as PNG (to stdout, or atomically to FILE with -o)",
		setup:   setupScreenshot})
}

func setupScreenshot(fs *flag.FlagSet) runFunc {
	out := fs.String("o", "", "write the PNG to `file` (atomically) instead of stdout")
	wait := fs.Duration("device-timeout", 15*time.Second, "how long the hub may wait for the kiosk, on top of --timeout")
	return func(ctx context.Context, a *app, args []string) error {
		if err := needArgs(args, "KIOSK"); err != nil {
			return err
		}
		kiosk := args[0]
		if !contract.ValidID(kiosk) {
			return usagef("%q is not a device id", kiosk)
		}
		// Refuse before bothering the kiosk: binary on a terminal is noise.
		if *out == "" && !a.cfg.json && a.sys.terminal {
			return usagef("will not write a PNG to a terminal: redirect stdout (gridctl screenshot %s > screen.png) or use -o FILE", kiosk)
		}
		r, err := a.screenshot(ctx, *wait, kiosk)
		if err != nil {
			return err
		}
		if a.cfg.json && *out == "" {
			return a.printJSON(r) // the PNG in base64
		}
		if *out == "" {
			if _, err := a.out.Write(r.PNG); err != nil {
				return fmt.Errorf("write the screenshot: %w", err)
			}
			// stdout holds the image: say what it is on stderr.
			fmt.Fprintln(a.sys.stderr, screenshotLine(kiosk, r, "stdout"))
			return nil
		}
		if err := writeFileAtomic(*out, 0o644, func(w io.Writer) error { _, err := w.Write(r.PNG); return err }); err != nil {
			return err
		}
		if a.cfg.json {
			return a.printJSON(map[string]any{"device": kiosk, "file": *out, "width": r.Width, "height": r.Height,
				"scale": r.Scale, "bytes": len(r.PNG)})
		}
		_, err = fmt.Fprintln(a.out, screenshotLine(kiosk, r, *out))
		return err
	}
}

// screenshotLine describes a screenshot: "kiosk-01: 1024×600 screen as a
// 512×300 PNG (1/2 scale), 21 KiB → screen.png".
func screenshotLine(kiosk string, r screenshot.Result, dest string) string {
	scale := ""
	if r.Scale > 1 {
		scale = fmt.Sprintf(" (1/%d scale)", r.Scale)
	}
	return fmt.Sprintf("%s: %d×%d screen as a %d×%d PNG%s, %.1f KiB → %s", kiosk,
		r.Width*r.Scale, r.Height*r.Scale, r.Width, r.Height, scale, float64(len(r.PNG))/1024, dest)
}

// screenshot asks kiosk for its screen through the hub (device.cmd,
// name=screenshot) and returns the checked PNG.
func (a *app) screenshot(ctx context.Context, wait time.Duration, kiosk string) (screenshot.Result, error) {
	c, err := a.hub(ctx)
	if err != nil {
		return screenshot.Result{}, err
	}
	timeout := a.cfg.timeout + wait
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var ack contract.CommandAck
	err = c.Call(cctx, contract.OpDeviceCmd, map[string]string{"device": kiosk, "name": contract.CmdScreenshot}, nil, &ack)
	var he *hubclient.HubError
	switch {
	case err == nil:
	case errors.Is(err, hubclient.ErrNoAnswer) && ctx.Err() == nil:
		return screenshot.Result{}, fmt.Errorf("no answer within %v: is gridhub running and %s online?", timeout, kiosk)
	case errors.As(err, &he):
		return screenshot.Result{}, fmt.Errorf("hub refused %s: %s", he.Op, clean(he.Message))
	default:
		return screenshot.Result{}, err
	}
	if !ack.OK {
		msg := ack.Error
		if msg == "" {
			msg = "no reason given"
		}
		return screenshot.Result{}, fmt.Errorf("%s refused screenshot: %s", kiosk, clean(msg))
	}
	r, err := screenshot.Decode(ack.Result)
	if err != nil {
		return screenshot.Result{}, fmt.Errorf("%s sent no usable screenshot: %w", kiosk, err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(r.PNG))
	if err != nil {
		return screenshot.Result{}, fmt.Errorf("%s sent a broken PNG: %w", kiosk, err)
	}
	if cfg.Width != r.Width || cfg.Height != r.Height {
		return screenshot.Result{}, fmt.Errorf("%s sent a %d×%d PNG labelled %d×%d", kiosk, cfg.Width, cfg.Height, r.Width, r.Height)
	}
	if r.Scale < 1 {
		r.Scale = 1
	}
	return r, nil
}

// writeFileAtomic writes path with perm through write, into a temporary
// file in the same folder that is synced and renamed, so that path holds
// the old file or the new one, never half of it.
func writeFileAtomic(path string, perm os.FileMode, write func(io.Writer) error) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := write(tmp); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	done = true
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // the rename survives a power cut
		d.Close()
	}
	return nil
}
