package dashboard

import (
	"fmt"
	"strings"
	"time"

	"linli/web/chart"
)

// style is the fragment's stylesheet, scoped to .linli-dash: one column at
// phone width, more where there is room.
const style = `<style>
.linli-dash{font-family:` + chart.FontFamily + `;color:#202124;max-width:1200px;margin:0 auto}
.linli-dash h2{font-size:1.25rem;margin:0 0 4px}
.linli-dash .period{color:#5f6368;font-size:.875rem;margin:0 0 12px}
.linli-dash .charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:12px}
.linli-dash figure{margin:0;padding:12px;border:1px solid #dadce0;border-radius:8px;background:#fff;min-width:0}
.linli-dash h3{font-size:1rem;margin:0 0 8px}
.linli-dash svg{display:block;height:auto}
.linli-dash figcaption{font-size:.875rem;color:#3c4043;margin-top:8px;line-height:1.45}
</style>
`

// render writes the fragment.
func (d *Dashboard) render(b *strings.Builder, x *data, scope Scope, l lang) error {
	o := &d.o
	where := l.t("全街道", "Whole subdistrict")
	for _, c := range o.Config.Communities {
		if c.ID == scope.Community {
			where = l.name(c.Name)
		}
	}
	fmt.Fprintf(b, `<section class="linli-dash" lang="%s" aria-label="%s">`+"\n", l.t("zh-CN", "en"), esc(l.t("数据看板：", "Dashboard: ")+where))
	b.WriteString(style)
	fmt.Fprintf(b, "<h2>%s</h2>\n", esc(where+l.t(" · 近", " · last ")+fmt.Sprint(o.Days)+l.t("天", " days")))
	fmt.Fprintf(b, `<p class="period">%s – %s</p>`+"\n", x.from.Format("2006-01-02"), x.now.Format("2006-01-02 15:04"))
	b.WriteString(`<div class="charts">` + "\n")
	var err error
	figure := func(id, heading, caption string, draw func() error) {
		if err != nil {
			return
		}
		fmt.Fprintf(b, `<figure id="%s" aria-labelledby="%s-h"><h3 id="%s-h">%s</h3>`+"\n", id, id, id, esc(heading))
		err = draw()
		fmt.Fprintf(b, "<figcaption>%s</figcaption></figure>\n", esc(caption))
	}

	if x.hasAlerts {
		alarms, faults, busiest := 0, 0, -1
		for i, dc := range x.days {
			alarms += dc.alarm
			faults += dc.faults
			if busiest < 0 || dc.alarm+dc.faults > x.days[busiest].alarm+x.days[busiest].faults {
				busiest = i
			}
		}
		bars := &chart.Bars{ID: "ld-days", Series: []chart.Series{{Name: l.t("报警", "Alarms"), Color: chart.Red}, {Name: l.t("故障", "Faults"), Color: chart.Amber}},
			LabelEvery: 7}
		for _, dc := range x.days {
			bars.Bars = append(bars.Bars, chart.Bar{Label: l.day(dc.day), Values: []float64{float64(dc.alarm), float64(dc.faults)}})
		}
		var caption string
		if alarms+faults == 0 {
			caption = l.t(fmt.Sprintf("近%d天没有报警和故障。", o.Days), fmt.Sprintf("No alarms and no faults in the last %d days.", o.Days))
		} else {
			bd := x.days[busiest]
			caption = l.t(fmt.Sprintf("近%d天共%d次报警、%d次故障；最多的一天是%s（%d次）。", o.Days, alarms, faults, l.longDay(bd.day), bd.alarm+bd.faults),
				fmt.Sprintf("%d alarms and %d faults in the last %d days; the busiest day was %s (%d).", alarms, faults, o.Days, l.longDay(bd.day), bd.alarm+bd.faults))
		}
		bars.Title, bars.Desc = l.t("每日报警", "Alarms per day"), caption
		figure("ld-days", bars.Title, caption, func() error { return bars.WriteSVG(b) })

		gb := &chart.Bars{ID: "ld-grids", Horizontal: true, Series: bars.Series}
		top, quiet := -1, 0
		for i, g := range x.grids {
			label := l.name(g.name)
			if g.community != "" {
				label = l.name(g.community) + l.t("·", " · ") + label
			}
			if g.id == "unassigned" {
				label = l.t("未划入网格", "No grid")
			}
			gb.Bars = append(gb.Bars, chart.Bar{Label: label, Values: []float64{float64(g.alarm), float64(g.faults)}})
			if g.alarm+g.faults == 0 {
				quiet++
			} else if top < 0 || g.alarm+g.faults > x.grids[top].alarm+x.grids[top].faults {
				top = i
			}
		}
		caption = l.t("各网格都没有报警。", "No grid had an alarm.")
		if top >= 0 {
			most := gb.Bars[top]
			caption = l.t(fmt.Sprintf("报警最多的是%s（%d次）", most.Label, int(most.Total())),
				fmt.Sprintf("Most alerts: %s (%d)", most.Label, int(most.Total())))
			if quiet == 0 {
				caption += l.t("；每个网格都有报警。", "; every grid had some.")
			} else {
				caption += l.t(fmt.Sprintf("；%d个网格没有报警。", quiet), fmt.Sprintf("; %s had none.", plural(quiet, "grid", "grids")))
			}
		}
		gb.Title, gb.Desc = l.t("各网格报警", "Alerts per grid"), caption
		figure("ld-grids", gb.Title, caption, func() error { return gb.WriteSVG(b) })

		dist := &chart.Distribution{ID: "ld-response", TickLabel: l.tick,
			Rows: []chart.Spread{
				{Label: l.t("报警→确认", "Raised → acknowledged"), Values: x.ack, Color: chart.Blue},
				{Label: l.t("确认→解除", "Acknowledged → cleared"), Values: x.handle, Color: chart.Green},
				{Label: l.t("报警→解除", "Raised → cleared"), Values: x.total, Color: chart.Grey},
			},
			RowLabel: func(s chart.Spread, q [5]time.Duration) string {
				if len(s.Values) == 0 {
					return s.Label + l.t("：无", ": none")
				}
				return s.Label + l.t(fmt.Sprintf("：%d次，中位%s", len(s.Values), l.duration(q[2])),
					fmt.Sprintf(": %d, median %s", len(s.Values), l.duration(q[2])))
			}}
		qa, qh := chart.Quartiles(x.ack), chart.Quartiles(x.handle)
		caption = l.t("近期没有已确认的报警。", "No acknowledged alarms in the period.")
		if len(x.ack) > 0 {
			caption = l.t(fmt.Sprintf("确认用时中位%s（最长%s）", l.duration(qa[2]), l.duration(qa[4])),
				fmt.Sprintf("Median time to acknowledge %s (longest %s)", l.duration(qa[2]), l.duration(qa[4])))
			if len(x.handle) > 0 {
				caption += l.t(fmt.Sprintf("，确认到解除中位%s", l.duration(qh[2])), fmt.Sprintf("; acknowledged to cleared, median %s", l.duration(qh[2])))
			}
			caption += l.t("。", ".")
		}
		if x.unacked > 0 {
			caption += l.t(fmt.Sprintf("%d次报警尚无人确认。", x.unacked), fmt.Sprintf(" %d alarms not acknowledged yet.", x.unacked))
		}
		dist.Title, dist.Desc = l.t("响应时间分布", "Response times"), caption+l.t("（对数时间轴；箱体为中间一半，竖线为中位数）", " (log time axis; the box holds the middle half, the bar is the median)")
		figure("ld-response", dist.Title, caption, func() error { return dist.WriteSVG(b) })
	}

	if x.hasTickets {
		sb := &chart.Bars{ID: "ld-status", Horizontal: true, Series: []chart.Series{{Color: chart.Blue}}}
		for _, s := range x.statuses {
			sb.Bars = append(sb.Bars, chart.Bar{Label: l.status(s.id), Values: []float64{float64(s.n)}})
		}
		caption := l.t(fmt.Sprintf("共%d张工单，%d张尚未办结。", x.ticketsN, x.openN), fmt.Sprintf("%d tickets, %d still open.", x.ticketsN, x.openN))
		sb.Title, sb.Desc = l.t("工单状态", "Tickets by status"), caption
		figure("ld-status", sb.Title, caption, func() error { return sb.WriteSVG(b) })

		cb := &chart.Bars{ID: "ld-category", Horizontal: true, Series: []chart.Series{{Color: chart.Blue}}}
		filed := 0
		for _, c := range x.categories {
			cb.Bars = append(cb.Bars, chart.Bar{Label: l.category(o, c.id), Values: []float64{float64(c.n)}})
			filed += c.n
		}
		caption = l.t(fmt.Sprintf("近%d天没有新工单。", o.Days), fmt.Sprintf("No new tickets in the last %d days.", o.Days))
		if len(cb.Bars) > 0 {
			caption = l.t(fmt.Sprintf("近%d天新增%d张工单，最多的类别是%s（%d张）。", o.Days, filed, cb.Bars[0].Label, x.categories[0].n),
				fmt.Sprintf("%d new tickets in the last %d days; the commonest category was %s (%d).", filed, o.Days, cb.Bars[0].Label, x.categories[0].n))
		}
		cb.Title, cb.Desc = l.t("工单类别", "Tickets by category"), caption
		figure("ld-category", cb.Title, caption, func() error {
			if len(cb.Bars) == 0 {
				return nil
			}
			return cb.WriteSVG(b)
		})

		rb := &chart.Bars{ID: "ld-satisfaction", Series: []chart.Series{
			{Name: l.t("满意", "Satisfied"), Color: chart.Green},
			{Name: l.t("基本满意", "Basically"), Color: chart.Yellow},
			{Name: l.t("不满意", "Unsatisfied"), Color: chart.Red},
		}}
		good, all := 0, 0
		for _, w := range x.weeks {
			rb.Bars = append(rb.Bars, chart.Bar{Label: l.day(w.start) + "–", Values: []float64{float64(w.satisfied), float64(w.basic), float64(w.unsat)}})
			good += w.satisfied + w.basic
			all += w.satisfied + w.basic + w.unsat
		}
		caption = l.t(fmt.Sprintf("近%d天没有评价。", o.Days), fmt.Sprintf("No ratings in the last %d days.", o.Days))
		if all > 0 {
			caption = l.t(fmt.Sprintf("近%d天收到%d次评价，满意和基本满意占%d%%。", o.Days, all, (good*100+all/2)/all),
				fmt.Sprintf("%d ratings in the last %d days; %d%% satisfied or basically satisfied.", all, o.Days, (good*100+all/2)/all))
		}
		rb.Title, rb.Desc = l.t("满意度（按周）", "Satisfaction by week"), caption
		figure("ld-satisfaction", rb.Title, caption, func() error { return rb.WriteSVG(b) })
	}

	if x.hasDevices {
		db := &chart.Bars{ID: "ld-devices", Horizontal: true, Series: []chart.Series{{Name: l.t("在线", "Online"), Color: chart.Green}, {Name: l.t("离线", "Offline"), Color: chart.Grey}}}
		on, all := 0, 0
		for _, k := range x.kinds {
			db.Bars = append(db.Bars, chart.Bar{Label: l.kind(k.kind), Values: []float64{float64(k.online), float64(k.total - k.online)},
				Note: fmt.Sprintf("%d/%d", k.online, k.total)})
			on += k.online
			all += k.total
		}
		caption := l.t(fmt.Sprintf("%d台设备中%d台在线。", all, on), fmt.Sprintf("%d of %d devices online.", on, all))
		if len(x.offline) > 0 {
			list := x.offline
			more := ""
			if len(list) > 6 {
				list, more = list[:6], l.t("等", " and others")
			}
			caption += l.t("离线：", " Offline: ") + strings.Join(list, l.t("、", ", ")) + more + l.t("。", ".")
		}
		db.Title, db.Desc = l.t("设备在线", "Devices online"), caption
		figure("ld-devices", db.Title, caption, func() error { return db.WriteSVG(b) })
	}
	b.WriteString("</div>\n</section>\n")
	return err
}
