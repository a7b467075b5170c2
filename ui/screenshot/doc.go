// Package screenshot turns a kiosk screen into a PNG small enough for one
// MQTT message.
//
// gridctl screenshot KIOSK asks a kiosk for its screen with the command
// contract.CmdScreenshot. The kiosk answers with a contract.CommandAck whose
// Result is the JSON of a Result: the PNG in base64 and its size. A
// message may not exceed contract.MaxPayload (64 KiB) and base64 grows data
// by a third, so the PNG must stay under about 48 KiB. A 1024×600 kiosk
// screen as a 24-bit PNG is 40–120 KiB; as a paletted PNG (the UI has flat
// colours; at most 256 are kept, the most frequent, and every pixel takes the
// nearest) it is typically 15–40 KiB. When that is still too large the
// image is halved, then halved again, until it fits; Result.Scale says by
// how much. No chunking: one request, one answer.
//
// Encode does the work on the kiosk; Decode is for the receiving side.
// The package has no Fyne dependency.
package screenshot
