package contract

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Message is implemented by every message type of the contract.
type Message interface {
	header() *Header
	// Validate checks the required fields of the message.
	Validate() error
}

func (h *Header) header() *Header { return h }

// Encode sets the version and type of m and marshals it.
func Encode(m Message) ([]byte, error) {
	h := m.header()
	h.V = Version
	h.Type = typeOf(m)
	if err := m.Validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("contract: encode %s: %w", h.Type, err)
	}
	if len(b) > MaxPayload {
		return nil, fmt.Errorf("%w: %s of %d bytes", ErrTooLarge, h.Type, len(b))
	}
	return b, nil
}

// MustEncode is Encode for messages built by the program itself; it panics
// on an error, which can only be a programming mistake.
func MustEncode(m Message) []byte {
	b, err := Encode(m)
	if err != nil {
		panic(err)
	}
	return b
}

func typeOf(m Message) string {
	switch m.(type) {
	case *Birth:
		return TypeBirth
	case *Death:
		return TypeDeath
	case *DeviceState:
		return TypeState
	case *Telemetry:
		return TypeTelemetry
	case *Event:
		return TypeEvent
	case *Report:
		return TypeReport
	case *Rating:
		return TypeRating
	case *Wish:
		return TypeWish
	case *Command:
		return TypeCommand
	case *CommandAck:
		return TypeCommandAck
	case *Alert:
		return TypeAlert
	case *AreaAlerts:
		return TypeAreaAlerts
	case *Notices:
		return TypeNotices
	case *Directory:
		return TypeDirectory
	case *Wishes:
		return TypeWishes
	case *TicketStatus:
		return TypeTicketStatus
	case *Request:
		return TypeRequest
	case *Response:
		return TypeResponse
	case *FirmwareRequest:
		return TypeFirmwareRequest
	case *FirmwareStatus:
		return TypeFirmwareStatus
	}
	panic(fmt.Sprintf("contract: unknown message %T", m))
}

func newOf(typ string) Message {
	switch typ {
	case TypeBirth:
		return new(Birth)
	case TypeDeath:
		return new(Death)
	case TypeState:
		return new(DeviceState)
	case TypeTelemetry:
		return new(Telemetry)
	case TypeEvent:
		return new(Event)
	case TypeReport:
		return new(Report)
	case TypeRating:
		return new(Rating)
	case TypeWish:
		return new(Wish)
	case TypeCommand:
		return new(Command)
	case TypeCommandAck:
		return new(CommandAck)
	case TypeAlert:
		return new(Alert)
	case TypeAreaAlerts:
		return new(AreaAlerts)
	case TypeNotices:
		return new(Notices)
	case TypeDirectory:
		return new(Directory)
	case TypeWishes:
		return new(Wishes)
	case TypeTicketStatus:
		return new(TicketStatus)
	case TypeRequest:
		return new(Request)
	case TypeResponse:
		return new(Response)
	case TypeFirmwareRequest:
		return new(FirmwareRequest)
	case TypeFirmwareStatus:
		return new(FirmwareStatus)
	}
	return nil
}

// allowed lists the message types that may appear on each topic leaf.
var allowed = map[string][]string{
	"birth":     {TypeBirth},
	"death":     {TypeDeath},
	"state":     {TypeState},
	"telemetry": {TypeTelemetry},
	"event":     {TypeEvent},
	"report":    {TypeReport, TypeRating, TypeWish},
	"cmd":       {TypeCommand},
	"cmdack":    {TypeCommandAck},
	"alert":     {TypeAlert},
	"alerts":    {TypeAreaAlerts},
	"notices":   {TypeNotices},
	"directory": {TypeDirectory},
	"wishes":    {TypeWishes},
	"ticket":    {TypeTicketStatus},
	"req":       {TypeRequest},
	"resp":      {TypeResponse},
	"fwreq":     {TypeFirmwareRequest},
	"fwstatus":  {TypeFirmwareStatus},
}

// Decode parses a payload received on topic. Pass topic "" to decode
// without checking the topic. The returned Message is a pointer to one of
// the message structs of this package. Every error wraps one of the
// sentinels of this package and names the problem.
func Decode(topic string, payload []byte) (Message, error) {
	if len(payload) > MaxPayload {
		return nil, fmt.Errorf("%w: %d bytes (max %d)", ErrTooLarge, len(payload), MaxPayload)
	}
	var h Header
	if err := json.Unmarshal(payload, &h); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if h.V != Version {
		return nil, fmt.Errorf("%w: v=%d (want %d)", ErrVersion, h.V, Version)
	}
	m := newOf(h.Type)
	if m == nil {
		return nil, fmt.Errorf("%w: %q", ErrType, h.Type)
	}
	var t Topic
	if topic != "" {
		var err error
		if t, err = ParseTopic(topic); err != nil {
			return nil, err
		}
		leaf := t.Leaf
		switch t.Kind {
		case "ticket":
			leaf = "ticket"
		case "hub":
			leaf = t.Parts[1]
		}
		ok := false
		for _, a := range allowed[leaf] {
			ok = ok || a == h.Type
		}
		if !ok {
			return nil, fmt.Errorf("%w: %q on %q", ErrType, h.Type, topic)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(m); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrMalformed, h.Type, err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if t.Device != "" {
		if d := deviceOf(m); d != "" && d != t.Device {
			return nil, fmt.Errorf("%w: device %q published on %q", ErrTopic, d, topic)
		}
	}
	return m, nil
}

func deviceOf(m Message) string {
	switch m := m.(type) {
	case *Birth:
		return m.Device
	case *Death:
		return m.Device
	case *DeviceState:
		return m.Device
	case *Telemetry:
		return m.Device
	case *Event:
		return m.Device
	case *Report:
		return m.Device
	case *Rating:
		return m.Device
	case *Wish:
		return m.Device
	case *Command:
		return m.Device
	case *CommandAck:
		return m.Device
	case *FirmwareRequest:
		return m.Device
	case *FirmwareStatus:
		return m.Device
	}
	return ""
}

func missing(typ, field string) error { return fmt.Errorf("%w: %s.%s", ErrMissing, typ, field) }

func needID(typ, field, v string) error {
	if v == "" {
		return missing(typ, field)
	}
	if !ValidID(v) {
		return fmt.Errorf("%w: %s.%s %q is not a valid id", ErrMalformed, typ, field, v)
	}
	return nil
}

// Validate implements Message.
func (m *Birth) Validate() error {
	if err := needID("birth", "device", m.Device); err != nil {
		return err
	}
	if m.Kind != "sensor" && m.Kind != "kiosk" {
		return fmt.Errorf("%w: birth.kind %q (want sensor or kiosk)", ErrMalformed, m.Kind)
	}
	return nil
}

// Validate implements Message.
func (m *Death) Validate() error { return needID("death", "device", m.Device) }

// Validate implements Message.
func (m *DeviceState) Validate() error {
	if err := needID("state", "device", m.Device); err != nil {
		return err
	}
	for _, c := range m.Channels {
		if !c.State.Valid() {
			return fmt.Errorf("%w: state.channels[%s].state %q", ErrMalformed, c.Channel, c.State)
		}
	}
	return nil
}

// Validate implements Message.
func (m *Telemetry) Validate() error {
	if err := needID("telemetry", "device", m.Device); err != nil {
		return err
	}
	if m.Seq == 0 {
		return missing("telemetry", "seq")
	}
	return nil
}

// Validate implements Message.
func (m *Event) Validate() error {
	switch {
	case m.ID == "":
		return missing("event", "id")
	case m.Seq == 0:
		return missing("event", "seq")
	case m.Channel == "":
		return missing("event", "channel")
	case !m.To.Valid():
		return fmt.Errorf("%w: event.to %q", ErrMalformed, m.To)
	case m.From != "" && !m.From.Valid():
		return fmt.Errorf("%w: event.from %q", ErrMalformed, m.From)
	}
	return needID("event", "device", m.Device)
}

// Urgencies of a report.
const (
	UrgencyEmergency = "emergency"
	UrgencyUrgent    = "urgent"
	UrgencyNormal    = "normal"
)

// Validate implements Message.
func (m *Report) Validate() error {
	switch {
	case m.Number == "":
		return missing("report", "number")
	case m.Category == "":
		return missing("report", "category")
	case m.Phone != "" && !m.Consent:
		return fmt.Errorf("%w: report.phone given without consent", ErrMalformed)
	case len(m.Text) > 2000:
		return fmt.Errorf("%w: report.text is %d bytes (max 2000)", ErrMalformed, len(m.Text))
	}
	switch m.Urgency {
	case UrgencyEmergency, UrgencyUrgent, UrgencyNormal:
	default:
		return fmt.Errorf("%w: report.urgency %q (want emergency, urgent or normal)", ErrMalformed, m.Urgency)
	}
	return needID("report", "device", m.Device)
}

// Validate implements Message.
func (m *Rating) Validate() error {
	switch {
	case m.ID == "":
		return missing("rating", "id")
	case m.Number == "":
		return missing("rating", "number")
	}
	switch m.Rating {
	case RatingSatisfied, RatingBasically, RatingUnsatisfied:
	default:
		return fmt.Errorf("%w: rating.rating %q", ErrMalformed, m.Rating)
	}
	return needID("rating", "device", m.Device)
}

// Validate implements Message.
func (m *Wish) Validate() error {
	switch {
	case m.ID == "":
		return missing("wish", "id")
	case m.Text == "":
		return missing("wish", "text")
	}
	return nil
}

// Validate implements Message.
func (m *Command) Validate() error {
	switch {
	case m.ID == "":
		return missing("cmd", "id")
	case m.Name == "":
		return missing("cmd", "name")
	}
	return needID("cmd", "device", m.Device)
}

// Validate implements Message.
func (m *CommandAck) Validate() error {
	if m.ID == "" {
		return missing("cmdack", "id")
	}
	return needID("cmdack", "device", m.Device)
}

// Validate implements Message.
func (m *Alert) Validate() error {
	switch {
	case m.ID == "":
		return missing("alert", "id")
	case m.Device == "":
		return missing("alert", "device")
	case !m.State.Valid():
		return fmt.Errorf("%w: alert.state %q", ErrMalformed, m.State)
	}
	return nil
}

// Validate implements Message.
func (m *AreaAlerts) Validate() error {
	if m.Community == "" {
		return missing("area-alerts", "community")
	}
	for i := range m.Alerts {
		if err := m.Alerts[i].Validate(); err != nil {
			return fmt.Errorf("%w (in area-alerts.alerts[%d])", err, i)
		}
	}
	return nil
}

// Notice levels. An empty Notice.Level means NoticeInfo.
const (
	NoticeInfo    = "info"
	NoticeWarning = "warning"
	NoticeTyphoon = "typhoon"
)

// Validate implements Message.
func (m *Notices) Validate() error {
	if m.Community == "" {
		return missing("notices", "community")
	}
	for i, n := range m.Notices {
		switch n.Level {
		case "", NoticeInfo, NoticeWarning, NoticeTyphoon:
		default:
			return fmt.Errorf("%w: notices.notices[%d].level %q (want info, warning or typhoon)", ErrMalformed, i, n.Level)
		}
	}
	return nil
}

// Validate implements Message.
func (m *Directory) Validate() error {
	if m.Community == "" {
		return missing("directory", "community")
	}
	return nil
}

// Validate implements Message.
func (m *Wishes) Validate() error {
	if m.Community == "" {
		return missing("wishes", "community")
	}
	return nil
}

// Validate implements Message.
func (m *TicketStatus) Validate() error {
	if m.Number == "" {
		return missing("ticket", "number")
	}
	return nil
}

// Validate implements Message.
func (m *Request) Validate() error {
	switch {
	case m.ID == "":
		return missing("request", "id")
	case m.Op == "":
		return missing("request", "op")
	}
	return nil
}

// Validate implements Message.
func (m *Response) Validate() error {
	if m.ID == "" {
		return missing("response", "id")
	}
	return nil
}
