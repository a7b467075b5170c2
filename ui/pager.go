package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"

	"linli/ui/skin"
)

// pager is a layout that shows tiles a page at a time: as many columns of
// at least minW as fit the width, as many rows of the tallest tile as fit
// the height. A grid that scrolls shows its last row cut in half on a short
// panel, which looks broken, and a resident who does not know to scroll
// never finds the tiles below it. When the tiles need more than one page,
// a page before the last ends with the more tile, and a page after the
// first begins with the prev tile.
type pager struct {
	minW       float32
	page       int // the page asked for
	shown      int // the page shown: page, within the pages there are
	tiles      []fyne.CanvasObject
	prev, more fyne.CanvasObject
}

// pages lays tiles out a page at a time, in columns at least minW wide
// (scaled for large text). more labels the tile to the next page; the
// tiles to the next and the previous page carry arrows of edge is (0: no
// arrows). The page shown is k.s.page.
func (k *Kiosk) pages(minW, is float32, more string, tiles ...fyne.CanvasObject) fyne.CanvasObject {
	for _, o := range tiles {
		if t, ok := o.(*tap); ok {
			t.min.Width = k.size(skin.SizeTile)
		}
	}
	p := &pager{minW: minW * k.scale(), page: k.s.page, tiles: tiles}
	var back, next fyne.Resource
	if is > 0 {
		// Not an arrow for more: a category (parking) has one.
		back, next = theme.NavigateBackIcon(), theme.MoreHorizontalIcon()
	}
	p.prev = k.iconButton(k.t("app.prevpage"), back, is, plain, func() { k.s.page = p.shown - 1; k.render() })
	p.more = k.iconButton(more, next, is, plain, func() { k.s.page = p.shown + 1; k.render() })
	objs := append([]fyne.CanvasObject{p.prev, p.more}, tiles...)
	return container.New(p, objs...)
}

// split returns the cells of every page for capacity cells a page.
func (p *pager) split(capacity int) [][]fyne.CanvasObject {
	n := len(p.tiles)
	if n <= capacity {
		return [][]fyne.CanvasObject{p.tiles}
	}
	var pages [][]fyne.CanvasObject
	for i := 0; i < n; {
		var cells []fyne.CanvasObject
		room := capacity
		if i > 0 {
			cells = append(cells, p.prev)
			room--
		}
		if n-i > room {
			room-- // for more
		}
		room = max(room, 1) // a panel too short for three cells: overflow
		end := min(n, i+room)
		cells = append(cells, p.tiles[i:end]...)
		if end < n {
			cells = append(cells, p.more)
		}
		pages = append(pages, cells)
		i = end
	}
	return pages
}

// Layout implements fyne.Layout.
func (p *pager) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	pad := theme.Padding()
	cols := min(max(2, int((size.Width+pad)/(p.minW+pad))), max(1, len(p.tiles)))
	cw := (size.Width - pad*float32(cols-1)) / float32(cols)
	hs := map[fyne.CanvasObject]float32{} // each tile's height at the column's width
	var lo float32                        // the shortest
	for _, o := range objs {
		o.Resize(fyne.NewSize(cw, o.MinSize().Height))
		hs[o] = o.MinSize().Height
		if lo == 0 || hs[o] < lo {
			lo = hs[o]
		}
	}
	// As many rows as there is height for, each as high as the tallest
	// tile it may hold.
	var pages [][]fyne.CanvasObject
	rows := max(1, int((size.Height+pad)/(lo+pad)))
	for ; ; rows-- {
		pages = p.split(rows * cols)
		if rows == 1 || fits(pages, hs, (size.Height-pad*float32(rows-1))/float32(rows)) {
			break
		}
	}
	p.shown = min(max(p.page, 0), len(pages)-1)
	cells := pages[p.shown]
	for _, o := range objs {
		o.Hide()
	}
	used := (len(cells) + cols - 1) / cols
	if len(pages) > 1 {
		used = rows // every page the same tile size
	}
	rh := (size.Height - pad*float32(used-1)) / float32(used)
	for i, o := range cells {
		o.Move(fyne.NewPos(float32(i%cols)*(cw+pad), float32(i/cols)*(rh+pad)))
		o.Resize(fyne.NewSize(cw, rh))
		o.Show()
	}
}

// fits reports whether every cell of every page is at most h high.
func fits(pages [][]fyne.CanvasObject, hs map[fyne.CanvasObject]float32, h float32) bool {
	for _, cells := range pages {
		for _, o := range cells {
			if hs[o] > h {
				return false
			}
		}
	}
	return true
}

// MinSize implements fyne.Layout: one page needs room for two tiles side by
// side.
func (p *pager) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var m fyne.Size
	for _, o := range objs {
		m = m.Max(o.MinSize())
	}
	return fyne.NewSize(2*m.Width+theme.Padding(), m.Height)
}
