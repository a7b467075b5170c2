package web

import (
	"fmt"
	"html/template"
	"strings"

	"linli/grid/config"
	"linli/grid/hub"
	"linli/mqtt/contract"
)

// plan draws community c's buildings as an SVG: one row per grid, one box
// per building, a dot per device coloured by its state. The layout comes
// from the configuration only (it has no coordinates): it is a map of
// who answers for what, not of the ground. Buildings of grids w does not
// see are drawn faded.
func plan(c config.Community, ds []contract.DeviceInfo, w config.Worker, lang string) template.HTML {
	const (
		box, gap, head, rowH = 64, 10, 22, 100
	)
	cols := 1
	for _, g := range c.Grids {
		cols = max(cols, len(g.Buildings))
	}
	width := gap + cols*(box+gap)
	height := len(c.Grids)*rowH + gap
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="plan" viewBox="0 0 %d %d" role="img" aria-label="%s">`, width, height, template.HTMLEscapeString(pickName(c.Name, lang)))
	for i, g := range c.Grids {
		y := gap + i*rowH
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="pg">%s</text>`, gap, y+14, template.HTMLEscapeString(pickName(g.Name, lang)))
		for j, bld := range g.Buildings {
			x := gap + j*(box+gap)
			loc := contract.Location{Community: c.ID, Grid: g.ID, Building: bld}
			cls := "pb"
			if !hub.Sees(w, loc) {
				cls += " far"
			}
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" rx="6" class="%s"/>`, x, y+head, box, rowH-head-gap, cls)
			fmt.Fprintf(&b, `<text x="%d" y="%d" class="pn">%s</text>`, x+box/2, y+head+18, template.HTMLEscapeString(tr(lang, "place.building", bld)))
			k := 0
			for _, d := range ds {
				if d.Location.Community != c.ID || d.Location.Building != bld {
					continue
				}
				cx, cy := x+12+(k%4)*14, y+head+36+(k/4)*14
				id := template.HTMLEscapeString(d.Device)
				fmt.Fprintf(&b, `<circle cx="%d" cy="%d" r="6" class="d-%s" data-device="%s"><title>%s %s</title></circle>`,
					cx, cy, deviceState(d), id, id, tr(lang, "state."+deviceState(d)))
				k++
			}
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // #nosec G203 -- every text in it is escaped above
}
