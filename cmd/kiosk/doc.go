// Command kiosk runs a community self-service kiosk: the touch-screen UI
// (package ui) over the kiosk domain (package kiosk), with its data in bbolt
// and an MQTT uplink to the hub.
//
// Usage:
//
//	kiosk run --config FILE --data DIR [--display fb|fb:/dev/fbN|png:PATH|window]
//	          [--broker URL --user U --pass P] [--size 1024x600] [--lang zh|en]
//	          [--device ID --community ID --building ID --code K1] [--touch /dev/input/eventN]
//	kiosk version
//
// Flags override the configuration file, which is JSON:
//
//	{
//	  "device": "kiosk-01",            // MQTT client id; required
//	  "code": "K1",                    // ticket-number prefix, 1–3 of A–Z0–9; default from the device id
//	  "location": {"community": "c1", "building": "3"},
//	  "buildings": ["1", "2", "3"],    // alerts of these buildings only; default all of the community
//	  "pin": "2580",                   // maintenance PIN
//	  "lang": "zh",                    // language of a new session
//	  "idle_timeout": "90s",           // session wipe after no touch
//	  "catalog": "catalog.json",       // report categories (kiosk/catalog); default built in
//	  "site": "site.json",             // buildings, units, doors for the pickers
//	  "track_url": "https://…/t/%s"    // QR code of a ticket
//	}
//
// # Builds
//
// The device build is `go build -tags noos ./cmd/kiosk`: Fyne's embedded
// driver over package ui/display (framebuffer or PNG, evdev touch), pure Go,
// CGO_ENABLED=0, for linux/arm and arm64. `-tags desktop` opens a GLFW window
// (cgo). Without either tag the command still builds and runs with
// --display png:PATH only, rendering through Fyne's software test driver
// (what `go build ./...` and `go test ./...` compile).
//
// # Remote screenshot
//
// The command contract.CmdScreenshot is answered with a CommandAck whose
// Result is the JSON of a ui/screenshot.Result: the current frame as a
// paletted PNG, halved until the message fits contract.MaxPayload.
// Maintenance staff fetch it with `gridctl screenshot KIOSK > screen.png`.
//
// # Housekeeping
//
// The kiosk caches the status of every ticket of its community (and of
// the reports filed at it; another community's are ignored); it
// forgets those that ended (closed, duplicate) more than 90 days ago, at
// start and then daily.
package main
