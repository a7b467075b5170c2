//go:build !linux

package main

import "errors"

func openHardware(*Config) (*hardware, error) {
	return nil, errors.New("real hardware needs Linux; use --sim NAME")
}
