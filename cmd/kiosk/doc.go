// Command kiosk runs a community self-service kiosk: the touch-screen UI
// (package ui) over the kiosk domain (package kiosk), with its data in bbolt
// and an MQTT uplink to the hub.
//
// Usage:
//
//	kiosk run --config FILE --data DIR [--display fb|fb:/dev/fbN|png:PATH|window]
//	          [--broker URL --user U --pass P] [--size 1024x600] [--lang zh|en]
//	          [--device ID --community ID --building ID --code K1] [--hub-url URL]
//	          [--touch /dev/input/eventN]
//	          [--update-root DIR [--root-keys FILE] [--update-listen ADDR [--update-token T]]
//	           [--usb-dirs GLOBS] [--trial-deadline 3m]]
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
//	  "hub_url": "http://hub.local:8080", // the hub's public web address: QR code → …/t/NUMBER
//	  "track_url": "https://…/t/%s"    // QR code of a ticket; default from hub_url, else linli:ticket:%s
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
// # Firmware updates
//
// With --update-root the kiosk takes firmware updates the way sensord does
// (package firmware/device): the "update" command with a transfer offer,
// a bundle on a USB stick (--usb-dirs) or a LAN push (--update-listen,
// for gridctl flash --local). The bundle must hold a "kiosk" file. Boot
// runs first, before the configuration is read; a new version restarts the
// process with exec (same PID), runs on trial and is committed once it has
// drawn its first frame, its UI loop answers and, with a broker, the
// uplink is connected. A version that does not get there within
// --trial-deadline, or crashes three starts in a row, is rolled back.
//
// The kiosk's update root is its own (kiosk.service: /opt/linli-kiosk,
// with the root keys of /opt/linli/roots.pub): it must not be sensord's,
// whose update.db the running sensord holds locked, and each program runs
// its own trial. A release bundle holds both programs, so one bundle (or
// one USB stick) updates both roots. A problem with the update root is
// logged and leaves updates off; the kiosk runs anyway.
//
// Under systemd (Type=notify) the kiosk sends READY=1 once the first frame
// is drawn, and feeds the watchdog only while the UI goroutine answers a
// ping within 5 s: a hung Fyne loop is restarted by systemd.
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
