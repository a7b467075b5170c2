// Package skin is the kiosk's Fyne theme: the bundled CJK font, sizes made
// for fingers at arm's length, a large-text mode and a high-contrast
// palette.
//
// Under the embedded (noos) driver app.SetDriverDetails resets the theme to
// Fyne's default, so set a skin.Theme after calling it.
package skin
