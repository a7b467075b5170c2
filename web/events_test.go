package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"linli/mqtt/contract"
)

// sse is one server-sent event.
type sse struct {
	name, data string
}

// stream opens path's event stream as c and returns its events; the
// stream closes when the test ends.
func (c *client) stream(path string) <-chan sse {
	c.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", c.e.url+path, nil)
	req.Header.Set("Accept", "text/event-stream")
	hc := *c.c
	hc.Timeout = 0 // a stream lasts
	r, err := hc.Do(req)
	if err != nil {
		cancel()
		c.t.Fatal(err)
	}
	if r.StatusCode != http.StatusOK {
		cancel()
		r.Body.Close()
		c.t.Fatalf("%s: %d", path, r.StatusCode)
	}
	out := make(chan sse, 64)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(out)
		defer r.Body.Close()
		s := bufio.NewScanner(r.Body)
		s.Buffer(nil, 1<<20)
		var ev sse
		for s.Scan() {
			switch l := s.Text(); {
			case strings.HasPrefix(l, "event: "):
				ev.name = strings.TrimPrefix(l, "event: ")
			case strings.HasPrefix(l, "data: "):
				ev.data = strings.TrimPrefix(l, "data: ")
			case l == "" && ev.name != "":
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
				ev = sse{}
			}
		}
	}()
	c.t.Cleanup(func() { cancel(); wg.Wait() })
	return out
}

// next returns the first event of ch that match accepts, failing the
// test after a while.
func next(t *testing.T, ch <-chan sse, what string, match func(sse) bool) sse {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("stream ended before %s", what)
			}
			if match(ev) {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s", what)
		}
	}
}

type alertEvent struct {
	ID   string `json:"id"`
	HTML string `json:"html"`
	Gone bool   `json:"gone"`
}

func alertOf(t *testing.T, ev sse) alertEvent {
	t.Helper()
	var a alertEvent
	if err := json.Unmarshal([]byte(ev.data), &a); err != nil {
		t.Fatalf("%s event's data %q: %v", ev.name, ev.data, err)
	}
	return a
}

// TestAlertEventCarriesCard: a console's stream pushes a new alert's card,
// in the page's language and with the session's own CSRF token (two
// sessions get two tokens from the one shared rendering), then its
// clearing; a worker of another grid gets nothing of it.
func TestAlertEventCarriesCard(t *testing.T) {
	e := getEnv(t)
	zh, en, wang := e.client(t), e.client(t), e.client(t)
	zhTok := zh.login("w-li", "li-dev")
	enTok := en.login("w-li", "li-dev")
	en.get("/lang/en?next=/alerts")
	wang.login("w-wang", "wang-dev")
	zhs, ens, wangs := zh.stream("/events"), en.stream("/events"), wang.stream("/events")

	d := e.device(t, "mb-1")
	d.send(t, &contract.Birth{Device: "mb-1", Kind: "sensor", Session: 1, Firmware: "1.0.0"}, "birth", true)
	d.event(t, "push", contract.StatePreAlarm, contract.StateAlarm, "threshold")
	isPush := func(ev sse) bool { return ev.name == "alert" && strings.Contains(ev.data, "mb-1/push") }
	a := alertOf(t, next(t, zhs, "alert event (zh)", isPush))
	b := alertOf(t, next(t, ens, "alert event (en)", isPush))
	if a.ID == "" || a.ID != b.ID || a.Gone {
		t.Fatalf("alert events: %+v and %+v", a, b)
	}
	for _, c := range []struct {
		name      string
		ev        alertEvent
		tok, text string
		other     string
	}{{"zh", a, zhTok, "温度报警", enTok}, {"en", b, enTok, "overheating", zhTok}} {
		for _, want := range []string{`data-alert="` + a.ID + `"`, "data-unacked", `name="csrf" value="` + c.tok + `"`, c.text} {
			if !strings.Contains(c.ev.HTML, want) {
				t.Errorf("%s card lacks %q:\n%s", c.name, want, c.ev.HTML)
			}
		}
		if strings.Contains(c.ev.HTML, c.other) || strings.Contains(c.ev.HTML, "csrf-of-this-session") {
			t.Errorf("%s card carries another session's token or the placeholder:\n%s", c.name, c.ev.HTML)
		}
	}

	d.event(t, "push", contract.StateAlarm, contract.StateNormal, "reset")
	gone := alertOf(t, next(t, zhs, "the clearing", func(ev sse) bool { return ev.name == "alert-update" && strings.Contains(ev.data, a.ID) }))
	if !gone.Gone || gone.HTML != "" {
		t.Errorf("cleared alert's event: %+v", gone)
	}

	// Another grid's worker: nothing of it before a later change they see.
	n := "K1-261205-00081"
	e.kioskReport(t, n, "b4", "")
	next(t, wangs, "the sentinel ticket", func(ev sse) bool {
		if strings.Contains(ev.data, a.ID) {
			t.Errorf("w-wang (grid g2) got %s %s", ev.name, ev.data)
		}
		return ev.name == "ticket"
	})
}
