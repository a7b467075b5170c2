package dashboard

import (
	"fmt"
	"time"
)

// day writes a short date: 11/27 in both languages.
func (l lang) day(t time.Time) string { return fmt.Sprintf("%d/%d", t.Month(), t.Day()) }

// longDay writes 11月27日 or 27 Nov.
func (l lang) longDay(t time.Time) string {
	return l.t(fmt.Sprintf("%d月%d日", t.Month(), t.Day()), t.Format("2 Jan"))
}

// duration writes a response time the way people say it: 45秒, 4分钟,
// 1小时5分; 45 s, 4 min, 1 h 5 min.
func (l lang) duration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return l.t(fmt.Sprintf("%d秒", int(d.Seconds())), fmt.Sprintf("%d s", int(d.Seconds())))
	case d < time.Hour:
		m := int(d.Round(time.Minute).Minutes())
		return l.t(fmt.Sprintf("%d分钟", m), fmt.Sprintf("%d min", m))
	case d < 48*time.Hour:
		d = d.Round(time.Minute)
		h, m := int(d.Hours()), int(d.Minutes())%60
		if m == 0 {
			return l.t(fmt.Sprintf("%d小时", h), fmt.Sprintf("%d h", h))
		}
		return l.t(fmt.Sprintf("%d小时%d分", h, m), fmt.Sprintf("%d h %d min", h, m))
	}
	days := int(d.Round(time.Hour).Hours() / 24)
	return l.t(fmt.Sprintf("%d天", days), fmt.Sprintf("%d days", days))
}

// tick names an axis tick of the response time chart.
func (l lang) tick(d time.Duration) string {
	switch {
	case d < time.Minute:
		return l.t(fmt.Sprintf("%d秒", int(d.Seconds())), fmt.Sprintf("%ds", int(d.Seconds())))
	case d < time.Hour:
		return l.t(fmt.Sprintf("%d分", int(d.Minutes())), fmt.Sprintf("%dm", int(d.Minutes())))
	case d < 24*time.Hour:
		return l.t(fmt.Sprintf("%d时", int(d.Hours())), fmt.Sprintf("%dh", int(d.Hours())))
	}
	return l.t(fmt.Sprintf("%d天", int(d.Hours()/24)), fmt.Sprintf("%dd", int(d.Hours()/24)))
}

var statusNames = map[string][2]string{
	"submitted":   {"待受理", "Submitted"},
	"accepted":    {"已签收", "Accepted"},
	"in-progress": {"处理中", "In progress"},
	"resolved":    {"已办结", "Resolved"},
	"rated":       {"已评价", "Rated"},
	"closed":      {"已归档", "Closed"},
	"returned":    {"退单", "Returned"},
	"escalated":   {"督办", "Escalated"},
	"reopened":    {"重办", "Reopened"},
	"duplicate":   {"重复", "Duplicate"},
}

func (l lang) status(s string) string {
	if n, ok := statusNames[s]; ok {
		return l.t(n[0], n[1])
	}
	return s
}

func (l lang) category(o *Options, id string) string {
	if c, ok := o.Catalog.Category(id); ok {
		return l.t(c.Zh, c.En)
	}
	if id == "" {
		return l.t("未分类", "Uncategorised")
	}
	return id
}

func (l lang) kind(k string) string {
	switch k {
	case "sensor":
		return l.t("电气火灾传感器", "Fire sensors")
	case "kiosk":
		return l.t("自助服务终端", "Kiosks")
	}
	return k
}

// plural writes "1 grid", "2 grids".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
