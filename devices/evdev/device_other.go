//go:build !linux

package evdev

// Device is an open touch screen; only Linux has them.
type Device struct{}
