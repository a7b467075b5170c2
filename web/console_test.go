package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"linli/mqtt/contract"
)

// TestConsoleForms works a ticket, a wish and a notice through the
// console's forms, as a phone's browser posts them.
func TestConsoleForms(t *testing.T) {
	e := getEnv(t)
	n := "K1-261205-00071"
	e.kioskReport(t, n, "b3", "")
	li := e.client(t)
	tok := li.login("w-li", "li-dev")
	post := func(c *client, path string, form url.Values, want int) string {
		t.Helper()
		code, body := c.post(path, form)
		if code != want {
			t.Fatalf("POST %s %v: %d, want %d\n%.300s", path, form, code, want, body)
		}
		return body
	}
	f := func(kv ...string) url.Values {
		v := url.Values{"csrf": {tok}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	post(li, "/tickets/"+n+"/accept", f(), http.StatusSeeOther)
	post(li, "/tickets/"+n+"/start", f(), http.StatusSeeOther)
	post(li, "/tickets/"+n+"/resolve", f(), http.StatusBadRequest) // a note is needed
	post(li, "/tickets/"+n+"/accept", f(), http.StatusConflict)    // in progress already
	post(li, "/tickets/"+n+"/frobnicate", f(), http.StatusNotFound)
	loc := post(li, "/tickets/"+n+"/resolve", f("note", "灯泡已更换", "next", "/tickets/"+n), http.StatusSeeOther)
	if !strings.HasSuffix(loc, "/tickets/"+n) {
		t.Errorf("after resolve: redirected to %q", loc)
	}
	tk, err := e.tickets.Get(n)
	if err != nil || tk.Status != "resolved" || tk.Assigned != "w-li" {
		t.Fatalf("ticket after the forms: %+v, %v", tk.Status, err)
	}
	if _, body := li.get("/tickets/" + n); !strings.Contains(body, "灯泡已更换") || !strings.Contains(body, "已办结") {
		t.Error("the ticket page lacks the resolution")
	}
	if loc := post(li, "/tickets/"+n+"/close", f("next", "//evil.example/"), http.StatusSeeOther); strings.Contains(loc, "evil") {
		t.Errorf("a form's next took the worker off the site: %q", loc)
	}

	// A wish: claimed for a volunteer, then done.
	k := e.device(t, "kiosk-1")
	k.send(t, &contract.Wish{ID: "wish-forms", Device: "kiosk-1", Text: "帮忙买药", Location: contract.Location{Community: "east", Building: "b1"},
		Time: contract.Stamp{At: time.Now(), Synced: true}}, "report", false)
	eventually(t, "the wish", func() bool { _, err := e.tickets.Wish("wish-forms"); return err == nil })
	post(li, "/wishes/wish-forms/claim", f(), http.StatusBadRequest) // whose name?
	post(li, "/wishes/wish-forms/claim", f("by", "志愿者小张"), http.StatusSeeOther)
	post(li, "/wishes/wish-forms/done", f(), http.StatusSeeOther)
	if w, _ := e.tickets.Wish("wish-forms"); w.ClaimedBy != "志愿者小张" || !w.Done {
		t.Errorf("wish after the forms: %+v", w)
	}

	// A notice: a grid worker may not publish; community staff may, with a
	// typhoon level and an expiry.
	post(li, "/notices", f("community", "east", "title", "x", "level", "info"), http.StatusForbidden)
	chen := e.client(t)
	ct := chen.login("c-chen", "chen-dev")
	post(chen, "/notices", url.Values{"csrf": {ct}, "community": {"east"}, "title": {"台风来袭"}, "body": {"请收好阳台物品"},
		"level": {"typhoon"}, "typhoon": {"orange"}, "hours": {"24"}}, http.StatusSeeOther)
	post(chen, "/notices", url.Values{"csrf": {ct}, "community": {"east"}, "title": {"x"}, "level": {"loud"}}, http.StatusBadRequest)
	ns, err := e.tickets.Notices("east")
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, no := range ns.Notices {
		if strings.Contains(no.Title, "台风来袭") {
			found = true
			if no.Level != "typhoon" || !strings.Contains(no.Title, "橙色") || no.Expires.Sub(no.Published) != 24*time.Hour {
				t.Errorf("notice %+v", no)
			}
		}
	}
	if !found {
		t.Fatalf("notice not published: %+v", ns)
	}
	if _, body := e.client(t).get("/c/east"); !strings.Contains(body, "台风来袭") {
		t.Error("the community page lacks the notice")
	}
}
