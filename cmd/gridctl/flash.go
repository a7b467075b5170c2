package main

// gridctl flash: firmware campaigns through the hub and the broker, and
// on-site updates over the LAN or from a USB stick.
//
// Protocol of a campaign (the device side is firmware/device): gridctl
// connects to the broker as the maintenance account, makes the bundle
// available as a fresh transfer id, subscribes to every device's fwreq and
// fwstatus, answers the block requests of the targeted devices with QoS 1
// blocks on dev/ID/fw, and asks the hub to send each device the "update"
// command with the transfer's offer. The devices report on fwstatus
// (retained) until committed, rolled-back or failed.

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"linli/firmware/bundle"
	"linli/firmware/campaign"
	"linli/mqtt/contract"
)

func init() {
	register(&command{name: "flash",
		args:    "--bundle FILE (--device ID ... | --grid G | --group NAME | --all) [--yes] | --local --device-url URL | --usb DIR",
		summary: "update device firmware: a staged campaign through the hub, one device on the LAN (--local), or a USB stick (--usb)",
		setup:   setupFlash})
}

// listFlag is a flag that may be given several times, each time one value
// or a comma-separated list.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

type flashFlags struct {
	bundle, roots              string
	devices                    listFlag
	grid, group, groups        string
	all, yes, force            bool
	first, parallel, blockSize int
	threshold                  float64
	deviceTimeout              time.Duration
	local                      bool
	deviceURL, usb             string
}

func setupFlash(fs *flag.FlagSet) runFunc {
	var f flashFlags
	fs.StringVar(&f.bundle, "bundle", "", "signed firmware bundle `file` (made by gridctl bundle create)")
	fs.StringVar(&f.roots, "roots", "", "root public keys `file`: check the bundle's signature before flashing (devices always check it)")
	fs.Var(&f.devices, "device", "target device `id` (repeat it, or give a comma list)")
	fs.StringVar(&f.grid, "grid", "", "target every device of `grid`")
	fs.StringVar(&f.group, "group", "", "target a group: its line in the --groups file, else every device of the community `NAME`")
	fs.StringVar(&f.groups, "groups", "", "groups `file`: lines \"NAME: ID, ID ...\", # comments (env LINLI_GROUPS)")
	fs.BoolVar(&f.all, "all", false, "target every device the hub knows")
	fs.BoolVar(&f.yes, "yes", false, "start the campaign (without it flash only shows the plan)")
	fs.BoolVar(&f.force, "force", false, "flash devices that already run the bundle's version too")
	fs.IntVar(&f.first, "first", 0, "devices in the first group (default 10 % of the targets, at least 1)")
	fs.Float64Var(&f.threshold, "failure-threshold", 0.2, "pause when more than this fraction of the finished devices failed (1 = never)")
	fs.IntVar(&f.parallel, "parallel", 16, "most devices updating at once")
	fs.IntVar(&f.blockSize, "block-size", 0, "transfer block size in bytes (default 16384)")
	fs.DurationVar(&f.deviceTimeout, "device-timeout", 15*time.Minute, "how long one device may take, from the command to committed")
	fs.BoolVar(&f.local, "local", false, "push the bundle to one device over the LAN, without the hub (needs --device-url)")
	fs.StringVar(&f.deviceURL, "device-url", "", "the device's local update `URL`, e.g. http://192.168.1.20:8470")
	fs.StringVar(&f.usb, "usb", "", "write the USB stick layout into `DIR` (the stick's mount point)")
	return func(ctx context.Context, a *app, args []string) error {
		if err := needArgs(args); err != nil {
			return err
		}
		if f.bundle == "" {
			return usagef("--bundle FILE is required")
		}
		if f.groups == "" {
			f.groups = a.sys.getenv("LINLI_GROUPS")
		}
		m, verified, err := flashManifest(f.bundle, f.roots)
		if err != nil {
			return err
		}
		switch {
		case f.local && f.usb != "":
			return usagef("--local and --usb exclude each other")
		case f.local:
			return flashLocal(ctx, a, &f, m)
		case f.usb != "":
			return flashUSB(a, &f, m)
		}
		return flashCampaign(ctx, a, &f, m, verified)
	}
}

// flashManifest reads the bundle's manifest: checked against the root keys
// when roots is given, otherwise only read (the devices check it).
func flashManifest(path, roots string) (*bundle.Manifest, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, fmt.Errorf("flash: %w", err)
	}
	defer f.Close()
	if roots != "" {
		keys, err := bundle.LoadPublicKeys(roots)
		if err != nil {
			return nil, false, err
		}
		m, err := bundle.ReadManifest(f, bundle.Policy{Roots: keys})
		return m, true, err
	}
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		return nil, false, fmt.Errorf("flash: %s is not a firmware bundle: %w", path, err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err != nil {
			return nil, false, fmt.Errorf("flash: %s is not a firmware bundle (no manifest.json): %w", path, err)
		}
		if h.Name != "manifest.json" {
			continue
		}
		var m bundle.Manifest
		if err := json.NewDecoder(io.LimitReader(tr, 1<<20)).Decode(&m); err != nil {
			return nil, false, fmt.Errorf("flash: %s: manifest.json: %w", path, err)
		}
		if m.Version == "" {
			return nil, false, fmt.Errorf("flash: %s: manifest has no version", path)
		}
		return &m, false, nil
	}
}

// bundleKinds returns the device kinds a bundle is obviously for, from the
// programs it holds: nil when it cannot tell.
func bundleKinds(m *bundle.Manifest) []string {
	has := map[string]bool{}
	for _, f := range m.Files {
		has[f.Name] = true
	}
	switch {
	case has["sensord"] && !has["kiosk"]:
		return []string{"sensor"}
	case has["kiosk"] && !has["sensord"]:
		return []string{"kiosk"}
	}
	return nil
}

// readGroups reads a groups file: "NAME: ID, ID ID" lines, # comments.
func readGroups(path string) (map[string][]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("flash: groups: %w", err)
	}
	out := map[string][]string{}
	for n, line := range strings.Split(string(b), "\n") {
		line, _, _ = strings.Cut(line, "#")
		if strings.TrimSpace(line) == "" {
			continue
		}
		name, list, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("flash: groups: %s:%d: want \"NAME: ID, ID ...\"", path, n+1)
		}
		name = strings.TrimSpace(name)
		out[name] = append(out[name], strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\r' })...)
	}
	return out, nil
}

// refused is a device left out of a campaign, and why.
type refused struct {
	Device string `json:"device"`
	Reason string `json:"reason"`
}

// flashTargets picks the campaign's devices from the hub's device list.
func flashTargets(f *flashFlags, m *bundle.Manifest, list []contract.DeviceInfo) ([]contract.DeviceInfo, []refused, error) {
	n := 0
	for _, set := range []bool{len(f.devices) > 0, f.grid != "", f.group != "", f.all} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, nil, usagef("choose the devices with one of --device, --grid, --group or --all")
	}
	byID := map[string]contract.DeviceInfo{}
	for _, d := range list {
		byID[d.Device] = d
	}
	var picked []contract.DeviceInfo
	var out []refused
	pickIDs := func(ids []string) {
		for _, id := range ids {
			d, ok := byID[id]
			if !ok {
				out = append(out, refused{id, "unknown to the hub"})
				continue
			}
			picked = append(picked, d)
		}
	}
	switch {
	case len(f.devices) > 0:
		for _, id := range f.devices {
			if !contract.ValidID(id) {
				return nil, nil, usagef("%q is not a device id", id)
			}
		}
		pickIDs(f.devices)
	case f.all:
		picked = list
	case f.grid != "":
		for _, d := range list {
			if d.Location.Grid == f.grid {
				picked = append(picked, d)
			}
		}
	case f.group != "":
		var groups map[string][]string
		if f.groups != "" {
			var err error
			if groups, err = readGroups(f.groups); err != nil {
				return nil, nil, err
			}
		}
		if ids, ok := groups[f.group]; ok {
			pickIDs(ids)
		} else {
			for _, d := range list {
				if d.Location.Community == f.group {
					picked = append(picked, d)
				}
			}
		}
	}
	kinds := bundleKinds(m)
	var ok []contract.DeviceInfo
	seen := map[string]bool{}
	for _, d := range picked {
		switch {
		case seen[d.Device]:
			continue
		case kinds != nil && d.Kind != "" && !slices.Contains(kinds, d.Kind):
			out = append(out, refused{d.Device, fmt.Sprintf("a %s; the bundle is for %s devices", d.Kind, strings.Join(kinds, ", "))})
		default:
			ok = append(ok, d)
		}
		seen[d.Device] = true
	}
	if len(ok) == 0 {
		return nil, out, errors.New("flash: no device to flash")
	}
	return ok, out, nil
}

// newTransferID returns a fresh transfer id for a campaign.
func newTransferID(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "fw-" + now.UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:])
}

// printPlan shows what a campaign would do.
func printPlan(a *app, m *bundle.Manifest, verified bool, ts []contract.DeviceInfo, refs []refused, o campaign.Options) {
	sig := "signature not checked here (use --roots); every device checks it"
	if verified {
		sig = "signature OK"
	}
	fmt.Fprintf(a.out, "bundle  %s %s  target %s  security %d  (%s)\n", m.Product, m.Version, m.Target, m.Security, sig)
	up := 0
	for _, d := range ts {
		if d.Firmware == m.Version {
			up++
		}
	}
	fmt.Fprintf(a.out, "devices %d", len(ts))
	if up > 0 && !o.Force {
		fmt.Fprintf(a.out, " (%d already run %s and are skipped)", up, m.Version)
	}
	fmt.Fprintf(a.out, ": first group %d, then the rest; at most %d at once; pause above %.0f %% failures\n",
		min(o.FirstGroup, len(ts)-up), o.Parallel, 100*o.FailureThreshold)
	for _, r := range refs {
		fmt.Fprintf(a.out, "left out %s: %s\n", r.Device, r.Reason)
	}
}
