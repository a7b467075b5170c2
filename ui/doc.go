// Package ui is the kiosk's touch-screen user interface, built with Fyne.
//
// A Kiosk owns one window's content. It shows the home tiles and the
// resident flows — report a problem (category → building/unit/door →
// phrases → phone → confirm → ticket number and QR code), track a ticket,
// rate it, micro-wishes, notices and the service directory — in Chinese
// first with an English switch, large-text and high-contrast modes. No
// system keyboard exists on the device: every number is typed on the
// on-screen keypad and free text is replaced by pick-lists.
//
// A hazard alert of the kiosk's building covers any screen in red and says
// what to do until the alert clears; "I understand" shrinks it to a banner.
// It says honestly where help stands: that the grid worker (or, escalated,
// community or subdistrict staff) has been told while nobody has
// acknowledged, and who is on the way — role and name from the hub's
// acknowledgement (contract.Alert.AckedRole, AckedName) — only after.
// After IdleTimeout without a touch the session is wiped (draft, phone
// number, language and display modes) and the home screen returns; the last
// Countdown of it is shown. Secondary-tapping (a long press on the device)
// or tapping five times in three seconds on the title opens the maintenance
// screen behind a PIN.
//
// # Threading
//
// New, Tick and Changed must run on Fyne's UI goroutine (inside fyne.Do when
// called from elsewhere); Notify may be called from any goroutine. The
// embedded driver does not redraw after fyne.Do, so every change not caused
// by a touch ends with a call to Options.Refresh.
//
// The screens consume a Backend, declared here from small interfaces;
// package ui/uitest has a fake one.
package ui
