package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"linli/mqtt/contract"
	"linli/mqtt/hubclient/hubclienttest"
	"linli/mqtt/mqtttest"
	"linli/ui/screenshot"
)

// screen is a kiosk screen: flat colours with a noisy band, so that the
// full-size PNG does not fit one message and the kiosk sends it halved.
func screen(noisy bool) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, 1024, 600))
	rng := rand.New(rand.NewPCG(1, 2))
	for y := range 600 {
		for x := range 1024 {
			c := color.NRGBA{0xF2, 0xF4, 0xF7, 0xff}
			if y < 80 {
				c = color.NRGBA{0xC6, 0x28, 0x28, 0xff}
			}
			if noisy && y > 200 {
				c = color.NRGBA{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), 0xff}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

// kioskHub is a fake hub whose kiosk answers screenshot commands as
// cmd/kiosk does: a CommandAck with screenshot.Encode's JSON.
func kioskHub(t *testing.T, img image.Image) (string, *hubclienttest.Hub) {
	t.Helper()
	url := mqtttest.Embedded(t)
	hub := hubclienttest.New(t, url)
	hub.Handle(contract.OpDeviceCmd, func(r contract.Request) (any, error) {
		switch {
		case r.Args["device"] == "kiosk-09":
			return nil, errors.New("not found: device \"kiosk-09\"")
		case r.Args["device"] == "kiosk-02":
			return contract.CommandAck{ID: "c", Device: "kiosk-02", Error: "no screen yet"}, nil
		case r.Args["device"] == "kiosk-03":
			return contract.CommandAck{ID: "c", Device: "kiosk-03", OK: true, Result: json.RawMessage(`{"format":"png","width":4,"height":4,"png":"bm90IGEgcG5n"}`)}, nil
		case r.Args["name"] != contract.CmdScreenshot:
			return contract.CommandAck{ID: "c", Device: r.Args["device"], Error: "not supported: " + r.Args["name"]}, nil
		}
		raw, err := screenshot.Encode(img, contract.MaxPayload)
		if err != nil {
			return nil, err
		}
		return contract.CommandAck{ID: "c", Device: r.Args["device"], OK: true, Result: raw}, nil
	})
	return url, hub
}

func TestScreenshotToStdout(t *testing.T) {
	tests := []struct {
		name      string
		noisy     bool
		wantScale int
	}{
		{"flat", false, 1},
		{"noisy", true, 2}, // halved at least once
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, hub := kioskHub(t, screen(tt.noisy))
			r := gridctl(t, url, "screenshot", "kiosk-01")
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			img, err := png.Decode(strings.NewReader(r.stdout))
			if err != nil {
				t.Fatalf("stdout is not a PNG: %v", err)
			}
			w, h := img.Bounds().Dx(), img.Bounds().Dy()
			scale := 1024 / w
			if w*scale != 1024 || h*scale != 600 || scale < tt.wantScale {
				t.Errorf("PNG %d×%d, want 1024×600 divided by %d or more", w, h, tt.wantScale)
			}
			// The red title bar survives the trip (top left pixel).
			if r, g, b, _ := img.At(1, 1).RGBA(); r>>8 != 0xC6 || g>>8 != 0x28 || b>>8 != 0x28 {
				t.Errorf("top-left pixel %x %x %x, want c62828", r>>8, g>>8, b>>8)
			}
			if !strings.Contains(r.stderr, "kiosk-01: 1024×600 screen") {
				t.Errorf("stderr %q, want a description of the screenshot", r.stderr)
			}
			reqs := hub.Requests()
			if len(reqs) != 1 || reqs[0].Op != contract.OpDeviceCmd ||
				reqs[0].Args["device"] != "kiosk-01" || reqs[0].Args["name"] != contract.CmdScreenshot {
				t.Errorf("requests %+v, want one device.cmd screenshot to kiosk-01", reqs)
			}
		})
	}
}

func TestScreenshotToFile(t *testing.T) {
	url, _ := kioskHub(t, screen(false))
	dir := t.TempDir()
	path := filepath.Join(dir, "screen.png")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	sys := testSystem(url, &out, &errb)
	sys.terminal = true // -o works from a terminal
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if code := run(ctx, []string{"screenshot", "kiosk-01", "-o", path}, sys); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if img, err := png.Decode(bytes.NewReader(b)); err != nil || img.Bounds().Dx() != 1024 {
		t.Errorf("%s: %v, %v; want a 1024-wide PNG", path, img, err)
	}
	if !strings.Contains(out.String(), "→ "+path) {
		t.Errorf("stdout %q, want a line naming the file", out.String())
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("folder holds %d files, want only screen.png (no temporary left)", len(ents))
	}

	r := gridctl(t, url, "--json", "screenshot", "kiosk-01", "-o", path)
	var meta struct {
		File  string `json:"file"`
		Width int    `json:"width"`
		Bytes int    `json:"bytes"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &meta); err != nil || meta.File != path || meta.Width != 1024 || meta.Bytes == 0 {
		t.Errorf("--json -o printed %q (%v)", r.stdout, err)
	}
}

func TestScreenshotJSON(t *testing.T) {
	url, _ := kioskHub(t, screen(false))
	r := gridctl(t, url, "--json", "screenshot", "kiosk-01")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	res, err := screenshot.Decode(json.RawMessage(r.stdout))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(res.PNG)); err != nil {
		t.Errorf("png in the JSON: %v", err)
	}
}

func TestScreenshotRefusesTerminal(t *testing.T) {
	url, hub := kioskHub(t, screen(false))
	var out, errb bytes.Buffer
	sys := testSystem(url, &out, &errb)
	sys.terminal = true
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if code := run(ctx, []string{"screenshot", "kiosk-01"}, sys); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	if out.Len() != 0 || !strings.Contains(errb.String(), "will not write a PNG to a terminal") {
		t.Errorf("stdout %d bytes, stderr %q", out.Len(), errb.String())
	}
	if n := len(hub.Requests()); n != 0 {
		t.Errorf("%d requests sent to the hub, want none", n)
	}
}

func TestScreenshotErrors(t *testing.T) {
	url, _ := kioskHub(t, screen(false))
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"screenshot"}, 2, "missing KIOSK"},
		{[]string{"screenshot", "a/b"}, 2, `"a/b" is not a device id`},
		{[]string{"screenshot", "kiosk-02"}, 1, "kiosk-02 refused screenshot: no screen yet"},
		{[]string{"screenshot", "kiosk-03"}, 1, "kiosk-03 sent a broken PNG"},
		{[]string{"screenshot", "kiosk-09"}, 1, "hub refused device.cmd: not found"},
		{[]string{"--timeout", "300ms", "screenshot", "kiosk-01", "-o", filepath.Join(t.TempDir(), "no", "such", "dir.png")}, 1, "write "},
	}
	for _, tt := range tests {
		r := gridctl(t, url, tt.args...)
		if r.code != tt.code || !strings.Contains(r.stderr, tt.want) || (tt.code != 0 && r.stdout != "") {
			t.Errorf("gridctl %q: exit %d, stdout %d bytes, stderr %q; want exit %d and %q",
				tt.args, r.code, len(r.stdout), r.stderr, tt.code, tt.want)
		}
	}
}

func TestScreenshotNoAnswer(t *testing.T) {
	url, hub := kioskHub(t, screen(false))
	hub.SetSilent(true)
	r := gridctl(t, url, "--timeout", "200ms", "screenshot", "kiosk-01", "--device-timeout", "100ms")
	if r.code != 1 || !strings.Contains(r.stderr, "no answer within 300ms") || r.stdout != "" {
		t.Errorf("exit %d, stderr %q, stdout %d bytes", r.code, r.stderr, len(r.stdout))
	}
}
