package contract

import "fmt"

// Firmware transfer messages (see package firmware/transfer). Blocks travel
// as binary payloads on DeviceTopic(device, "fw"), not as JSON.
const (
	TypeFirmwareRequest = "fwreq"
	TypeFirmwareStatus  = "fwstatus"
)

// Arguments of the CmdUpdate command: a firmware offer (package
// firmware/transfer's Offer). The security version is the bundle's
// manifest's; with the sha256 of the bundle file it lets a device refuse,
// before any download, a bundle it rolled back, while accepting a
// re-release of the same version string (another bundle, or a higher
// security version), and a bundle below its anti-rollback floor. It is
// optional (0 or missing: unknown), for offers of older tools.
const (
	UpdateArgTransfer  = "transfer"         // transfer id
	UpdateArgVersion   = "version"          // the bundle's version string
	UpdateArgSecurity  = "security_version" // the bundle's security version, decimal
	UpdateArgSize      = "size"             // bundle size in bytes
	UpdateArgBlockSize = "block_size"       // transfer block size in bytes
	UpdateArgSHA256    = "sha256"           // sha256 of the bundle file, lower-case hex
)

// FirmwareRequest is a device asking for blocks of a transfer, on
// DeviceTopic(device, "fwreq"). Blocks lists the wanted block indexes (at
// most a window's worth).
type FirmwareRequest struct {
	Header
	Device   string   `json:"device"`
	Transfer string   `json:"transfer"`
	Blocks   []uint32 `json:"blocks"`
}

// Firmware transfer and install states, in order.
const (
	FwOffered    = "offered"
	FwDownload   = "downloading"
	FwVerifying  = "verifying"
	FwInstalling = "installing"
	FwTrial      = "trial"
	FwCommitted  = "committed"
	FwRolledBack = "rolled-back"
	FwFailed     = "failed"
)

// FirmwareStatus reports a transfer's progress, on DeviceTopic(device,
// "fwstatus"): a state plus {count, of} blocks, and the reason of a failure
// or rollback.
type FirmwareStatus struct {
	Header
	Device   string `json:"device"`
	Transfer string `json:"transfer"`
	Version  string `json:"version,omitempty"`
	State    string `json:"state"`
	Count    int    `json:"count"`
	Of       int    `json:"of"`
	Error    string `json:"error,omitempty"`
	Running  string `json:"running,omitempty"` // the version the device runs now
}

// Validate implements Message.
func (m *FirmwareRequest) Validate() error {
	if m.Transfer == "" {
		return missing("fwreq", "transfer")
	}
	if len(m.Blocks) > 4096 {
		return fmt.Errorf("%w: fwreq.blocks lists %d blocks (max 4096)", ErrMalformed, len(m.Blocks))
	}
	return needID("fwreq", "device", m.Device)
}

// Validate implements Message.
func (m *FirmwareStatus) Validate() error {
	if m.Transfer == "" {
		return missing("fwstatus", "transfer")
	}
	if m.State == "" {
		return missing("fwstatus", "state")
	}
	return needID("fwstatus", "device", m.Device)
}
