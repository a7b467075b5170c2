package contract

import "time"

// Operations of the hub's request/response protocol (Request.Op). gridctl
// publishes a Request on RequestTopic(client) and reads the Response with
// the same ID on ResponseTopic(client); the broker lets a client use only
// its own pair, and the hub checks the worker's role for each operation.
// Arguments are in Request.Args unless noted; results in Response.Body.
const (
	OpAlertsList = "alerts.list"  // args: all ("true" to include cleared); body: []Alert
	OpAlertAck   = "alert.ack"    // args: id; body: Alert
	OpDevices    = "devices.list" // body: []DeviceInfo
	OpDeviceCmd  = "device.cmd"   // args: device, name (a Cmd* name), plus the command's args; body: CommandAck

	OpTicketsList     = "tickets.list"     // args: status, grid (both optional); body: []TicketStatus
	OpTicketGet       = "ticket.get"       // args: number; body: TicketStatus
	OpTicketAccept    = "ticket.accept"    // args: number; body: TicketStatus
	OpTicketStart     = "ticket.start"     // args: number; body: TicketStatus
	OpTicketResolve   = "ticket.resolve"   // args: number, note; body: TicketStatus
	OpTicketReturn    = "ticket.return"    // args: number, note; body: TicketStatus
	OpTicketDuplicate = "ticket.duplicate" // args: number, of; body: TicketStatus
	OpTicketAssign    = "ticket.assign"    // args: number, grid and/or worker (a grid worker), note; body: TicketStatus
	OpTicketClose     = "ticket.close"     // args: number, note; body: TicketStatus

	OpWishesList = "wishes.list"    // args: community (optional); body: []Wish
	OpWishClaim  = "wish.claim"     // args: id, by (volunteer's name); body: Wish
	OpWishDone   = "wish.done"      // args: id; body: Wish
	OpNotice     = "notice.publish" // args: community; Request.Body: Notice; body: Notices
)

// DeviceInfo is the hub's view of one device, as listed by OpDevices.
type DeviceInfo struct {
	Device   string         `json:"device"`
	Kind     string         `json:"kind"`
	Online   bool           `json:"online"`
	LastSeen time.Time      `json:"last_seen,omitzero"`
	Session  uint32         `json:"session"`
	Firmware string         `json:"firmware,omitempty"`
	Location Location       `json:"location"`
	Channels []ChannelState `json:"channels,omitempty"`
	Health   Health         `json:"health"`
	// LastEventSeq is the highest event seq received from the device;
	// MissingEvents counts gaps seen in that sequence.
	LastEventSeq  uint64 `json:"last_event_seq"`
	MissingEvents uint64 `json:"missing_events,omitempty"`
}
