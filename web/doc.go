// Package web is gridhub's web front-end: the grid workers' console and
// the residents' pages, served by gridhub run --http ADDR with net/http,
// html/template and embedded files (a small hand-written script and style
// sheet; nothing is loaded from the internet, there is no build step).
// A hub standing by for another (gridhub run --ha) serves Standby instead:
// every page says so and names the active hub, with 503, until it takes
// over.
//
// # Who sees what
//
// Grid workers, community and subdistrict staff log in with their worker
// id and the password of the hub configuration (plain, "sha256:" or
// bcrypt; see config.CheckPassword). Their console shows live alerts with
// the escalation countdown, a beep and a browser notification when one
// arrives, and acknowledges and resets them; it works tickets (accept,
// start, resolve, return, close, duplicate), claims wishes for
// volunteers, publishes notices and shows the devices, live, on a plan
// drawn from the configuration. Every one of these goes through hub.Do: the
// request table and permission checks of gridctl's MQTT requests, so the
// console can do exactly what gridctl can, no more. When other hubs share
// the broker (shards, hub.Options.Hubs), a worker of several shards sees
// them all, as with gridctl --hubs: lists merge what the other hubs
// answer to hub.AskPeers, an operation on what this hub does not hold
// goes to the hub that does, their alerts arrive live, and a page whose
// list lacks a hub that did not answer says so.
//
// Residents need no login: /t/NUMBER is a ticket's public page (the
// kiosk's receipt QR code points there): its status, timeline, who
// handles it (role and name, never a phone number) and, once resolved,
// the rating, delivered through hub.Deliver like a kiosk's. /report files
// a report the way a kiosk does, numbered by kiosk/ticketno under the
// prefix "WEB", which no kiosk may use. /c/COMMUNITY shows the notices and
// wishes. These pages are rate-limited per client address.
//
// # Live pages
//
// A page that changes follows a server-sent event stream fed by
// hub.Subscribe; an event names what changed and the page fetches its own
// fragment (?frag=1) again, so permission checks stay on the server. An
// alert's event carries the alert's card itself, rendered on the server
// for that stream's worker (once per change and language for all open
// consoles, with each session's CSRF token put in): the alerts page draws
// it without a second round trip, which under load doubled the alert's
// way to the screen.
// A slow page never slows the hub: the hub drops changes for a lagging
// stream and sends it a resync instead. The alerts page beeps (WebAudio)
// once the worker tapped its sound button (browsers let a page sound only
// after a gesture) and shows a browser notification when allowed.
//
// # Security
//
// Sessions are random tokens whose sha256 is kept in the hub's bbolt
// file (bucket "web.sessions"), so logins survive a restart; cookies are
// HttpOnly, SameSite=Strict, and Secure under TLS. Every POST carries a
// CSRF token: the session's, or for the forms anyone may send a
// double-submit cookie. Failed logins are throttled per worker id and per
// address, doubling the wait after three failures. Pages carry a strict
// Content-Security-Policy (no inline script).
package web
