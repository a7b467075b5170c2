package contract

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// Version is the schema version this package writes and reads.
const Version = 1

// Root is the prefix of every topic.
const Root = "linli/v1"

// MaxPayload is the largest payload Decode accepts, in bytes. A firmware
// block (see package firmware) travels in its own binary message and is not
// decoded here.
const MaxPayload = 64 << 10

// Errors returned by Decode and Validate.
var (
	// ErrTooLarge means the payload is larger than MaxPayload.
	ErrTooLarge = errors.New("contract: payload too large")
	// ErrMalformed means the payload is not a JSON object of the expected shape.
	ErrMalformed = errors.New("contract: malformed message")
	// ErrVersion means the schema version is not one this package reads.
	ErrVersion = errors.New("contract: unknown schema version")
	// ErrType means the message type is unknown or does not belong on the topic.
	ErrType = errors.New("contract: unexpected message type")
	// ErrTopic means the topic is not part of the topic tree.
	ErrTopic = errors.New("contract: unknown topic")
	// ErrMissing means a required field is empty.
	ErrMissing = errors.New("contract: missing field")
)

// Message types, the value of the "type" field.
const (
	TypeBirth        = "birth"
	TypeDeath        = "death"
	TypeState        = "state"
	TypeTelemetry    = "telemetry"
	TypeEvent        = "event"
	TypeReport       = "report"
	TypeRating       = "rating"
	TypeWish         = "wish"
	TypeCommand      = "cmd"
	TypeCommandAck   = "cmdack"
	TypeAlert        = "alert"
	TypeAreaAlerts   = "area-alerts"
	TypeNotices      = "notices"
	TypeDirectory    = "directory"
	TypeWishes       = "wishes"
	TypeTicketStatus = "ticket"
	TypeRequest      = "request"
	TypeResponse     = "response"
)

// Header is the part every message starts with.
type Header struct {
	V    int    `json:"v"`
	Type string `json:"type"`
}

// Stamp is a device's time of a message. At is wall-clock time, meaningful
// only when Synced is true; Uptime counts from the device's boot and is
// always meaningful within one boot.
type Stamp struct {
	At     time.Time     `json:"at"`
	Synced bool          `json:"synced"`
	Uptime time.Duration `json:"uptime_ns"`
}

// Location places a device, a report or an alert. Grid is the grid that owns
// it (a grid worker's patch); Community contains grids.
type Location struct {
	Community string `json:"community,omitempty"`
	Grid      string `json:"grid,omitempty"`
	Building  string `json:"building,omitempty"`
	Unit      string `json:"unit,omitempty"`
	Door      string `json:"door,omitempty"`
}

// String renders the location as "community/building/unit/door", leaving
// out empty parts.
func (l Location) String() string {
	var parts []string
	for _, p := range []string{l.Community, l.Building, l.Unit, l.Door} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "/")
}

// State is a hazard channel's state.
type State string

// Channel states (GB 14287 / EN 54 vocabulary).
const (
	StateNormal   State = "normal"
	StatePreAlarm State = "pre-alarm"
	StateAlarm    State = "alarm"
	StateFault    State = "fault"
	StateDisabled State = "disabled"
	StateTest     State = "test"
)

// Valid reports whether s is one of the states above.
func (s State) Valid() bool {
	switch s {
	case StateNormal, StatePreAlarm, StateAlarm, StateFault, StateDisabled, StateTest:
		return true
	}
	return false
}

// Severity orders states for display: alarm first, then fault, pre-alarm,
// test, disabled, normal.
func (s State) Severity() int {
	switch s {
	case StateAlarm:
		return 5
	case StateFault:
		return 4
	case StatePreAlarm:
		return 3
	case StateTest:
		return 2
	case StateDisabled:
		return 1
	}
	return 0
}

// ChannelInfo describes one hazard channel of a sensor device.
type ChannelInfo struct {
	Name     string  `json:"name"`                // e.g. "busbar-l1"
	Kind     string  `json:"kind"`                // temperature, residual, load, smoke
	Unit     string  `json:"unit"`                // "°C", "mA", "A", "" (smoke)
	PreAlarm float64 `json:"pre_alarm,omitempty"` // set-point in Unit
	Alarm    float64 `json:"alarm,omitempty"`     // set-point in Unit
}

// Birth is published, retained, on every connect, before anything else.
type Birth struct {
	Header
	Device   string        `json:"device"`
	Kind     string        `json:"kind"` // "sensor" or "kiosk"
	Session  uint32        `json:"session"`
	Firmware string        `json:"firmware"`
	Location Location      `json:"location"`
	Channels []ChannelInfo `json:"channels,omitempty"`
	Time     Stamp         `json:"time"`
}

// FirstCounter is where a device starts a counter whose order the hub
// relies on (its boot count, the Session of its events and telemetry; its
// connection count, the Session of its births, states and deaths) when the
// file that keeps it is new: the wall clock's Unix seconds, or 0 when the
// clock is not set yet (before 2024). A device whose store was lost,
// moved aside as corrupt or replaced thus numbers on above everything it
// sent before, and the hub tells its new events and births from stale
// copies of old ones (Session goes up while Seq starts again); counting
// from 0 it would take them for stale. A counter then goes up by one per
// boot or connection, which never catches up with the clock.
func FirstCounter(now time.Time) uint32 {
	if now.Before(clockSet) || now.Unix() >= 1<<32 {
		return 0
	}
	return uint32(now.Unix())
}

// clockSet is the earliest wall-clock time FirstCounter believes.
var clockSet = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Death is the device's MQTT last will, retained. The broker publishes it
// when the connection is lost; a device that disconnects cleanly publishes it
// itself.
type Death struct {
	Header
	Device  string `json:"device"`
	Session uint32 `json:"session"`
}

// Health is a device's self-report. StorageErrors counts failed writes
// to the device's own database since it started (events, readings or
// telemetry not stored, each retried): not zero means its storage is
// failing.
type Health struct {
	Uptime        time.Duration `json:"uptime_ns"`
	Reconnects    uint64        `json:"reconnects"`
	QueueDepth    int           `json:"queue_depth"`    // messages waiting in the outbox
	Dropped       uint64        `json:"dropped"`        // telemetry dropped by the outbox bound
	StorageUsed   int64         `json:"storage_used"`   // bytes
	StorageErrors uint64        `json:"storage_errors"` // failed database writes since start
	Firmware      string        `json:"firmware"`
}

// ChannelState is one channel's current state in a State message.
type ChannelState struct {
	Channel string  `json:"channel"`
	State   State   `json:"state"`
	Value   float64 `json:"value"`
	Latched bool    `json:"latched,omitempty"`
}

// DeviceState is a device's current view, retained: its channels and its
// health.
type DeviceState struct {
	Header
	Device   string         `json:"device"`
	Session  uint32         `json:"session"`
	Channels []ChannelState `json:"channels,omitempty"`
	Health   Health         `json:"health"`
	Time     Stamp          `json:"time"`
}

// Reading is one sample of one channel.
type Reading struct {
	Channel string  `json:"ch"`
	Value   float64 `json:"val"`
	Unit    string  `json:"unit,omitempty"`
	Err     string  `json:"err,omitempty"` // set instead of Value when the sensor failed
	Time    Stamp   `json:"time"`
}

// Telemetry carries a batch of readings. Seq counts telemetry messages of
// the device; a gap means the outbox dropped telemetry (see Health.Dropped).
type Telemetry struct {
	Header
	Device   string    `json:"device"`
	Session  uint32    `json:"session"`
	Seq      uint64    `json:"seq"`
	Readings []Reading `json:"readings"`
}

// Event is a hazard channel's transition. ID is unique and stable across
// resends; Seq counts the device's events with no gaps, so a receiver that
// sees seq n+2 after n knows it missed one.
type Event struct {
	Header
	ID       string   `json:"id"`
	Device   string   `json:"device"`
	Session  uint32   `json:"session"`
	Seq      uint64   `json:"seq"`
	Channel  string   `json:"channel"`
	Kind     string   `json:"kind"` // temperature, residual, load, smoke, device
	From     State    `json:"from"`
	To       State    `json:"to"`
	Cause    string   `json:"cause"` // threshold, rate-of-rise, no-answer, out-of-range, implausible, reset, test, …
	Value    float64  `json:"value"`
	Unit     string   `json:"unit,omitempty"`
	SetPoint float64  `json:"set_point,omitempty"`
	Detail   string   `json:"detail,omitempty"`
	Location Location `json:"location"`
	Time     Stamp    `json:"time"`
}

// Command names.
const (
	CmdAck           = "ack"            // acknowledge (silence the buzzer; alarm stays latched)
	CmdReset         = "reset"          // reset latched alarms (args: channel, empty for all)
	CmdTest          = "test"           // run the self-test / sound the buzzer
	CmdSetThresholds = "set-thresholds" // args: channel, pre_alarm, alarm
	CmdRebirth       = "rebirth"        // publish birth and state again
	// CmdResend asks a device to publish again the events of its log
	// after seq "after" (args: after): the hub sends it when a seq is
	// missing, so that an event the broker lost (one in flight to a
	// session that was taken over, or dropped for a full queue) still
	// arrives. Copies are dropped by event id.
	CmdResend     = "resend"
	CmdScreenshot = "screenshot" // kiosk: return a PNG of the screen
	CmdUpdate     = "update"     // firmware update (see package firmware)
)

// Command asks a device to do something. By names who asked (a worker id);
// the hub only forwards commands from authorised clients.
type Command struct {
	Header
	ID     string            `json:"id"`
	Device string            `json:"device"`
	Name   string            `json:"name"`
	Args   map[string]string `json:"args,omitempty"`
	By     string            `json:"by"`
	Time   time.Time         `json:"time"`
}

// CommandAck answers a Command with the same ID.
type CommandAck struct {
	Header
	ID     string          `json:"id"`
	Device string          `json:"device"`
	OK     bool            `json:"ok"`
	Error  string          `json:"error,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
}

// Alert is the hub's grid alert, raised from an alarm or fault event and
// published on every change to the grid's alert topic.
type Alert struct {
	Header
	ID          string    `json:"id"`
	Device      string    `json:"device"`
	Channel     string    `json:"channel"`
	Kind        string    `json:"kind"`
	State       State     `json:"state"` // alarm or fault
	Value       float64   `json:"value"`
	Unit        string    `json:"unit,omitempty"`
	Location    Location  `json:"location"`
	Raised      time.Time `json:"raised"`      // hub time the alert was raised
	EventTime   Stamp     `json:"event_time"`  // device time of the event
	Level       string    `json:"level"`       // grid, community, subdistrict: who must act now
	Assigned    []string  `json:"assigned"`    // worker ids
	EscalateAt  time.Time `json:"escalate_at"` // zero when no further escalation
	AckedBy     string    `json:"acked_by,omitempty"`
	AckedAt     time.Time `json:"acked_at,omitzero"`
	Cleared     bool      `json:"cleared"`
	ClearedAt   time.Time `json:"cleared_at,omitzero"`
	EventID     string    `json:"event_id"`
	Description string    `json:"description,omitempty"`

	// AckedRole and AckedName say publicly who acknowledged the alert and
	// is on the way: the worker's role (grid-worker, community,
	// subdistrict, maintenance) and name as the hub's configuration has
	// them. Empty while nobody has acknowledged. Never a phone number:
	// kiosks show them to residents.
	AckedRole string `json:"acked_role,omitempty"`
	AckedName string `json:"acked_name,omitempty"`
}

// AreaAlerts lists the active alerts of a building, retained, for kiosks.
type AreaAlerts struct {
	Header
	Community string  `json:"community"`
	Building  string  `json:"building"`
	Alerts    []Alert `json:"alerts"`
	// Omitted counts the building's active alerts left out so that the
	// message stays under MaxPayload: the faults before the alarms, the
	// oldest first. Zero almost always.
	Omitted int       `json:"omitted,omitempty"`
	Updated time.Time `json:"updated"`
}

// Notice is a message to residents; Level "typhoon" and "warning" are shown
// prominently.
type Notice struct {
	ID        string    `json:"id"`
	Title     string    `json:"title"`
	Body      string    `json:"body"`
	Level     string    `json:"level"` // info, warning, typhoon; empty means info
	Published time.Time `json:"published"`
	Expires   time.Time `json:"expires,omitzero"`
}

// Notices is the retained list of an area's notices.
type Notices struct {
	Header
	Community string    `json:"community"`
	Notices   []Notice  `json:"notices"`
	Updated   time.Time `json:"updated"`
}

// Service is one entry of the public-service directory.
type Service struct {
	Name  string `json:"name"`
	Phone string `json:"phone,omitempty"`
	Place string `json:"place,omitempty"`
	Hours string `json:"hours,omitempty"`
}

// Directory is the retained public-service directory of a community.
type Directory struct {
	Header
	Community string    `json:"community"`
	Services  []Service `json:"services"`
	Updated   time.Time `json:"updated"`
}

// Report is a resident's problem report, filed at a kiosk. Number is the
// ticket number the resident was shown; it is issued by the kiosk and unique
// across kiosks, so it doubles as the report's id.
type Report struct {
	Header
	Number   string    `json:"number"`
	Device   string    `json:"device"` // the kiosk
	Category string    `json:"category"`
	Location Location  `json:"location"`
	Phrases  []string  `json:"phrases,omitempty"`
	Text     string    `json:"text,omitempty"`
	Phone    string    `json:"phone,omitempty"` // only with Consent
	Consent  bool      `json:"consent,omitempty"`
	Urgency  string    `json:"urgency"` // emergency, urgent, normal
	Time     Stamp     `json:"time"`
	Filed    time.Time `json:"filed,omitzero"` // hub time it arrived; set by the hub
}

// Ratings.
const (
	RatingSatisfied   = "satisfied"
	RatingBasically   = "basically-satisfied"
	RatingUnsatisfied = "unsatisfied"
)

// Rating is a resident's rating of a resolved ticket. Unsatisfied reopens it.
type Rating struct {
	Header
	ID      string `json:"id"`
	Number  string `json:"number"`
	Device  string `json:"device"`
	Rating  string `json:"rating"`
	Comment string `json:"comment,omitempty"`
	Time    Stamp  `json:"time"`
}

// Wish is a resident's micro-wish ("微心愿"), posted at a kiosk and claimed
// by a volunteer through the hub.
type Wish struct {
	Header
	ID        string    `json:"id"`
	Device    string    `json:"device"`
	Text      string    `json:"text"`
	Location  Location  `json:"location"`
	ClaimedBy string    `json:"claimed_by,omitempty"`
	ClaimedAt time.Time `json:"claimed_at,omitzero"`
	Done      bool      `json:"done,omitempty"`
	Time      Stamp     `json:"time"`
}

// Wishes is the retained list of an area's wishes.
type Wishes struct {
	Header
	Community string    `json:"community"`
	Wishes    []Wish    `json:"wishes"`
	Updated   time.Time `json:"updated"`
}

// TicketStep is one entry of a ticket's timeline.
type TicketStep struct {
	Status string    `json:"status"`
	By     string    `json:"by,omitempty"`
	Note   string    `json:"note,omitempty"`
	At     time.Time `json:"at"`
}

// TicketStatus is the public status of a ticket, retained under its number:
// no phone number, no free text of the resident.
type TicketStatus struct {
	Header
	Number   string       `json:"number"`
	Category string       `json:"category"`
	Location Location     `json:"location"`
	Status   string       `json:"status"`
	Assigned string       `json:"assigned,omitempty"`
	Due      time.Time    `json:"due,omitzero"`
	Rating   string       `json:"rating,omitempty"`
	Timeline []TicketStep `json:"timeline"`
}

// Request is a gridctl call to the hub. Op names the operation
// ("alerts.list", "alert.ack", …); Args its arguments.
type Request struct {
	Header
	ID   string            `json:"id"`
	From string            `json:"from"` // worker id
	Op   string            `json:"op"`
	Args map[string]string `json:"args,omitempty"`
	Body json.RawMessage   `json:"body,omitempty"`
	// Relay is the id of the hub that asks on the worker's behalf: a hub
	// of a shared broker whose web console shows what the worker holds on
	// the other shards too. A hub that does not know the worker answers a
	// relayed request with a refusal (a direct one it leaves to the
	// worker's own hubs), so the asking hub need not wait for it.
	Relay string `json:"relay,omitempty"`
}

// Response answers a Request with the same ID.
type Response struct {
	Header
	ID    string          `json:"id"`
	OK    bool            `json:"ok"`
	Error string          `json:"error,omitempty"`
	Body  json.RawMessage `json:"body,omitempty"`
	// Hub is the id of the hub that answers. Several hubs answer a worker
	// whose communities are in several shards (hubs of other
	// configurations on the same broker); a client tells their answers
	// apart by it. Empty from hubs before it was added.
	Hub string `json:"hub,omitempty"`
}

// IsList reports whether out, where a Response's body is to be decoded,
// points to a slice: a list, of which every hub a worker's communities
// are in holds a part.
func IsList(out any) bool {
	t := reflect.TypeOf(out)
	return t != nil && t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Slice
}

// MergeLists sets the slice out points to (see IsList) to the
// concatenation of lists, each a JSON array: the bodies of several hubs'
// Responses to one request.
func MergeLists(out any, lists ...json.RawMessage) error {
	v := reflect.ValueOf(out).Elem()
	all := reflect.MakeSlice(v.Type(), 0, 0)
	for _, b := range lists {
		part := reflect.New(v.Type())
		if err := json.Unmarshal(b, part.Interface()); err != nil {
			return err
		}
		all = reflect.AppendSlice(all, part.Elem())
	}
	v.Set(all)
	return nil
}

// DeviceTopic returns the topic of kind under device's subtree
// (e.g. DeviceTopic("mb-0001", "event") = "linli/v1/dev/mb-0001/event").
func DeviceTopic(device, kind string) string {
	return Root + "/dev/" + device + "/" + kind
}

// GridAlertTopic is where the hub publishes alerts of grid.
func GridAlertTopic(grid string) string { return Root + "/grid/" + grid + "/alert" }

// AreaAlertsTopic is where the hub keeps the retained active alerts of a building.
func AreaAlertsTopic(community, building string) string {
	return Root + "/area/" + community + "/" + building + "/alerts"
}

// AreaTopic is where the hub keeps retained area data: kind is "notices",
// "directory" or "wishes".
func AreaTopic(community, kind string) string { return Root + "/area/" + community + "/" + kind }

// TicketTopic is where the hub keeps the retained public status of a ticket.
func TicketTopic(number string) string { return Root + "/ticket/" + number }

// RequestTopic carries gridctl's calls to the hub from client.
func RequestTopic(client string) string { return Root + "/hub/req/" + client }

// ResponseTopic carries the hub's answers to client.
func ResponseTopic(client string) string { return Root + "/hub/resp/" + client }

// ValidID reports whether s can be used as a device, grid, community or
// building id inside a topic: 1–64 characters, none of "/+#" or control
// characters or spaces.
func ValidID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if r == '/' || r == '+' || r == '#' || r <= ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

// Topic is a parsed topic.
type Topic struct {
	Kind   string // dev, grid, area, ticket, hub
	Device string // for dev topics
	Leaf   string // last level: event, telemetry, alert, notices, req, …
	Parts  []string
}

// ParseTopic splits a concrete topic of the tree (one a message is
// published on, not a subscription filter): every id level (device, grid,
// community, building, ticket number, client) must be a ValidID, so empty
// levels and the wildcards + and # are refused. It returns ErrTopic for
// anything outside the tree.
func ParseTopic(topic string) (Topic, error) {
	rest, ok := strings.CutPrefix(topic, Root+"/")
	if !ok {
		return Topic{}, fmt.Errorf("%w: %q", ErrTopic, topic)
	}
	parts := strings.Split(rest, "/")
	t := Topic{Kind: parts[0], Parts: parts, Leaf: parts[len(parts)-1]}
	// ids reports whether the levels at the given indexes are valid ids.
	ids := func(at ...int) bool {
		for _, i := range at {
			if !ValidID(parts[i]) {
				return false
			}
		}
		return true
	}
	switch {
	case t.Kind == "dev" && len(parts) == 3 && ids(1):
		t.Device = parts[1]
		switch t.Leaf {
		case "birth", "death", "state", "telemetry", "event", "report", "cmd", "cmdack", "fw", "fwreq", "fwstatus":
			return t, nil
		}
	case t.Kind == "grid" && len(parts) == 3 && t.Leaf == "alert" && ids(1):
		return t, nil
	case t.Kind == "area" && len(parts) == 4 && t.Leaf == "alerts" && ids(1, 2):
		return t, nil
	case t.Kind == "area" && len(parts) == 3 && (t.Leaf == "notices" || t.Leaf == "directory" || t.Leaf == "wishes") && ids(1):
		return t, nil
	case t.Kind == "ticket" && len(parts) == 2 && ids(1):
		return t, nil
	case t.Kind == "hub" && len(parts) == 3 && (parts[1] == "req" || parts[1] == "resp") && ids(2):
		return t, nil
	}
	return Topic{}, fmt.Errorf("%w: %q", ErrTopic, topic)
}
