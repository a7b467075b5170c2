package dashboard_test

import (
	"fmt"
	"strings"
	"time"

	"linli/grid/config"
	"linli/mqtt/contract"
	"linli/web/dashboard"
)

// alertList is a fixed list of alerts, standing in for the hub.
type alertList []contract.Alert

func (l alertList) Alerts(bool) ([]contract.Alert, error) { return l, nil }

func Example() {
	cfg, _ := config.Parse(config.Example())
	now := time.Date(2026, 11, 27, 20, 0, 0, 0, time.UTC)
	raised := now.Add(-3 * time.Hour)
	d, err := dashboard.New(&dashboard.Options{
		Config: cfg,
		Alerts: alertList{{ID: "A1", State: contract.StateAlarm, Location: contract.Location{Community: "east", Grid: "east-1", Building: "b1"},
			Raised: raised, AckedAt: raised.Add(2 * time.Minute), Cleared: true, ClearedAt: raised.Add(40 * time.Minute)}},
		Zone: time.UTC,
		Now:  func() time.Time { return now },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	var b strings.Builder
	// The web server calls this inside its page, after checking the role.
	if err := d.Render(&b, dashboard.Scope{Community: "east"}, "en"); err != nil {
		fmt.Println(err)
		return
	}
	page := b.String()
	fmt.Println(strings.Count(page, "<svg"), "charts")
	fmt.Println(strings.Contains(page, "Median time to acknowledge 2 min"))
	// Output:
	// 3 charts
	// true
}
