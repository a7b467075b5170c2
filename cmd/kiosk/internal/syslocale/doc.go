// Package syslocale gives Fyne a system locale it can parse. Importing it
// is enough: its init runs before Fyne's.
//
// Fyne reads LC_ALL, LC_MESSAGES then LANG while its lang package is
// initialised, before main runs, and for the POSIX locale "C.UTF-8" (what a
// bare Debian board or a systemd service has) it logs a three-line "Fyne
// error: Error parsing user locale C". The kiosk takes its language from its
// configuration, not from the locale, so the POSIX locale is replaced by
// Default in the process's environment. The package imports only os and
// strings, so Go's package initialisation order (by import path, once a
// package's imports are initialised) runs it before fyne.io/fyne/v2/lang,
// which waits for text/template among others.
package syslocale
