package dashboard_test

import (
	"bytes"
	"flag"
	"os"
	"testing"

	"linli/web/dashboard"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestMain(m *testing.M) {
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

func TestSmoke(t *testing.T) {
	d := newDashboard(t)
	os.WriteFile("/tmp/dash-zh.html", render(t, d, dashboard.Scope{}, "zh"), 0o644)
	os.WriteFile("/tmp/dash-en.html", render(t, d, dashboard.Scope{Community: "east"}, "en"), 0o644)
}
