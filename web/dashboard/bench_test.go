package dashboard_test

import (
	"bytes"
	"testing"
	"time"

	"linli/grid/tickets"
	"linli/web/dashboard"
)

// BenchmarkRenderYear measures one rendering of the subdistrict's
// dashboard when the stores hold a year of alerts and tickets (the charts
// show the last 30 days, but every alert and ticket on disk is read),
// against the baseline, timed in the same loop, of reading the same
// stores alone (Alerts(true), the ticket list, the devices): the figure
// x-reads is what drawing adds on top of the reads it cannot avoid.
func BenchmarkRenderYear(b *testing.B) {
	dir := b.TempDir()
	m, err := buildPeriod(dir, 365)
	if err != nil {
		b.Fatal(err)
	}
	defer m.stop()
	d, err := dashboard.New(&dashboard.Options{Config: m.cfg, Alerts: m.hub, Devices: m.hub, Tickets: m.tickets, Zone: shanghai, Now: m.clock.Now})
	if err != nil {
		b.Fatal(err)
	}
	alerts, _ := m.hub.Alerts(true)
	ts, _ := m.tickets.List(tickets.Filter{})
	var buf bytes.Buffer
	// Each op is reps renderings, so that `make bench` (-benchtime 1x)
	// gets a warm, steady figure.
	const reps = 5
	var reads, renders time.Duration
	b.ResetTimer()
	for range b.N * reps {
		t0 := time.Now()
		if _, err := m.hub.Alerts(true); err != nil {
			b.Fatal(err)
		}
		if _, err := m.tickets.List(tickets.Filter{}); err != nil {
			b.Fatal(err)
		}
		m.hub.Devices()
		t1 := time.Now()
		buf.Reset()
		if err := d.Render(&buf, dashboard.Scope{}, "zh"); err != nil {
			b.Fatal(err)
		}
		renders += time.Since(t1)
		reads += t1.Sub(t0)
	}
	b.ReportMetric(float64(renders.Microseconds())/1000/float64(b.N*reps), "ms/render")
	b.ReportMetric(float64(renders)/float64(reads), "x-reads")
	b.ReportMetric(float64(buf.Len())/1024, "KB/page")
	b.ReportMetric(float64(len(alerts)), "alerts")
	b.ReportMetric(float64(len(ts)), "tickets")
}
