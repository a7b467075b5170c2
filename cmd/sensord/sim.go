package main

import "errors"

// openSim will open the simulator (package devices/sim, being written).
func openSim(*Config, string) (*hardware, error) {
	return nil, errors.New("--sim: the simulator (devices/sim) is not in this build yet")
}
