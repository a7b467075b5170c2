// Package tickets is the hub's ticket flow: residents' reports from the
// kiosks become tickets that move through a fixed set of states, each step
// kept on the ticket's timeline, with time limits that warn and escalate.
// It also keeps the micro-wishes and the notices of each community. Every
// record lives in bbolt; a restart loses nothing, timers included.
//
// # States
//
//	submitted → accepted → in-progress → resolved → rated → closed
//
// with the side states returned, escalated, reopened and duplicate. The
// table of legal moves (verb: from → to):
//
//	accept    submitted, returned, escalated, reopened      → accepted
//	start     accepted, escalated, reopened                  → in-progress
//	resolve   accepted, in-progress, escalated, reopened     → resolved
//	return    submitted, accepted, in-progress, escalated,
//	          reopened                                       → returned
//	assign    submitted, returned, escalated, reopened       → submitted (new grid,
//	                                                           or a worker of it)
//	duplicate submitted, accepted, returned, escalated       → duplicate
//	escalate  every state but resolved, rated, closed,
//	          duplicate                                      → escalated
//	rate      resolved → rated → closed (satisfied, basically satisfied)
//	          resolved → rated → reopened (unsatisfied)
//	close     submitted, returned, resolved, duplicate       → closed
//
// Anything else fails with a *TransitionError ("tickets: K7-261127-00423 is
// resolved; cannot accept"), which matches ErrTransition.
//
// Returned (退单) means the grid the ticket was assigned to says it is not
// theirs: the wrong place, or outside their remit, with the reason in the
// note. The assignee is cleared and the ticket goes back to the community
// pool (list status "returned"), where community staff either Assign it to
// another grid or accept it themselves. Its accept timer starts again.
//
// Escalated (督办) means a time limit passed, or someone raised it by hand.
// Work goes on from there (accept, start, resolve); Level counts the
// escalations (1 = community, 2 = subdistrict).
//
// Rated is passed through: a satisfied rating rates and closes the ticket
// in one transaction, both steps on the timeline.
//
// Closed without a rating covers an invalid or spam report (from submitted
// or returned), a duplicate, or a resolved ticket nobody rated.
//
// # Time limits
//
// Each urgency has a limit to accept (签收) and a limit to resolve (办结),
// counted from the hub's time of arrival, not the kiosk's clock, which may
// be unset. Defaults (Options.Limits):
//
//	emergency  accept 30 min   resolve 2 h
//	urgent     accept 4 h      resolve 24 h
//	normal     accept 24 h     resolve 72 h
//
// They come from the practice collected in /work/shared/reference/kiosk.md
// section 4: 12345 hotline rules (emergencies answered the same day; the
// handling unit signs for an order within one working day; ordinary
// help requests in 2–7 working days) and the three-level red 2 h / yellow
// 24 h / blue 72 h response used in grid training. "One working day" is
// kept as 24 h: the hub has no holiday calendar. A reopened ticket gets
// fresh limits from the moment it reopened; a returned one a fresh accept
// limit.
//
// Due emits a warning WarnBefore the limit and an escalation at the limit,
// each once per ticket and limit (the flags are stored with the ticket), and
// performs the escalation itself.
//
// # Privacy
//
// A ticket keeps the whole report, phone number and free text included,
// for the grid workers. Status, the retained public view, carries neither,
// nor the door; the rating comment stays private too.
//
// # Permissions
//
// HandleRequest asks Options.Authorize (default Permit) before each
// operation, handing it the worker's role, grid and community and, for a
// move, the ticket as read in the transaction that changes it, so the
// check and the move cannot be separated by another change. The rules
// follow who answers for an alert at the same place: a ticket is worked on
// by the grid workers of its current grid, the community workers of its
// community and the subdistrict, never by maintenance staff; notices are
// published by their community's workers and the subdistrict; lists,
// wishes and volunteers' claims are open to every worker. A grid or
// community worker lists and reads the tickets of their own community.
// Assignment (ticket.assign, to another grid or to one grid worker) is a
// move like the others: the community workers of the ticket's community
// and the subdistrict may assign it, and so may the grid workers of its
// current grid, to hand it on; a grid worker may never take a ticket away
// from another grid. Options.AssignTarget (gridhub's configuration) keeps
// the target inside the ticket's community: a grid of it, or a grid
// worker of it, whose grid the ticket moves to. The ticket goes back to
// submitted there, assigned to that worker (or to nobody), with a fresh
// accept limit and a timeline step naming the grid, the worker and the
// reason. Escalate is no request operation (the contract has none): Due
// escalates, and the Store's methods serve callers that checked rights
// themselves. A refusal wraps ErrForbidden and names who may.
//
// # Hub wiring
//
// HandleRequest implements the request operations of contract/ops.go
// (ticket.*, tickets.list, wishes.list, wish.*, notice.publish) and
// HandleDeviceMessage the kiosks' Report, Rating and Wish. Both are
// idempotent for resent messages: a report is keyed by its number, a
// rating and a wish by id.
//
// Every change announces itself: a ticket's retained Status, a
// community's wish list or notices. With Options.PublishTx set (gridhub
// passes the hub's PublishTx, whose outbox lives in the same bbolt file),
// the announcement is queued inside the transaction of the change, so
// that a hub killed at any point has either both or neither, and a
// failure to queue rolls the change back. Without it, HandleRequest and
// HandleDeviceMessage return the messages for the caller to publish after
// the commit, and Publications those of Due.
package tickets
