package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"linli/mqtt/contract"
)

// ErrInvalid means a catalogue or site description breaks a rule (a missing
// id, a duplicate, an unknown urgency).
var ErrInvalid = errors.New("catalog: invalid")

// Phrase is a quick phrase, offered as a button.
type Phrase struct {
	Zh string `json:"zh"`
	En string `json:"en"`
}

// Category is one kind of report.
type Category struct {
	ID      string   `json:"id"`      // stable code sent in reports, e.g. "street-light"
	Zh      string   `json:"zh"`      // 中文 name
	En      string   `json:"en"`      // English name
	Icon    string   `json:"icon"`    // a Fyne theme icon name ("warning", "home"); the UI resolves it
	Urgency string   `json:"urgency"` // default urgency: contract.Urgency*
	Phrases []Phrase `json:"phrases,omitempty"`
}

// Catalog is the list of categories, in display order.
type Catalog struct {
	Categories []Category `json:"categories"`
}

// Category returns the category with id.
func (c *Catalog) Category(id string) (Category, bool) {
	for _, cat := range c.Categories {
		if cat.ID == id {
			return cat, true
		}
	}
	return Category{}, false
}

// Validate checks that ids are present, valid and unique, names are given
// and urgencies are known.
func (c *Catalog) Validate() error {
	if len(c.Categories) == 0 {
		return fmt.Errorf("%w: no categories", ErrInvalid)
	}
	seen := map[string]bool{}
	for i, cat := range c.Categories {
		switch {
		case !contract.ValidID(cat.ID):
			return fmt.Errorf("%w: category %d: bad id %q", ErrInvalid, i, cat.ID)
		case seen[cat.ID]:
			return fmt.Errorf("%w: category %q listed twice", ErrInvalid, cat.ID)
		case cat.Zh == "" && cat.En == "":
			return fmt.Errorf("%w: category %q has no name", ErrInvalid, cat.ID)
		case !ValidUrgency(cat.Urgency):
			return fmt.Errorf("%w: category %q: urgency %q (want emergency, urgent or normal)", ErrInvalid, cat.ID, cat.Urgency)
		}
		seen[cat.ID] = true
	}
	return nil
}

// ValidUrgency reports whether u is one of contract's urgencies.
func ValidUrgency(u string) bool {
	switch u {
	case contract.UrgencyEmergency, contract.UrgencyUrgent, contract.UrgencyNormal:
		return true
	}
	return false
}

// Load reads a Catalog from JSON and validates it.
func Load(r io.Reader) (*Catalog, error) {
	var c Catalog
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("catalog: load: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: load: data after the JSON object", ErrInvalid)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

func p(zh, en string) Phrase { return Phrase{Zh: zh, En: en} }

// Default returns the built-in catalogue for a Chinese residential
// community. Each call returns a new copy.
func Default() *Catalog {
	const (
		em = contract.UrgencyEmergency
		ur = contract.UrgencyUrgent
		no = contract.UrgencyNormal
	)
	return &Catalog{Categories: []Category{
		{ID: "street-light", Zh: "路灯", En: "Street light", Icon: "info", Urgency: no, Phrases: []Phrase{
			p("路灯不亮", "Light is out"), p("路灯闪烁", "Light flickers"), p("白天常亮", "On during the day"), p("灯杆损坏", "Pole damaged")}},
		{ID: "leak", Zh: "漏水", En: "Leaking pipe", Icon: "settings", Urgency: ur, Phrases: []Phrase{
			p("水管漏水", "Pipe is leaking"), p("楼上渗水", "Water coming from above"), p("屋顶漏雨", "Roof leaks"), p("井盖冒水", "Water from a manhole")}},
		{ID: "meter-box", Zh: "电表箱", En: "Meter box", Icon: "warning", Urgency: em, Phrases: []Phrase{
			p("有焦糊味", "Burning smell"), p("冒烟", "Smoke"), p("有异响", "Buzzing or crackling"), p("箱门损坏", "Door broken"), p("经常跳闸", "Breaker keeps tripping")}},
		{ID: "lift", Zh: "电梯", En: "Lift", Icon: "arrowUp", Urgency: ur, Phrases: []Phrase{
			p("电梯停运", "Lift out of service"), p("有人被困", "Someone is trapped"), p("按钮失灵", "Buttons not working"), p("运行有异响", "Noisy running")}},
		{ID: "rubbish", Zh: "垃圾", En: "Rubbish", Icon: "delete", Urgency: no, Phrases: []Phrase{
			p("垃圾未清运", "Not collected"), p("垃圾桶满溢", "Bins overflowing"), p("楼道堆物", "Things piled in the stairwell"), p("建筑垃圾", "Building waste")}},
		{ID: "noise", Zh: "噪音", En: "Noise", Icon: "volumeUp", Urgency: no, Phrases: []Phrase{
			p("装修噪音", "Renovation noise"), p("夜间扰民", "Noise at night"), p("广场舞音响", "Loud music outdoors")}},
		{ID: "parking", Zh: "停车", En: "Parking", Icon: "arrowForward", Urgency: no, Phrases: []Phrase{
			p("乱停车", "Badly parked car"), p("占用车位", "Space taken"), p("电动车楼道充电", "E-bike charging in the stairwell"), p("僵尸车", "Abandoned vehicle")}},
		{ID: "fire-lane", Zh: "消防通道", En: "Fire lane", Icon: "error", Urgency: ur, Phrases: []Phrase{
			p("消防通道被占", "Fire lane blocked"), p("安全出口锁闭", "Emergency exit locked"), p("灭火器缺失", "Extinguisher missing"), p("消防栓损坏", "Hydrant damaged")}},
		{ID: "greenery", Zh: "绿化", En: "Greenery", Icon: "home", Urgency: no, Phrases: []Phrase{
			p("树木倒伏", "Fallen tree"), p("需要修剪", "Needs trimming"), p("草坪破坏", "Lawn damaged")}},
		{ID: "safety", Zh: "治安", En: "Safety", Icon: "visibility", Urgency: ur, Phrases: []Phrase{
			p("门禁损坏", "Entry door broken"), p("可疑人员", "Suspicious person"), p("监控损坏", "Camera broken")}},
		{ID: "other", Zh: "其他", En: "Other", Icon: "question", Urgency: no, Phrases: []Phrase{
			p("需要上门查看", "Please come and look")}},
	}}
}

// Site is a community's buildings, units and doors, for the pickers.
type Site struct {
	Community string     `json:"community"` // community id, as in contract.Location
	Zh        string     `json:"zh,omitempty"`
	En        string     `json:"en,omitempty"`
	Buildings []Building `json:"buildings"`
}

// Building is one building (楼栋).
type Building struct {
	ID    string `json:"id"` // e.g. "3" (3号楼); used in topics, so contract.ValidID
	Zh    string `json:"zh,omitempty"`
	En    string `json:"en,omitempty"`
	Units []Unit `json:"units,omitempty"`
}

// Unit is a stairwell (单元) of a building. Its doors are either listed in
// Doors, or generated from Floors and PerFloor as "101".."1804" (floor
// followed by a two-digit door).
type Unit struct {
	ID       string   `json:"id"`
	Floors   int      `json:"floors,omitempty"`
	PerFloor int      `json:"per_floor,omitempty"`
	Doors    []string `json:"doors,omitempty"`
}

// DoorList returns the doors of u, in order.
func (u Unit) DoorList() []string {
	if len(u.Doors) > 0 {
		return u.Doors
	}
	var ds []string
	for f := 1; f <= u.Floors; f++ {
		for d := 1; d <= u.PerFloor; d++ {
			ds = append(ds, fmt.Sprintf("%d%02d", f, d))
		}
	}
	return ds
}

// Building returns the building with id.
func (s *Site) Building(id string) (Building, bool) {
	for _, b := range s.Buildings {
		if b.ID == id {
			return b, true
		}
	}
	return Building{}, false
}

// Unit returns the unit of a building.
func (b Building) Unit(id string) (Unit, bool) {
	for _, u := range b.Units {
		if u.ID == id {
			return u, true
		}
	}
	return Unit{}, false
}

// Check reports whether loc names a place of the site: its community (or
// none), a known building (or none), a unit of it, a door of that unit.
// Parts may be left empty from the right ("building 3" is a place;
// "unit 2 of no building" is not).
func (s *Site) Check(loc contract.Location) error {
	if loc.Community != "" && loc.Community != s.Community {
		return fmt.Errorf("%w: community %q is not %q", ErrInvalid, loc.Community, s.Community)
	}
	if loc.Building == "" {
		if loc.Unit != "" || loc.Door != "" {
			return fmt.Errorf("%w: unit or door without a building", ErrInvalid)
		}
		return nil
	}
	b, ok := s.Building(loc.Building)
	if !ok {
		return fmt.Errorf("%w: no building %q", ErrInvalid, loc.Building)
	}
	if loc.Unit == "" {
		if loc.Door != "" && len(b.Units) > 0 {
			return fmt.Errorf("%w: door without a unit", ErrInvalid)
		}
		return nil
	}
	u, ok := b.Unit(loc.Unit)
	if !ok {
		return fmt.Errorf("%w: building %q has no unit %q", ErrInvalid, loc.Building, loc.Unit)
	}
	if loc.Door == "" {
		return nil
	}
	doors := u.DoorList()
	for _, d := range doors {
		if d == loc.Door {
			return nil
		}
	}
	if len(doors) == 0 { // doors not configured: accept any
		return nil
	}
	return fmt.Errorf("%w: unit %s/%s has no door %q", ErrInvalid, loc.Building, loc.Unit, loc.Door)
}

// Validate checks the site's ids.
func (s *Site) Validate() error {
	if !contract.ValidID(s.Community) {
		return fmt.Errorf("%w: community id %q", ErrInvalid, s.Community)
	}
	seen := map[string]bool{}
	for _, b := range s.Buildings {
		if !contract.ValidID(b.ID) || seen[b.ID] {
			return fmt.Errorf("%w: building id %q (bad or repeated)", ErrInvalid, b.ID)
		}
		seen[b.ID] = true
		units := map[string]bool{}
		for _, u := range b.Units {
			if strings.TrimSpace(u.ID) == "" || units[u.ID] {
				return fmt.Errorf("%w: building %q: unit id %q (empty or repeated)", ErrInvalid, b.ID, u.ID)
			}
			units[u.ID] = true
			if u.Floors < 0 || u.PerFloor < 0 || u.Floors > 200 || u.PerFloor > 99 {
				return fmt.Errorf("%w: building %q unit %q: floors %d, per floor %d", ErrInvalid, b.ID, u.ID, u.Floors, u.PerFloor)
			}
		}
	}
	return nil
}

// LoadSite reads a Site from JSON and validates it.
func LoadSite(r io.Reader) (*Site, error) {
	var s Site
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("catalog: load site: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: load site: data after the JSON object", ErrInvalid)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}
