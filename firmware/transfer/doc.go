// Package transfer moves a firmware bundle to a device over MQTT in
// fixed-size blocks, resuming where it stopped.
//
// The sender (gridctl, or any maintenance tool connected to the broker)
// offers a transfer in an "update" command: its id, size, block size and the
// sha256 of the whole bundle. The device's Receiver asks for the blocks it
// misses, a window at a time, on DeviceTopic(device, "fwreq"); the Sender
// answers each with a binary block on DeviceTopic(device, "fw"):
//
//	"LFW1" | u16 len(transfer) | transfer | u32 index | data
//
// The Receiver writes each block at its offset into DIR/TRANSFER.part,
// fsyncs the file, and only then marks the block in a bitmap kept in bbolt,
// so a disconnect or a reboot resumes with exactly the blocks that are
// missing; nothing that was received durably is asked for again. When the
// bitmap is full the whole file is hashed again (after a resume too) and
// compared with the offer's sha256 before the file is handed to the
// updater. A window with no answer is asked again; after MaxRetries windows
// in a row with no progress the transfer fails, and says why.
//
// Progress is reported as a contract.FirmwareStatus: a state plus
// {count, of} blocks.
package transfer
