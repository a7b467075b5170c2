// Package version tells which firmware build is running. The release build
// sets Version and Epoch with -ldflags -X (see the Makefile); a plain
// `go build` leaves "dev".
package version
