// Package dashboard renders the community and subdistrict dashboard of
// gridhub's web front-end: pictures, not tables, drawn as server-side SVG
// by package web/chart —
//
//   - alarms per day (alarms and faults stacked) over the last Options.Days;
//   - alerts per grid, every grid of the scope listed, quiet ones at zero;
//   - response times as distributions: raised → acknowledged,
//     acknowledged → cleared and raised → cleared;
//   - tickets by status (all tickets of the scope) and by category (filed
//     in the period);
//   - satisfaction over time: residents' ratings per week, stacked;
//   - devices online, by kind.
//
// Each chart sits in a <figure> with a heading and a one-sentence text
// summary in its <figcaption> (the figures a screen reader or a hurried
// reader needs), the SVG carrying its own <title> and <desc>.
//
// Render writes an HTML fragment (no <html> or <body>) for the web server
// to place in its page; a <style> element scoped to the .linli-dash class
// comes with it. Scope selects one community or, empty, the whole
// subdistrict. Role gating is the web server's job: the dashboard shows
// whatever scope it is asked for.
//
// The dashboard reads the domain through small interfaces declared here:
// AlertSource (the hub's Alerts(true), cleared ones included),
// DeviceSource (the hub's Devices) and TicketSource (the ticket Store's
// List), with grids and communities from the hub configuration. Nothing is
// cached; each Render reads the stores afresh.
package dashboard
