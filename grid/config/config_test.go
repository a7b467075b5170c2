package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"linli/mqtt/broker"
)

func TestExampleLoads(t *testing.T) {
	c, err := Parse(Example())
	if err != nil {
		t.Fatal(err)
	}
	d, ok := c.Device("mb-0003")
	if !ok {
		t.Fatal("mb-0003 missing")
	}
	if got, want := d.Location.Grid, "east-2"; got != want {
		t.Errorf("mb-0003 grid = %q, want %q", got, want)
	}
	if w, _ := c.Worker("w-li"); w.Community != "east" {
		t.Errorf("w-li community = %q, want east (from its grid)", w.Community)
	}
	acc, ok := c.Accounts().Authenticate("kiosk-01", []byte("kiosk-dev"))
	if !ok || acc.Role != "kiosk" || acc.Community != "east" {
		t.Errorf("kiosk-01 account = %+v, %v", acc, ok)
	}
	if acc, ok := c.Accounts().Authenticate("m-zhou", []byte("zhou-dev")); !ok || acc.Role != broker.RoleMaintenance {
		t.Errorf("maintenance worker m-zhou account = %+v, %v; want role maintenance", acc, ok)
	}
	if acc, _ := c.Accounts().Authenticate("w-li", []byte("li-dev")); acc.Role != broker.RoleWorker {
		t.Errorf("grid worker w-li role = %q, want worker", acc.Role)
	}
	if _, ok := c.Accounts().Authenticate("gridhub", []byte("wrong")); ok {
		t.Error("hub with a wrong password authenticated")
	}
	if got, want := time.Duration(c.Escalation.Grid).String(), "5m0s"; got != want {
		t.Errorf("escalation grid = %s, want %s", got, want)
	}
}

func TestInvalid(t *testing.T) {
	base := string(Example())
	tests := []struct {
		name, from, to, want string
	}{
		{"unknown field", `"subdistrict"`, `"subdistrikt"`, "unknown field"},
		{"building twice", `"buildings": ["b4", "b5"]`, `"buildings": ["b4", "b1"]`, "building east/b1"},
		{"bad role", `"role": "maintenance"`, `"role": "boss"`, "role"},
		{"unknown grid", `"grid": "east-2", "on_duty"`, `"grid": "west-9", "on_duty"`, "unknown grid"},
		{"device building", `"building": "b8"`, `"building": "b99"`, "in no grid"},
		{"bad kind", `"kind": "kiosk", "password": "kiosk-dev", "location": {"community": "east", "building": "b6"}`, `"kind": "tv", "password": "kiosk-dev", "location": {"community": "east", "building": "b6"}`, "kind"},
		{"dup id", `"id": "mb-0006"`, `"id": "w-li"`, "used by"},
		{"bad duration", `"grid": "5m"`, `"grid": "five"`, "duration"},
	}
	for _, tt := range tests {
		src := strings.Replace(base, tt.from, tt.to, 1)
		if src == base {
			t.Fatalf("%s: replacement did not apply", tt.name)
		}
		_, err := Parse([]byte(src))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want one containing %q", tt.name, err, tt.want)
		}
		if err != nil && tt.name != "unknown field" && tt.name != "bad duration" && !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", tt.name, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(Example())
	f.Add([]byte(`{"communities":[{"id":"a","grids":[{"id":"g","buildings":["b"]}]}],"devices":[{"id":"d","kind":"sensor","location":{"community":"a","building":"b"}}]}`))
	f.Add([]byte(`{"escalation":{"grid":"-1s"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err != nil {
			return
		}
		// A configuration that loads is consistent.
		for _, d := range c.Devices {
			if d.Location.Building == "" {
				continue
			}
			if g, ok := c.GridOf(d.Location.Community, d.Location.Building); !ok || g != d.Location.Grid {
				t.Errorf("device %q: grid %q, GridOf = %q, %v", d.ID, d.Location.Grid, g, ok)
			}
		}
		if c.Escalation.Grid <= 0 || c.Escalation.Community <= 0 {
			t.Errorf("escalation %v not defaulted", c.Escalation)
		}
		_ = c.Accounts()
	})
}
