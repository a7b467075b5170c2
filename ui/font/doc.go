// Package font bundles the kiosk's Chinese font.
//
// Fyne ships no CJK font and the kiosk image has no system fonts, so the
// theme (package ui/skin) draws hanzi from kiosk-cjk.ttf, embedded here: a
// subset of Droid Sans Fallback (Google, Apache License 2.0, see
// LICENSE-DroidSansFallback.txt) holding every rune of the UI tables plus all
// 6763 hanzi of GB 2312 and CJK punctuation, about 1 MB. Latin letters and
// digits are not in it; Fyne falls back to its built-in Noto Sans for those.
//
// After changing a UI string run
//
//	go generate ./ui/font
//
// which runs gen.sh (needs fonts-droid-fallback and python3-fonttools). The
// ui package's tests fail when a string shows a rune neither font covers.
package font

//go:generate sh gen.sh
