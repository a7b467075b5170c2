package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"linli/mqtt/contract"
)

// loadErr reports whether err is a refusal of Load or LoadSite: invalid
// content wraps ErrInvalid, a JSON error is prefixed "catalog: load".
func loadErr(err error) bool {
	return errors.Is(err, ErrInvalid) || strings.HasPrefix(err.Error(), "catalog: load")
}

// FuzzLoad checks that Load never panics, refuses with ErrInvalid or a
// JSON error, and that a catalog it accepts is valid and survives being
// written out and loaded again (an empty list may come back as none:
// the fields are omitempty).
func FuzzLoad(f *testing.F) {
	def, err := json.Marshal(Default())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(def)
	f.Add([]byte(`{"categories":[{"id":"a","zh":"甲","urgency":"normal","phrases":[{"zh":"坏了"}]}]}`))
	f.Add([]byte(`{"categories":[{"id":"a","zh":"甲","urgency":"normal"},{"id":"a","zh":"乙","urgency":"normal"}]}`))
	f.Add([]byte(`{"categories":[{"id":"a/b","zh":"甲","urgency":"normal"}]}`))
	f.Add([]byte(`{"categories":[{"id":"a","zh":"甲","urgency":"normal","colour":"red"}]}`))
	f.Add([]byte(`{"categories":null}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"categories":[{"id":"a","zh":"甲","urgency":"normal"}]}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Load(bytes.NewReader(b))
		if err != nil {
			if c != nil || !loadErr(err) {
				t.Fatalf("Load(%q) = %v, %v", b, c, err)
			}
			return
		}
		if !json.Valid(b) {
			t.Fatalf("Load accepted %q, which is not one JSON value", b)
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Load(%q) accepted an invalid catalog: %v", b, err)
		}
		for _, cat := range c.Categories {
			if got, ok := c.Category(cat.ID); !ok || got.ID != cat.ID {
				t.Fatalf("Category(%q) = %+v, %v", cat.ID, got, ok)
			}
		}
		out, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := Load(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("Load of the re-encoded %s: %v", out, err)
		}
		if diff := cmp.Diff(c, c2, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round trip changed the catalog (-first +second):\n%s", diff)
		}
	})
}

// FuzzLoadSite checks that LoadSite never panics, refuses with ErrInvalid
// or a JSON error, and that a site it accepts is valid, survives being
// written out and loaded again, lists a bounded number of doors, and
// accepts every door it lists in Check.
func FuzzLoadSite(f *testing.F) {
	f.Add([]byte(siteJSON))
	f.Add([]byte(`{"community":"hl","buildings":[{"id":"3"},{"id":"3"}]}`))
	f.Add([]byte(`{"community":"hl","buildings":[{"id":"3","units":[{"id":"1","floors":200,"per_floor":99}]}]}`))
	f.Add([]byte(`{"community":"hl","buildings":[{"id":"3","units":[{"id":"1","floors":-1}]}]}`))
	f.Add([]byte(`{"community":"hl","buildings":[{"id":"3","units":[{"id":"1","doors":["101",""]}]}]}`))
	f.Add([]byte(`{"community":"a b"}`))
	f.Add([]byte(`{"community":"hl"} {"community":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := LoadSite(bytes.NewReader(b))
		if err != nil {
			if s != nil || !loadErr(err) {
				t.Fatalf("LoadSite(%q) = %v, %v", b, s, err)
			}
			return
		}
		if !json.Valid(b) {
			t.Fatalf("LoadSite accepted %q, which is not one JSON value", b)
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("LoadSite(%q) accepted an invalid site: %v", b, err)
		}
		out, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		s2, err := LoadSite(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("LoadSite of the re-encoded %s: %v", out, err)
		}
		if diff := cmp.Diff(s, s2, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round trip changed the site (-first +second):\n%s", diff)
		}
		for _, bd := range s.Buildings {
			if err := s.Check(contract.Location{Community: s.Community, Building: bd.ID}); err != nil {
				t.Fatalf("Check of building %q: %v", bd.ID, err)
			}
			for _, u := range bd.Units {
				doors := u.DoorList()
				if len(doors) > 200*99 && len(u.Doors) == 0 {
					t.Fatalf("unit %q lists %d doors", u.ID, len(doors))
				}
				for i, d := range doors {
					if i > 50 {
						break
					}
					if err := s.Check(contract.Location{Community: s.Community, Building: bd.ID, Unit: u.ID, Door: d}); err != nil {
						t.Fatalf("Check of listed door %q: %v", d, err)
					}
				}
			}
		}
	})
}
