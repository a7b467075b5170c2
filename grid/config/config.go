package config

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"linli/mqtt/broker"
	"linli/mqtt/contract"
)

// Worker roles.
const (
	RoleGridWorker  = "grid-worker"
	RoleCommunity   = "community"
	RoleSubdistrict = "subdistrict"
	RoleMaintenance = "maintenance"
)

// Config is gridhub's configuration file.
type Config struct {
	Subdistrict string      `json:"subdistrict"`
	Hub         Account     `json:"hub"`
	Communities []Community `json:"communities"`
	Workers     []Worker    `json:"workers"`
	Devices     []Device    `json:"devices"`
	Escalation  Escalation  `json:"escalation"`
	// SharedBroker says that hubs of other configurations (other
	// communities) use the same broker or cluster: this configuration is
	// one shard. Its hub then handles only its own devices and workers,
	// silently leaving the others' messages and requests to their hubs,
	// and its alert ids carry its hub id, so that they stay distinct
	// for a worker who sees several shards. Community, grid, device,
	// kiosk-code and hub ids must be unique across the shards; a worker
	// of several shards has the same id and password in each.
	SharedBroker bool `json:"shared_broker,omitempty"`

	grids   map[string]string // "community/building" → grid
	workers map[string]int
	devices map[string]int
}

// Account is the hub's own broker account.
type Account struct {
	ID       string `json:"id"`
	Password string `json:"password"`
}

// Community is a residential community, divided into grids.
type Community struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Grids []Grid `json:"grids"`
}

// Grid is one grid worker's patch: a set of buildings.
type Grid struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Buildings []string `json:"buildings"`
}

// Worker is a person who uses gridctl.
type Worker struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Role      string `json:"role"`
	Community string `json:"community,omitempty"`
	Grid      string `json:"grid,omitempty"`
	OnDuty    bool   `json:"on_duty"`
	Phone     string `json:"phone,omitempty"`
	Password  string `json:"password"`
}

// Device is a sensor board or a kiosk.
type Device struct {
	ID       string            `json:"id"`
	Kind     string            `json:"kind"` // sensor or kiosk
	Password string            `json:"password"`
	Location contract.Location `json:"location"`
}

// Escalation holds the alert escalation times.
type Escalation struct {
	// Grid is how long the grid's workers have to acknowledge an alert
	// before it goes to the community. Default 5 minutes.
	Grid Duration `json:"grid"`
	// Community is how long the community has before the alert goes to the
	// subdistrict. Default 10 minutes.
	Community Duration `json:"community"`
}

// Defaults.
const (
	DefaultEscalateGrid      = 5 * time.Minute
	DefaultEscalateCommunity = 10 * time.Minute
	DefaultHubID             = "gridhub"
)

// Duration is a time.Duration written as a Go duration string ("5m").
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("config: duration: %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("config: duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

// ErrInvalid means the configuration is inconsistent; the error names the
// problem.
var ErrInvalid = errors.New("config: invalid")

// Load reads and checks the configuration file at path.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(b)
}

// Parse decodes and checks a configuration. Unknown fields are an error, so
// that a misspelt field is not silently ignored.
func Parse(b []byte) (*Config, error) {
	c := new(Config)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return nil, fmt.Errorf("config: parse: %w", err)
	}
	if err := c.init(); err != nil {
		return nil, err
	}
	return c, nil
}

func bad(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

func (c *Config) init() error {
	if c.Hub.ID == "" {
		c.Hub.ID = DefaultHubID
	}
	if c.Escalation.Grid <= 0 {
		c.Escalation.Grid = Duration(DefaultEscalateGrid)
	}
	if c.Escalation.Community <= 0 {
		c.Escalation.Community = Duration(DefaultEscalateCommunity)
	}
	c.grids = map[string]string{}
	c.workers = map[string]int{}
	c.devices = map[string]int{}
	ids := map[string]string{c.Hub.ID: "hub"}
	comms := map[string]bool{}
	gridSet := map[string]string{} // grid → community
	for _, cm := range c.Communities {
		if !contract.ValidID(cm.ID) {
			return bad("community id %q", cm.ID)
		}
		if comms[cm.ID] {
			return bad("community %q twice", cm.ID)
		}
		comms[cm.ID] = true
		for _, g := range cm.Grids {
			if !contract.ValidID(g.ID) {
				return bad("grid id %q", g.ID)
			}
			if _, dup := gridSet[g.ID]; dup {
				return bad("grid %q twice", g.ID)
			}
			gridSet[g.ID] = cm.ID
			for _, b := range g.Buildings {
				if !contract.ValidID(b) {
					return bad("building id %q in grid %q", b, g.ID)
				}
				k := cm.ID + "/" + b
				if prev, dup := c.grids[k]; dup {
					return bad("building %s in grids %q and %q", k, prev, g.ID)
				}
				c.grids[k] = g.ID
			}
		}
	}
	for i, w := range c.Workers {
		if !contract.ValidID(w.ID) {
			return bad("worker id %q", w.ID)
		}
		if other, dup := ids[w.ID]; dup {
			return bad("id %q used by a worker and a %s", w.ID, other)
		}
		ids[w.ID] = "worker"
		switch w.Role {
		case RoleGridWorker:
			cm, ok := gridSet[w.Grid]
			if !ok {
				return bad("worker %q: unknown grid %q", w.ID, w.Grid)
			}
			if w.Community == "" {
				c.Workers[i].Community = cm
			} else if w.Community != cm {
				return bad("worker %q: grid %q is not in community %q", w.ID, w.Grid, w.Community)
			}
		case RoleCommunity:
			if !comms[w.Community] {
				return bad("worker %q: unknown community %q", w.ID, w.Community)
			}
		case RoleSubdistrict, RoleMaintenance:
		default:
			return bad("worker %q: role %q (want grid-worker, community, subdistrict or maintenance)", w.ID, w.Role)
		}
		c.workers[w.ID] = i
	}
	for i, d := range c.Devices {
		if !contract.ValidID(d.ID) {
			return bad("device id %q", d.ID)
		}
		if other, dup := ids[d.ID]; dup {
			return bad("id %q used by a device and a %s", d.ID, other)
		}
		ids[d.ID] = "device"
		if d.Kind != "sensor" && d.Kind != "kiosk" {
			return bad("device %q: kind %q (want sensor or kiosk)", d.ID, d.Kind)
		}
		if d.Location.Community != "" && !comms[d.Location.Community] {
			return bad("device %q: unknown community %q", d.ID, d.Location.Community)
		}
		if d.Location.Building != "" {
			grid, ok := c.grids[d.Location.Community+"/"+d.Location.Building]
			if !ok {
				return bad("device %q: building %q is in no grid of %q", d.ID, d.Location.Building, d.Location.Community)
			}
			if d.Location.Grid != "" && d.Location.Grid != grid {
				return bad("device %q: grid %q, but building %q is in grid %q", d.ID, d.Location.Grid, d.Location.Building, grid)
			}
			c.Devices[i].Location.Grid = grid
		}
		c.devices[d.ID] = i
	}
	return nil
}

// GridOf returns the grid that owns building of community.
func (c *Config) GridOf(community, building string) (string, bool) {
	g, ok := c.grids[community+"/"+building]
	return g, ok
}

// Worker returns the worker with id.
func (c *Config) Worker(id string) (Worker, bool) {
	i, ok := c.workers[id]
	if !ok {
		return Worker{}, false
	}
	return c.Workers[i], true
}

// Device returns the configured device with id; its Location.Grid is
// filled in from its building.
func (c *Config) Device(id string) (Device, bool) {
	i, ok := c.devices[id]
	if !ok {
		return Device{}, false
	}
	return c.Devices[i], true
}

// Locate completes loc with the grid of its building, when known.
func (c *Config) Locate(loc contract.Location) contract.Location {
	if g, ok := c.GridOf(loc.Community, loc.Building); ok {
		loc.Grid = g
	}
	return loc
}

// Buildings returns every (community, building) pair, in file order.
func (c *Config) Buildings() [][2]string {
	var out [][2]string
	for _, cm := range c.Communities {
		for _, g := range cm.Grids {
			for _, b := range g.Buildings {
				out = append(out, [2]string{cm.ID, b})
			}
		}
	}
	return out
}

// Accounts returns the broker accounts of the hub, the workers and the
// devices. Kiosks read the area of their community.
func (c *Config) Accounts() broker.Static {
	es := []broker.Entry{{Account: broker.Account{ID: c.Hub.ID, Role: broker.RoleHub}, Password: c.Hub.Password}}
	for _, w := range c.Workers {
		role := broker.RoleWorker
		if w.Role == RoleMaintenance {
			role = broker.RoleMaintenance // may serve firmware blocks and read transfer status
		}
		es = append(es, broker.Entry{Account: broker.Account{ID: w.ID, Role: role}, Password: brokerPassword(w.Password)})
	}
	for _, d := range c.Devices {
		role := broker.RoleDevice
		if d.Kind == "kiosk" {
			role = broker.RoleKiosk
		}
		es = append(es, broker.Entry{Account: broker.Account{ID: d.ID, Role: role, Community: d.Location.Community}, Password: d.Password})
	}
	return broker.NewStatic(es...)
}

//go:embed example.json
var example []byte

// Example returns a documented example configuration: one community with
// three grids, its workers, and sensors mb-0001… and kiosks. Its passwords
// are plain development passwords.
func Example() []byte { return bytes.Clone(example) }
