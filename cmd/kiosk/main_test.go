package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
	bolt "go.etcd.io/bbolt"

	"linli/kiosk"
	"linli/kiosk/ticketno"
	"linli/mqtt/contract"
	"linli/mqtt/mqtttest"
	"linli/mqtt/outbox"
	"linli/ui"
	"linli/ui/screenshot"
	"linli/ui/uitest"
)

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestMain(m *testing.M) {
	if os.Getenv(initOnlyEnv) != "" {
		os.Exit(0) // TestQuietLocale: every package was initialised
	}
	code := m.Run()
	bins.Remove()
	os.Exit(code)
}

func TestParse(t *testing.T) {
	tests := []struct {
		args    string
		wantErr string
		check   func(c *cliConfig) bool
	}{
		{"version", "", func(c *cliConfig) bool { return c.cmd == "version" }},
		{"run --device k1 --size 800x480 --lang en", "", func(c *cliConfig) bool {
			return c.size == image.Pt(800, 480) && c.lang == "en" && c.device == "k1"
		}},
		{"run --size 80x48", "--size", nil},
		{"run --lang fr", "--lang", nil},
		{"fly", "unknown command", nil},
		{"run extra", "unexpected argument", nil},
	}
	for _, tt := range tests {
		c, err := parse(strings.Fields(tt.args))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parse(%q) error = %v, want %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !tt.check(c) {
			t.Errorf("parse(%q) = %+v, %v", tt.args, c, err)
		}
	}
}

func TestCodeFor(t *testing.T) {
	tests := map[string]string{"kiosk-01": "K01", "k": "KK", "east-kiosk-7b": "K7B", "亭": "K"}
	for in, want := range tests {
		if got := codeFor(in); got != want || !ticketno.ValidPrefix(got) {
			t.Errorf("codeFor(%q) = %q, want %q (valid)", in, got, want)
		}
	}
}

func openService(t *testing.T) *kiosk.Service {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "kiosk.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ob, err := outbox.Open(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := kiosk.Open(db, ob, &kiosk.Options{Device: "kiosk-01", Code: "K1", Community: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestBackend files a report through the adapter and finds it again by the
// digits a resident types on the keypad.
func TestBackend(t *testing.T) {
	s := openService(t)
	b := backend{s}
	cats := catalogue(s)
	if len(cats) == 0 || cats[0].Name == "" || cats[0].NameEN == "" {
		t.Fatalf("catalogue = %+v", cats)
	}
	n, err := b.FileReport(context.Background(), ui.Draft{
		Category: cats[0].ID, Location: contract.Location{Building: "3"},
		Phrases: []string{cats[0].Phrases[0].Text}, Phone: "13800138000", Consent: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ts, ok := b.Track(ticketno.Digits(n))
	if !ok || ts.Number != n {
		t.Errorf("Track(digits of %s) = %+v, %v", n, ts, ok)
	}
	// ui translates this note by its value.
	if len(ts.Timeline) != 1 || ts.Timeline[0].Note != "awaiting-hub" || kiosk.NoteAwaitingHub != "awaiting-hub" {
		t.Errorf("timeline of an unsent report = %+v; ui/track.go expects note %q", ts.Timeline, "awaiting-hub")
	}
	if _, ok := b.Track("999"); ok {
		t.Errorf("Track(999) found a ticket")
	}
}

func TestScreenshotCommand(t *testing.T) {
	d := &deps{logger: discard()}
	ack := d.command(context.Background(), &contract.Command{Name: contract.CmdScreenshot})
	if ack.OK {
		t.Errorf("screenshot before the first frame: OK")
	}
	frame := func(context.Context) (image.Image, error) { return image.NewNRGBA(image.Rect(0, 0, 1024, 600)), nil }
	d.frame.Store(&frame)
	ack = d.command(context.Background(), &contract.Command{Name: contract.CmdScreenshot})
	if !ack.OK {
		t.Fatalf("screenshot: %s", ack.Error)
	}
	r, err := screenshot.Decode(ack.Result)
	if err != nil || r.Width != 1024 {
		t.Errorf("result %+v, %v", r, err)
	}
	if ack := d.command(context.Background(), &contract.Command{Name: contract.CmdReset}); ack.OK {
		t.Errorf("reset on a kiosk: OK")
	}
}

// TestAlertOnScreen runs the kiosk against a broker: the hub's retained
// alert list for a building makes the screen red, and a screenshot command
// returns that screen.
func TestAlertOnScreen(t *testing.T) {
	url := mqtttest.Embedded(t)
	dir := t.TempDir()
	screen := filepath.Join(dir, "screen.png")
	c, err := parse([]string{"run", "--device", "kiosk-01", "--community", "c1", "--building", "3",
		"--data", dir, "--display", "png:" + screen, "--broker", url, "--size", "800x480"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, c, os.Stdout) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()

	hub := mqtttest.Client(t, url, "hub")
	acks := hub.Subscribe(contract.DeviceTopic("kiosk-01", "cmdack"), 1)
	births := hub.Subscribe(contract.DeviceTopic("kiosk-01", "birth"), 1)
	mqtttest.Next(t, births)
	alert := contract.Alert{ID: "A1", Device: "mb-3", Channel: "busbar-l1", Kind: "temperature", State: contract.StateAlarm,
		Value: 96, Unit: "°C", Location: contract.Location{Community: "c1", Building: "3"}, Raised: time.Now(), Level: "grid"}
	payload, err := contract.Encode(&contract.AreaAlerts{Community: "c1", Building: "3", Alerts: []contract.Alert{alert}, Updated: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	hub.Publish(contract.AreaAlertsTopic("c1", "3"), payload, 1, true)

	deadline := time.Now().Add(mqtttest.Timeout)
	for red := 0.0; red < 0.5; {
		if time.Now().After(deadline) {
			t.Fatalf("screen %.0f%% alert red after %v, want most of it", red*100, mqtttest.Timeout)
		}
		time.Sleep(50 * time.Millisecond)
		red = redShare(t, screen)
	}

	cmd, _ := contract.Encode(&contract.Command{ID: "c1", Device: "kiosk-01", Name: contract.CmdScreenshot, By: "w-li", Time: time.Now()})
	hub.Publish(contract.DeviceTopic("kiosk-01", "cmd"), cmd, 1, false)
	m := mqtttest.Next(t, acks)
	var ack contract.CommandAck
	if err := json.Unmarshal(m.Payload, &ack); err != nil || !ack.OK {
		t.Fatalf("ack %s, %v", m.Payload, err)
	}
	if len(m.Payload) > contract.MaxPayload {
		t.Errorf("ack of %d bytes, over %d", len(m.Payload), contract.MaxPayload)
	}
	r, err := screenshot.Decode(ack.Result)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(r.PNG))
	if err != nil || img.Bounds().Dx() != 800/r.Scale {
		t.Fatalf("screenshot %v, %v", img.Bounds(), err)
	}
}

// redShare returns the share of the alert red in the PNG at path (0 if it
// cannot be read yet).
func redShare(t *testing.T, path string) float64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return 0
	}
	n, red := 0, 0
	bd := img.Bounds()
	for y := bd.Min.Y; y < bd.Max.Y; y += 4 {
		for x := bd.Min.X; x < bd.Max.X; x += 4 {
			r, g, b, _ := img.At(x, y).RGBA()
			n++
			if r>>8 > 0xB0 && g>>8 < 0x50 && b>>8 < 0x50 {
				red++
			}
		}
	}
	return float64(red) / float64(n)
}

// TestServiceUnit checks the command line of build/systemd/kiosk.service
// parses (every flag exists) and gives the kiosk an update root of its
// own: sharing sensord's would lock one of them out of update.db.
func TestServiceUnit(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "build", "systemd", "kiosk.service"))
	if err != nil {
		t.Fatal(err)
	}
	var exec []string
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "ExecStart="); ok {
			exec = strings.Fields(v)
		}
	}
	if len(exec) < 2 {
		t.Fatalf("no ExecStart in kiosk.service")
	}
	c, err := parse(exec[1:])
	if err != nil {
		t.Fatalf("ExecStart %q: %v", exec, err)
	}
	if c.updateRoot == "" || c.updateRoot == "/opt/linli" {
		t.Errorf("--update-root %q, want the kiosk's own", c.updateRoot)
	}
	if want := filepath.Join(c.updateRoot, "current", "kiosk"); exec[0] != want {
		t.Errorf("ExecStart runs %s, want %s (the update root's current slot)", exec[0], want)
	}
	if !strings.Contains(string(b), "ReadWritePaths=/var/lib/linli "+c.updateRoot+"\n") {
		t.Errorf("the unit cannot write its update root %s", c.updateRoot)
	}
}

// TestUIAlive: the watchdog's check answers true only while pump runs
// functions on the UI goroutine.
func TestUIAlive(t *testing.T) {
	d := &deps{logger: discard(), changes: make(chan string), ping: make(chan chan<- struct{})}
	ctx := context.Background()
	if d.uiAlive(ctx, 50*time.Millisecond) {
		t.Error("alive without a UI loop")
	}
	test.NewApp()
	t.Cleanup(func() { test.NewApp() })
	var mu sync.Mutex // the UI goroutine
	k := ui.New(test.NewWindow(nil), &uitest.Backend{}, nil)
	hung := make(chan struct{})
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	uiDo := func(f func()) {
		select {
		case <-hung: // the UI loop is stuck until the end
			<-pctx.Done()
		default:
			mu.Lock()
			defer mu.Unlock()
			f()
		}
	}
	go func() { defer close(done); pump(pctx, k, d, uiDo, nil) }()
	defer func() { cancel(); <-done }()
	if !d.uiAlive(ctx, 10*time.Second) {
		t.Error("not alive with the UI loop running")
	}
	close(hung)
	if d.uiAlive(ctx, 50*time.Millisecond) {
		t.Error("alive with the UI loop hung")
	}
}
