package ui_test

import (
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"

	"linli/mqtt/contract"
	"linli/ui/i18n"
	"linli/ui/uitest"
)

// TestAlertSaysWhoComes checks that the full-screen alert says the grid
// worker has been told while nobody has acknowledged, and who is on the way
// — role and name — only after an acknowledgement.
func TestAlertSaysWhoComes(t *testing.T) {
	acked := func(a contract.Alert, role, name string) contract.Alert {
		a.AckedBy, a.AckedAt, a.AckedRole, a.AckedName = "w-li", time.Date(2026, 11, 27, 8, 31, 0, 0, time.UTC), role, name
		return a
	}
	escalated := uitest.FireAlert("a1", "3")
	escalated.Level = "community"
	tests := []struct {
		name     string
		lang     i18n.Lang
		alerts   []contract.Alert
		want     []string
		dontWant []string
	}{
		{"told", i18n.ZH, []contract.Alert{uitest.FireAlert("a1", "3")},
			[]string{"已通知网格员"}, []string{"正在赶来"}},
		{"told-en", i18n.EN, []contract.Alert{uitest.FireAlert("a1", "3")},
			[]string{"Your grid worker has been told"}, []string{"on the way"}},
		{"escalated", i18n.ZH, []contract.Alert{escalated},
			[]string{"已通知社区工作人员"}, []string{"正在赶来", "已通知网格员"}},
		{"coming", i18n.ZH, []contract.Alert{acked(uitest.FireAlert("a1", "3"), "grid-worker", "李娜")},
			[]string{"网格员李娜正在赶来"}, []string{"已通知"}},
		{"coming-en", i18n.EN, []contract.Alert{acked(uitest.FireAlert("a1", "3"), "grid-worker", "Li Na")},
			[]string{"Grid worker Li Na is on the way"}, []string{"has been told"}},
		{"coming-no-name", i18n.ZH, []contract.Alert{acked(uitest.FireAlert("a1", "3"), "community", "")},
			[]string{"社区工作人员正在赶来"}, []string{"已通知"}},
		{"one-of-two", i18n.ZH, []contract.Alert{acked(uitest.FireAlert("a1", "3"), "grid-worker", "李娜"), uitest.FireAlert("a2", "4")},
			[]string{"网格员李娜正在赶来", "已通知网格员"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			newApp(t)
			r := newRig(t, nil, fyne.NewSize(1024, 600), tt.lang)
			r.b.SetAlerts(tt.alerts...)
			r.k.Changed("alerts")
			if !r.k.AlertShown() {
				t.Fatal("alert not shown")
			}
			txt := r.k.Texts()
			for _, w := range tt.want {
				if !strings.Contains(txt, w) {
					t.Errorf("alert lacks %q:\n%s", w, txt)
				}
			}
			for _, w := range tt.dontWant {
				if strings.Contains(txt, w) {
					t.Errorf("alert says %q:\n%s", w, txt)
				}
			}
		})
	}
}

// TestAlertAckKeepsDismissal checks that an acknowledgement arriving at the
// hub changes the text of an open alert but does not bring back an alert
// the resident dismissed: it is the same alert.
func TestAlertAckKeepsDismissal(t *testing.T) {
	newApp(t)
	r := newRig(t, nil, fyne.NewSize(1024, 600), i18n.ZH)
	a := uitest.FireAlert("a1", "3")
	r.b.SetAlerts(a)
	r.k.Changed("alerts")
	if !strings.Contains(r.k.Texts(), "已通知网格员") {
		t.Fatalf("before the ack:\n%s", r.k.Texts())
	}
	a.AckedBy, a.AckedRole, a.AckedName = "w-li", "grid-worker", "李娜"
	r.b.SetAlerts(a)
	r.k.Changed("alerts")
	if txt := r.k.Texts(); !strings.Contains(txt, "网格员李娜正在赶来") || strings.Contains(txt, "已通知") {
		t.Errorf("after the ack the open alert says:\n%s", txt)
	}
	r.tap("alert.understand")
	if txt := r.k.Texts(); !strings.Contains(txt, "网格员李娜正在赶来") {
		t.Errorf("the banner does not say who is coming:\n%s", txt)
	}
	a.Description = "changed"
	r.b.SetAlerts(a)
	r.k.Changed("alerts")
	if r.k.AlertShown() {
		t.Error("a change of the dismissed alert covers the screen again")
	}
}
