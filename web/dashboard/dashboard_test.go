package dashboard_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"linli/mqtt/contract"
	"linli/web/dashboard"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ and the screenshots in testdata/screens/")

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if theMonth != nil {
		theMonth.stop()
	}
	if monthDir != "" {
		os.RemoveAll(monthDir)
	}
	os.Exit(code)
}

func newDashboard(t testing.TB) *dashboard.Dashboard {
	m := getMonth(t)
	d, err := dashboard.New(&dashboard.Options{Config: m.cfg, Alerts: m.hub, Devices: m.hub, Tickets: m.tickets, Zone: shanghai, Now: m.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func render(t testing.TB, d *dashboard.Dashboard, scope dashboard.Scope, lang string) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := d.Render(&b, scope, lang); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// views are the renderings kept as golden files.
var views = []struct {
	name  string
	scope dashboard.Scope
	lang  string
}{
	{"subdistrict-zh", dashboard.Scope{}, "zh"},
	{"subdistrict-en", dashboard.Scope{}, "en"},
	{"east-zh", dashboard.Scope{Community: "east"}, "zh"},
	{"east-en", dashboard.Scope{Community: "east"}, "en"},
}

// TestGolden compares each rendering of the month with
// testdata/<view>.html; -update rewrites them (then look at the
// screenshots TestScreenshots makes).
func TestGolden(t *testing.T) {
	d := newDashboard(t)
	for _, v := range views {
		got := render(t, d, v.scope, v.lang)
		path := filepath.Join("testdata", v.name+".html")
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -update)", err)
		}
		if !bytes.Equal(got, want) {
			gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
			for i := range min(len(gl), len(wl)) {
				if gl[i] != wl[i] {
					t.Errorf("%s differs at line %d:\n got %.300s\nwant %.300s", path, i+1, gl[i], wl[i])
					break
				}
			}
			if len(gl) != len(wl) {
				t.Errorf("%s: %d lines, want %d", path, len(gl), len(wl))
			}
		}
	}
}

// node is a parsed XML element.
type node struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Children []node     `xml:",any"`
	Text     string     `xml:",chardata"`
}

func (n *node) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (n *node) float(t *testing.T, name string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(n.attr(name), 64)
	if err != nil {
		t.Fatalf("<%s %s=%q>: %v", n.XMLName.Local, name, n.attr(name), err)
	}
	return v
}

// walk calls f on n and every element below it.
func (n *node) walk(f func(*node)) {
	f(n)
	for i := range n.Children {
		n.Children[i].walk(f)
	}
}

// charts returns the SVG of every figure by figure id, parsed as XML: the
// charts must be well-formed XML (SVG is XML, also inside HTML).
func charts(t *testing.T, page []byte) map[string]*node {
	t.Helper()
	out := map[string]*node{}
	re := regexp.MustCompile(`(?s)<figure id="([a-z-]+)"[^>]*>.*?</figure>`)
	for _, m := range re.FindAllSubmatch(page, -1) {
		fig := m[0]
		i, j := bytes.Index(fig, []byte("<svg")), bytes.LastIndex(fig, []byte("</svg>"))
		if i < 0 {
			out[string(m[1])] = nil
			continue
		}
		var n node
		if err := xml.Unmarshal(fig[i:j+6], &n); err != nil {
			t.Fatalf("figure %s: the SVG is not well-formed XML: %v", m[1], err)
		}
		out[string(m[1])] = &n
	}
	return out
}

// bars returns the bar groups (elements with data-label) of a chart.
func bars(n *node) []*node {
	var out []*node
	n.walk(func(c *node) {
		if c.XMLName.Local == "g" && c.attr("data-label") != "" {
			out = append(out, c)
		}
	})
	return out
}

// TestStructure checks the subdistrict page against the month's stores:
// every chart is there and accessible, the day bars' heights and the grid
// bars' widths are proportional to their values, the values add up to the
// alerts in the hub, every grid is listed, the response times count the
// acknowledged alarms.
func TestStructure(t *testing.T) {
	m := getMonth(t)
	d := newDashboard(t)
	page := render(t, d, dashboard.Scope{}, "zh")
	s := string(page)
	if !strings.HasPrefix(s, `<section class="linli-dash"`) || strings.Contains(s, "<html") || strings.Contains(s, "<body") {
		t.Errorf("not a fragment: %.120s", s)
	}
	if strings.Contains(s, "<script") || strings.Contains(s, "http://") && !strings.Contains(s, `xmlns="http://www.w3.org/2000/svg"`) {
		t.Error("the fragment loads or runs something")
	}
	cs := charts(t, page)
	for _, id := range []string{"ld-days", "ld-grids", "ld-response", "ld-status", "ld-category", "ld-satisfaction", "ld-devices"} {
		n, ok := cs[id]
		if !ok || n == nil {
			t.Errorf("chart %s missing", id)
			continue
		}
		if n.attr("role") != "img" || n.attr("width") != "100%" || !strings.HasPrefix(n.attr("viewBox"), "0 0 ") ||
			n.attr("aria-labelledby") != id+"-t "+id+"-d" || !strings.Contains(n.attr("font-family"), "Noto Sans CJK SC") {
			t.Errorf("chart %s: attributes %v", id, n.Attrs)
		}
		var title, desc string
		for _, c := range n.Children {
			switch c.XMLName.Local {
			case "title":
				title = c.Text
			case "desc":
				desc = c.Text
			}
		}
		if title == "" || desc == "" {
			t.Errorf("chart %s: title %q desc %q", id, title, desc)
		}
	}
	if n := strings.Count(s, "<figcaption>"); n != 7 || strings.Contains(s, "<figcaption></figcaption>") {
		t.Errorf("%d figcaptions (want 7, none empty)", n)
	}

	// The sources' figures.
	alerts, err := m.hub.Alerts(true)
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(end.Year(), end.Month(), end.Day()-29, 0, 0, 0, 0, shanghai)
	inPeriod, acked := 0, 0
	for _, a := range alerts {
		if !a.Raised.Before(from) {
			inPeriod++
			if a.State == contract.StateAlarm && !a.AckedAt.IsZero() {
				acked++
			}
		}
	}
	if inPeriod < 20 {
		t.Fatalf("the month has %d alerts; the filler should make more", inPeriod)
	}

	// Days: 30 bars, heights proportional, total = the hub's alerts.
	days := bars(cs["ld-days"])
	if len(days) != 30 {
		t.Errorf("%d day bars, want 30", len(days))
	}
	total, scale := 0.0, 0.0
	for _, g := range days {
		v := g.float(t, "data-value")
		total += v
		h := 0.0
		for _, r := range g.Children {
			if r.XMLName.Local == "rect" {
				h += r.float(t, "height")
			}
		}
		if v == 0 {
			if h != 0 {
				t.Errorf("day %s: value 0, height %v", g.attr("data-label"), h)
			}
			continue
		}
		if scale == 0 {
			scale = h / v
		}
		if math.Abs(h/v-scale) > 0.02 {
			t.Errorf("day %s: height %v for %v, not proportional (%v per alert)", g.attr("data-label"), h, v, scale)
		}
	}
	if int(total) != inPeriod {
		t.Errorf("day bars add up to %v, the hub has %d alerts in the period", total, inPeriod)
	}

	// Grids: every grid of both communities, widths proportional.
	grids := bars(cs["ld-grids"])
	var labels []string
	for _, g := range grids {
		labels = append(labels, g.attr("data-label"))
	}
	n := 0
	for _, c := range m.cfg.Communities {
		for _, g := range c.Grids {
			n++
			want := strings.Fields(c.Name)[0] + "·" + strings.Fields(g.Name)[0]
			if !strings.Contains(strings.Join(labels, "|"), want) {
				t.Errorf("grid %s (%s) missing from %q", g.ID, want, labels)
			}
		}
	}
	if len(grids) != n {
		t.Errorf("%d grid bars, want %d", len(grids), n)
	}
	scale = 0
	sum := 0.0
	for _, g := range grids {
		v := g.float(t, "data-value")
		sum += v
		w := 0.0
		for _, r := range g.Children {
			if r.XMLName.Local == "rect" && r.attr("data-value") != "" {
				w += r.float(t, "width")
			}
		}
		if v == 0 {
			continue
		}
		if scale == 0 {
			scale = w / v
		}
		if math.Abs(w/v-scale) > 0.02 {
			t.Errorf("grid %s: width %v for %v, not proportional", g.attr("data-label"), w, v)
		}
	}
	if int(sum) != inPeriod {
		t.Errorf("grid bars add up to %v, want %d", sum, inPeriod)
	}

	// Response times: one dot per acknowledged alarm.
	rows := bars(cs["ld-response"])
	if len(rows) != 3 {
		t.Fatalf("%d response rows, want 3", len(rows))
	}
	if got := rows[0].attr("data-count"); got != strconv.Itoa(acked) {
		t.Errorf("raised → acknowledged counts %s alarms, the hub has %d acknowledged", got, acked)
	}
	dots := 0
	rows[0].walk(func(c *node) {
		if c.XMLName.Local == "circle" {
			dots++
		}
	})
	if dots != acked {
		t.Errorf("%d dots for %d acknowledged alarms", dots, acked)
	}

	// Devices: 12 configured, two offline.
	if !strings.Contains(s, "12台设备中10台在线") || !strings.Contains(s, "kiosk-02、mb-0005") {
		t.Errorf("devices caption wrong:\n%s", s[strings.Index(s, `id="ld-devices"`):])
	}
}

// TestScope checks that a community's dashboard shows only its grids and
// that an unknown community is refused by name.
func TestScope(t *testing.T) {
	d := newDashboard(t)
	page := render(t, d, dashboard.Scope{Community: "east"}, "en")
	cs := charts(t, page)
	var labels []string
	for _, g := range bars(cs["ld-grids"]) {
		labels = append(labels, g.attr("data-label"))
	}
	if strings.Join(labels, ",") != "Grid 1,Grid 2,Grid 3" {
		t.Errorf("east's grids: %q", labels)
	}
	if !strings.Contains(string(page), "East Garden") || strings.Contains(string(page), "West") {
		t.Error("east's page names the wrong community")
	}
	var b bytes.Buffer
	err := d.Render(&b, dashboard.Scope{Community: "nowhere"}, "zh")
	if !errors.Is(err, dashboard.ErrUnknownCommunity) || !strings.Contains(err.Error(), "nowhere") || b.Len() != 0 {
		t.Errorf("unknown community: %v, wrote %d bytes", err, b.Len())
	}
	if _, err := dashboard.New(&dashboard.Options{}); !errors.Is(err, dashboard.ErrNoConfig) {
		t.Errorf("New without a configuration: %v", err)
	}
}

// TestScreenshots renders each view in a page at phone width (390×844)
// in headless chromium, one browser for all, and checks the PNGs: the
// whole page and the first screen. With -update they go to
// testdata/screens/ to be looked at (no overlapping labels, no tofu); they
// are not compared, since fonts differ between machines.
func TestScreenshots(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("no chromium (apt-get install chromium)")
	}
	d := newDashboard(t)
	dir := t.TempDir()
	out := dir
	if *update {
		out = filepath.Join("testdata", "screens")
		if err := os.MkdirAll(out, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox,
		chromedp.WindowSize(390, 844), chromedp.UserDataDir(filepath.Join(dir, "profile")))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	actx, cancelA := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelA()
	bctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	for _, v := range views {
		html := fmt.Sprintf(`<!doctype html><html lang="%s"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"></head>`+
			`<body style="margin:0;padding:16px;background:#f8f9fa">%s</body></html>`, v.lang, render(t, d, v.scope, v.lang))
		page := filepath.Join(dir, v.name+".html")
		if err := os.WriteFile(page, []byte(html), 0o644); err != nil {
			t.Fatal(err)
		}
		err := chromedp.Do(bctx,
			chromedp.EmulateViewport(390, 844),
			chromedp.Navigate("file://"+page),
			chromedp.WaitVisible(chromedp.CSS("#ld-devices")),
		)
		if err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		overflow, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
		if err != nil {
			t.Fatal(err)
		}
		first, err := chromedp.Run(bctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		full, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if overflow {
			t.Errorf("%s: the page is wider than the 390 px phone: it scrolls sideways", v.name)
		}
		for name, b := range map[string][]byte{v.name + "-390.png": full, v.name + "-390x844.png": first} {
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if w := img.Bounds().Dx(); w != 390 {
				t.Errorf("%s: %d px wide, want 390", name, w)
			}
			dst := filepath.Join(out, name)
			if strings.HasSuffix(name, "x844.png") {
				dst = filepath.Join(dir, name) // the whole page is kept for review; the first screen is in it
			}
			if err := os.WriteFile(dst, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
