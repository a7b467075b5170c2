package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"linli/mqtt/contract"
)

// layoutCheck lists what breaks the page at its size: tap targets under
// 44 px and content wider than the screen (cut text).
const layoutCheck = `(() => {
  const bad = [];
  if (document.documentElement.scrollWidth > window.innerWidth + 1)
    bad.push("page " + document.documentElement.scrollWidth + "px wide in " + window.innerWidth);
  document.querySelectorAll("button, .btn, input:not([type=hidden]), select, textarea, nav a, summary, label.check").forEach(el => {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) return;
    const min = el.matches("input[type=checkbox]") ? 24 : 44;
    if (r.height < min - 0.5 || r.width < min - 0.5) bad.push(el.outerHTML.slice(0, 80) + " is " + Math.round(r.width) + "×" + Math.round(r.height));
  });
  return bad;
})()`

// shoot opens url in the tab ctx and fails the test for what layoutCheck
// finds there; with file set it writes the whole page's screenshot there.
func shoot(t *testing.T, ctx context.Context, url, file string) {
	t.Helper()
	err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("footer")))
	for i := 0; i < 3 && err != nil && strings.Contains(err.Error(), "ERR_ABORTED"); i++ {
		// A navigation of the page itself was under way: again.
		time.Sleep(200 * time.Millisecond)
		err = chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("footer")))
	}
	if err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	bad, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](layoutCheck))
	if err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	for _, b := range bad {
		t.Errorf("%s: %s", url, b)
	}
	if file == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestScreens renders every page at phone (390×844) and desktop (1280×800)
// size, in Chinese and English, and checks tap targets and width. With
// LINLI_SCREENS=DIR it writes each as DIR/<page>-<size>-<lang>.png for
// review. web/testdata/screens keeps the reviewed phone set in Chinese
// (the *-390x844-zh.png files of such a run), as a reference, not
// compared: regenerate and look at them after a change of the pages.
func TestScreens(t *testing.T) {
	if testing.Short() {
		t.Skip("renders 48 pages")
	}
	e := getEnv(t)
	// Something on every page: an alert, tickets, a wish, a notice.
	d := e.device(t, "mb-1")
	d.send(t, &contract.Birth{Device: "mb-1", Kind: "sensor", Session: 1, Firmware: "1.0.0"}, "birth", true)
	d.event(t, "temp-1", contract.StatePreAlarm, contract.StateAlarm, "threshold")
	defer d.event(t, "temp-1", contract.StateAlarm, contract.StateNormal, "reset")
	n := "K1-261205-00041"
	e.kioskReport(t, n, "b1", "13812341234")
	k := e.device(t, "kiosk-1")
	k.send(t, &contract.Wish{ID: "wish-screens", Device: "kiosk-1", Text: "陪老人聊聊天", Location: contract.Location{Community: "east", Building: "b1"},
		Time: contract.Stamp{At: time.Now(), Synced: true}}, "report", false)
	notice, _ := json.Marshal(contract.Notice{ID: "n-screens", Title: "停水通知", Body: "12月6日 9:00–12:00 1-3号楼停水检修。", Level: "warning", Published: time.Now()})
	if _, err := e.hub.Do(context.Background(), e.worker("c-chen"), &contract.Request{ID: "t", Op: contract.OpNotice, Args: map[string]string{"community": "east"}, Body: notice}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the wish", func() bool { ws, _ := e.tickets.Wishes("east"); return len(ws) > 0 })
	resolved := "K1-261205-00042"
	e.kioskReport(t, resolved, "b2", "")
	for _, op := range []string{contract.OpTicketAccept, contract.OpTicketResolve} {
		if _, err := e.hub.Do(context.Background(), e.worker("w-li"), &contract.Request{ID: "t", Op: op, Args: map[string]string{"number": resolved, "note": "已更换水管"}}); err != nil {
			t.Fatal(err)
		}
	}

	out := os.Getenv("LINLI_SCREENS")
	public := []string{"/", "/login", "/report", "/t", "/t/" + resolved, "/c/east"}
	console := []string{"/alerts", "/tickets", "/tickets/" + n, "/wishes", "/notices", "/devices"}
	for _, size := range [][2]int64{{390, 844}, {1280, 800}} {
		for _, lang := range []string{"zh", "en"} {
			t.Run(fmt.Sprintf("%dx%d-%s", size[0], size[1], lang), func(t *testing.T) {
				ctx := e.tab(t, size[0], size[1])
				if err := chromedp.Do(ctx, chromedp.Navigate(e.url+"/lang/"+lang)); err != nil {
					t.Fatal(err)
				}
				shoot := func(path string) {
					file := ""
					if out != "" {
						name := strings.Trim(strings.NewReplacer("/", "-").Replace(path), "-")
						if name == "" {
							name = "home"
						}
						file = filepath.Join(out, fmt.Sprintf("%s-%dx%d-%s.png", name, size[0], size[1], lang))
					}
					shoot(t, ctx, e.url+path, file)
				}
				for _, p := range public {
					shoot(p)
				}
				e.login(t, ctx, "w-li", "li-dev")
				for _, p := range console {
					shoot(p)
				}
			})
		}
	}
}
