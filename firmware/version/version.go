package version

import (
	"runtime"
	"strconv"
	"time"
)

// Version is the firmware version, e.g. "v0.3.1" or a git describe string.
var Version = "dev"

// Epoch is the build's SOURCE_DATE_EPOCH (seconds), the commit time: the
// same commit gives the same value, so builds stay reproducible.
var Epoch = "0"

// Built returns the build time from Epoch, or the zero time.
func Built() time.Time {
	s, err := strconv.ParseInt(Epoch, 10, 64)
	if err != nil || s <= 0 {
		return time.Time{}
	}
	return time.Unix(s, 0).UTC()
}

// String returns "VERSION (GOOS/GOARCH, go1.x)".
func String() string {
	return Version + " (" + runtime.GOOS + "/" + runtime.GOARCH + ", " + runtime.Version() + ")"
}
