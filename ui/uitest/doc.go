// Package uitest provides a fake ui.Backend for tests of the kiosk screens
// and a settable clock.
package uitest
