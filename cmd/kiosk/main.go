package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	"io"
	"log"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"linli/cmd/internal/restart"
	// Before Fyne reads the locale: see its package doc.
	_ "linli/cmd/kiosk/internal/syslocale"
	"linli/firmware/device"
)

// cliConfig is everything the command line says.
type cliConfig struct {
	cmd        string // run or version
	configFile string
	data       string
	display    string
	size       image.Point
	lang       string
	broker     string
	user, pass string
	device     string
	community  string
	building   string
	code       string
	hubURL     string
	touch      string
	verbose    bool

	// Firmware updates (see package firmware/device).
	updateRoot    string
	rootKeys      string
	updateListen  string
	updateToken   string
	usbDirs       string
	trialDeadline time.Duration

	// Set by tests only.
	logw       io.Writer     // the log; nil = stderr
	maxBackoff time.Duration // the uplink's reconnect delay cap; 0 = its default
}

const usage = `usage:
  kiosk run --config FILE --data DIR [--display fb|fb:/dev/fbN|png:PATH|window] [--broker URL --user U --pass P]
            [--size 1024x600] [--lang zh|en] [--device ID --community ID --building ID --code K1] [--touch DEV]
            [--update-root DIR [--root-keys FILE] [--update-listen ADDR [--update-token T]] [--usb-dirs GLOBS] [--trial-deadline D]]
  kiosk version`

func parse(args []string) (*cliConfig, error) {
	if len(args) == 0 {
		return nil, errors.New(usage)
	}
	c := &cliConfig{cmd: args[0]}
	fs := flag.NewFlagSet("kiosk "+c.cmd, flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprintln(fs.Output(), usage); fs.PrintDefaults() }
	size := "1024x600"
	switch c.cmd {
	case "run":
		fs.StringVar(&c.configFile, "config", "", "configuration `file` (JSON)")
		fs.StringVar(&c.data, "data", ".", "data `directory` (holds kiosk.db)")
		fs.StringVar(&c.display, "display", defaultDisplay, "where to draw: fb, fb:/dev/fbN, png:PATH or window")
		fs.StringVar(&size, "size", size, "screen size WxH for png displays")
		fs.StringVar(&c.lang, "lang", "", "language of a new session: zh or en")
		fs.StringVar(&c.broker, "broker", "", "MQTT broker `URL` (tcp://host:1883, ssl://…), or a comma-separated list of a cluster's nodes to fail over between; empty = offline")
		fs.StringVar(&c.user, "user", "", "MQTT user name")
		fs.StringVar(&c.pass, "pass", "", "MQTT password")
		fs.StringVar(&c.device, "device", "", "device id (overrides the file)")
		fs.StringVar(&c.community, "community", "", "community id (overrides the file)")
		fs.StringVar(&c.building, "building", "", "the kiosk's building (overrides the file)")
		fs.StringVar(&c.code, "code", "", "ticket-number code (overrides the file)")
		fs.StringVar(&c.hubURL, "hub-url", "", "the hub's public web `URL` (http://host:8080): ticket QR codes open URL/t/NUMBER (overrides the file)")
		fs.StringVar(&c.touch, "touch", "", "evdev touch `device` (/dev/input/eventN); empty = none")
		fs.BoolVar(&c.verbose, "v", false, "log at debug level")
		fs.StringVar(&c.updateRoot, "update-root", "", "firmware update `root` of the kiosk (slots, current link, update.db; not shared with sensord); empty = updates off")
		fs.StringVar(&c.rootKeys, "root-keys", "", "root public keys `file`; default ROOT/roots.pub")
		fs.StringVar(&c.updateListen, "update-listen", "", "serve LAN firmware pushes (gridctl flash --local) on `addr`, e.g. :8471; empty = off")
		fs.StringVar(&c.updateToken, "update-token", "", "with --update-listen: shared token pushes must carry (the bundle's signature is checked anyway)")
		fs.StringVar(&c.usbDirs, "usb-dirs", strings.Join(device.DefaultUSBDirs, ","), "comma-separated glob `patterns` of folders an inserted stick's bundles appear in; empty = off")
		fs.DurationVar(&c.trialDeadline, "trial-deadline", 3*time.Minute, "time a newly installed version has to become healthy (first frame drawn, broker connected) before it is rolled back")
	case "version":
	case "-h", "--help", "help":
		return nil, errors.New(usage)
	default:
		return nil, fmt.Errorf("unknown command %q\n%s", c.cmd, usage)
	}
	if err := fs.Parse(args[1:]); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q\n%s", fs.Arg(0), usage)
	}
	w, h, ok := strings.Cut(size, "x")
	wi, err1 := strconv.Atoi(w)
	hi, err2 := strconv.Atoi(h)
	if !ok || err1 != nil || err2 != nil || wi < 320 || hi < 240 || wi > 4096 || hi > 4096 {
		return nil, fmt.Errorf("--size %q: want WxH such as 1024x600", size)
	}
	c.size = image.Pt(wi, hi)
	if c.lang != "" && c.lang != "zh" && c.lang != "en" {
		return nil, fmt.Errorf("--lang %q: want zh or en", c.lang)
	}
	return c, nil
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("kiosk: ")
	// The UI's live heap is about 37 MB (fonts, two full-screen frames);
	// left alone the GC lets RSS reach 80 MB. A soft limit keeps it near
	// 65 MB at no idle cost. GOMEMLIMIT in the environment wins.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(48 << 20)
	}
	cfg, err := parse(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = run(ctx, cfg, os.Stdout)
	// A new version was installed, or a trial rolled back: become the
	// version the current link points at. The process id stays, so
	// systemd sees the same service.
	err = restart.Into(err, stop, log.Printf)
	if err != nil {
		log.Fatal(err)
	}
}
