package uitest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"linli/kiosk/ticketno"
	"linli/mqtt/contract"
	"linli/ui"
)

// Code is the fake kiosk's ticket code: three characters, the longest a
// kiosk has (ticketno.ValidPrefix), so that screenshots show the widest
// numbers residents see.
const Code = "K01"

// The tickets of Sample, numbered as a kiosk numbers them (package
// ticketno): a resolved one and one in progress. A resident types
// ticketno.Digits of them on the keypad.
var (
	ResolvedTicket = ticketno.Format(Code, time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC), 3)
	OpenTicket     = ticketno.Format(Code, time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), 1)
)

// ErrDown is what the fake's write calls return while Fail is set.
var ErrDown = errors.New("uitest: backend down")

// Backend is an in-memory ui.Backend. Set its exported fields before use, or
// under Lock when a test changes them while the UI runs. The zero value is
// empty and works.
type Backend struct {
	sync.Mutex
	Tickets    map[string]contract.TicketStatus
	WishList   []contract.Wish
	NoticeList []contract.Notice
	Services   []contract.Service
	Active     []contract.Alert
	Fail       bool // write calls fail with ErrDown

	// Filed, Ratings and Posted record the write calls.
	Filed   []ui.Draft
	Ratings []contract.Rating
	Posted  []string
	next    int
}

var _ ui.Backend = (*Backend)(nil)

// FileReport implements ui.Reporter: numbers are those a kiosk with Code
// issues on 2026-11-27, K01-261127-00011 and on.
func (b *Backend) FileReport(ctx context.Context, d ui.Draft) (string, error) {
	b.Lock()
	defer b.Unlock()
	if b.Fail {
		return "", ErrDown
	}
	b.next++
	n := ticketno.Format(Code, time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC), uint64(b.next))
	b.Filed = append(b.Filed, d)
	if b.Tickets == nil {
		b.Tickets = map[string]contract.TicketStatus{}
	}
	b.Tickets[n] = contract.TicketStatus{Number: n, Category: d.Category, Location: d.Location, Status: "submitted",
		Timeline: []contract.TicketStep{{Status: "submitted", At: time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)}}}
	return n, nil
}

// Track implements ui.Reporter, as the kiosk does: the number as written,
// or the ticket whose digits were typed (ticketno.Match).
func (b *Backend) Track(number string) (contract.TicketStatus, bool) {
	b.Lock()
	defer b.Unlock()
	if t, ok := b.Tickets[ticketno.Normalize(number)]; ok {
		return t, true
	}
	for n, t := range b.Tickets {
		if ticketno.Match(n, number) {
			return t, true
		}
	}
	return contract.TicketStatus{}, false
}

// Rate implements ui.Reporter.
func (b *Backend) Rate(ctx context.Context, number, rating, comment string) error {
	b.Lock()
	defer b.Unlock()
	if b.Fail {
		return ErrDown
	}
	b.Ratings = append(b.Ratings, contract.Rating{Number: number, Rating: rating, Comment: comment})
	return nil
}

// Wishes implements ui.Board.
func (b *Backend) Wishes() []contract.Wish {
	b.Lock()
	defer b.Unlock()
	return append([]contract.Wish(nil), b.WishList...)
}

// PostWish implements ui.Board.
func (b *Backend) PostWish(ctx context.Context, text string) error {
	b.Lock()
	defer b.Unlock()
	if b.Fail {
		return ErrDown
	}
	b.Posted = append(b.Posted, text)
	b.WishList = append(b.WishList, contract.Wish{ID: fmt.Sprint("w", len(b.Posted)), Text: text})
	return nil
}

// Notices implements ui.Board.
func (b *Backend) Notices() []contract.Notice {
	b.Lock()
	defer b.Unlock()
	return append([]contract.Notice(nil), b.NoticeList...)
}

// Directory implements ui.Board.
func (b *Backend) Directory() []contract.Service {
	b.Lock()
	defer b.Unlock()
	return append([]contract.Service(nil), b.Services...)
}

// Alerts implements ui.Alerter.
func (b *Backend) Alerts() []contract.Alert {
	b.Lock()
	defer b.Unlock()
	return append([]contract.Alert(nil), b.Active...)
}

// SetAlerts replaces the active alerts.
func (b *Backend) SetAlerts(as ...contract.Alert) {
	b.Lock()
	defer b.Unlock()
	b.Active = as
}

// Clock is a settable clock for Options.Now. The zero value reads as
// 2026-11-27 10:00 UTC.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.t.IsZero() {
		c.t = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	}
	return c.t
}

// Advance moves the clock forward by d and returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	now := c.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = now.Add(d)
	return c.t
}

// Sample returns a backend with a ticket in each interesting state, wishes,
// notices, a directory and no alerts: the data of the golden screenshots.
func Sample() *Backend {
	at := func(h, m int) time.Time { return time.Date(2026, 11, 26, h, m, 0, 0, time.UTC) }
	return &Backend{
		Tickets: map[string]contract.TicketStatus{
			ResolvedTicket: {
				Number: ResolvedTicket, Category: "repair", Status: "resolved", Assigned: "王芳（网格员）",
				Location: contract.Location{Building: "3", Unit: "2"},
				Due:      at(18, 0),
				Timeline: []contract.TicketStep{
					{Status: "submitted", At: at(8, 12)},
					{Status: "accepted", By: "王芳", At: at(8, 40)},
					{Status: "in-progress", By: "物业 李师傅", Note: "已到现场，更换水管接头", At: at(10, 5)},
					{Status: "resolved", By: "王芳", Note: "漏水已修好", At: at(11, 30)},
				},
			},
			OpenTicket: {
				Number: OpenTicket, Category: "noise", Status: "in-progress", Assigned: "赵强",
				Timeline: []contract.TicketStep{{Status: "submitted", At: at(7, 0)}, {Status: "accepted", By: "赵强", At: at(9, 0)}},
			},
		},
		WishList: []contract.Wish{
			{ID: "w1", Text: "陪老人聊聊天"},
			{ID: "w2", Text: "帮忙买药", ClaimedBy: "志愿者小陈"},
			{ID: "w3", Text: "修理小家电", Done: true, ClaimedBy: "刘师傅"},
		},
		NoticeList: []contract.Notice{
			{ID: "n1", Title: "台风“海燕”预警", Body: "今晚至明天有强风暴雨，请收好阳台物品，减少外出。", Level: "typhoon", Published: at(7, 30)},
			{ID: "n2", Title: "周六停水通知", Body: "因管道检修，本周六 9:00–15:00 3号楼、4号楼停水，请提前储水。", Level: "info", Published: at(9, 0)},
		},
		Services: []contract.Service{
			{Name: "社区居委会", Phone: "0571-8888 1234", Place: "1号楼一层", Hours: "8:30–17:30"},
			{Name: "物业服务中心", Phone: "0571-8888 5678", Place: "南门", Hours: "24 小时"},
			{Name: "网格员 王芳", Phone: "138 0000 1234"},
		},
	}
}

// FireAlert returns an alarm alert of a meter box's temperature channel in
// building.
func FireAlert(id, building string) contract.Alert {
	return contract.Alert{ID: id, Device: "mb-" + building, Channel: "busbar-l1", Kind: "temperature",
		State: contract.StateAlarm, Value: 96, Unit: "°C", Location: contract.Location{Community: "c1", Building: building}}
}
