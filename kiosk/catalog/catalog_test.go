package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"linli/mqtt/contract"
)

func TestDefaultValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"street-light", "leak", "meter-box", "lift", "rubbish", "noise", "parking", "fire-lane", "greenery", "safety", "other"} {
		cat, ok := c.Category(id)
		if !ok {
			t.Errorf("default catalogue lacks %q", id)
			continue
		}
		if cat.Zh == "" || cat.En == "" || cat.Icon == "" || len(cat.Phrases) == 0 {
			t.Errorf("category %q incomplete: %+v", id, cat)
		}
		for _, p := range cat.Phrases {
			if p.Zh == "" || p.En == "" {
				t.Errorf("category %q: phrase %+v lacks a language", id, p)
			}
		}
	}
	if cat, _ := c.Category("meter-box"); cat.Urgency != contract.UrgencyEmergency {
		t.Errorf("meter-box urgency = %q, want emergency", cat.Urgency)
	}
}

func TestLoadRoundTrip(t *testing.T) {
	b, err := json.Marshal(Default())
	if err != nil {
		t.Fatal(err)
	}
	got, err := Load(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Default(), got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestLoadInvalid(t *testing.T) {
	tests := map[string]string{
		"empty":       `{"categories":[]}`,
		"bad urgency": `{"categories":[{"id":"a","zh":"甲","urgency":"soon"}]}`,
		"repeated":    `{"categories":[{"id":"a","zh":"甲","urgency":"normal"},{"id":"a","zh":"乙","urgency":"normal"}]}`,
		"bad id":      `{"categories":[{"id":"a/b","zh":"甲","urgency":"normal"}]}`,
		"no name":     `{"categories":[{"id":"a","urgency":"normal"}]}`,
		"unknown key": `{"categories":[{"id":"a","zh":"甲","urgency":"normal","colour":"red"}]}`,
	}
	for name, in := range tests {
		if _, err := Load(strings.NewReader(in)); err == nil {
			t.Errorf("%s: Load succeeded", name)
		}
	}
	_, err := Load(strings.NewReader(tests["bad urgency"]))
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("bad urgency: err = %v, want ErrInvalid", err)
	}
}

const siteJSON = `{
  "community": "hl",
  "zh": "和乐社区",
  "buildings": [
    {"id": "3", "zh": "3号楼", "units": [
      {"id": "1", "floors": 18, "per_floor": 4},
      {"id": "2", "doors": ["101", "102"]}
    ]},
    {"id": "clubhouse"}
  ]
}`

func TestSite(t *testing.T) {
	s, err := LoadSite(strings.NewReader(siteJSON))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.Building("3")
	u, _ := b.Unit("1")
	doors := u.DoorList()
	if len(doors) != 72 || doors[0] != "101" || doors[71] != "1804" {
		t.Errorf("doors = %d, first %q, last %q", len(doors), doors[0], doors[len(doors)-1])
	}
	tests := []struct {
		loc contract.Location
		ok  bool
	}{
		{contract.Location{}, true},
		{contract.Location{Community: "hl", Building: "3", Unit: "1", Door: "1804"}, true},
		{contract.Location{Building: "3", Unit: "2", Door: "102"}, true},
		{contract.Location{Building: "3"}, true},
		{contract.Location{Building: "clubhouse"}, true},
		{contract.Location{Building: "3", Unit: "1", Door: "1901"}, false},
		{contract.Location{Building: "3", Unit: "2", Door: "201"}, false},
		{contract.Location{Building: "4"}, false},
		{contract.Location{Building: "3", Unit: "9"}, false},
		{contract.Location{Unit: "1"}, false},
		{contract.Location{Community: "other", Building: "3"}, false},
	}
	for _, tt := range tests {
		err := s.Check(tt.loc)
		if (err == nil) != tt.ok {
			t.Errorf("Check(%+v) = %v, want ok=%v", tt.loc, err, tt.ok)
		}
	}
	if _, err := LoadSite(strings.NewReader(`{"community":"hl","buildings":[{"id":"3"},{"id":"3"}]}`)); !errors.Is(err, ErrInvalid) {
		t.Errorf("repeated building: err = %v", err)
	}
}
