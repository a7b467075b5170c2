// Package kiosk is the domain of a community self-service kiosk, without
// any user interface: residents file reports and get a ticket number at
// once, follow and rate their tickets, post micro-wishes, and read the
// notices, the public-service directory and the hazard alerts of their
// area. The UI (package ui) calls Service; nothing here imports Fyne.
//
// # Storage and delivery
//
// Everything lives in one bbolt file. A report, a rating or a wish is
// written in one transaction together with its outbox item (package
// outbox), so that what the resident was shown is exactly what will reach
// the hub, however long the network is down and across restarts. The
// uplink (package uplink) sends the outbox; the hub de-duplicates by ticket
// number, rating id and wish id, so resends are harmless.
//
// Ticket numbers are issued here (package ticketno), offline, and carried in
// the report: the number on the resident's slip is the hub's number.
//
// # What the kiosk receives
//
// The uplink subscribes to Topics and hands every message to
// HandleMessage: retained TicketStatus of every ticket of the kiosk's
// community, and of the reports filed at it (so any kiosk of the
// community can answer "where is my ticket"; another community's tickets,
// on a shared broker, are ignored), and the community's Notices, Directory,
// Wishes and per-building AreaAlerts. They are cached in bbolt, so the
// kiosk shows them after a restart without the network. An empty retained
// payload clears the cached copy. A message that does not decode is logged
// and counted (Health.BadMessages), never fatal.
//
// # Privacy
//
// A phone number is accepted only with the resident's consent, validated
// (mainland mobile or landline) and sent only inside the report, never in a
// public message. Once the hub has answered for a report, the kiosk removes
// the phone number and free text from its own copy.
package kiosk
