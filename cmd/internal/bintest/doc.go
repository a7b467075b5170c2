// Package bintest holds the helpers that the tests of the cmd/ binaries
// share: building a binary with go build (once per test binary, or with
// version ldflags), a free TCP address, a goroutine-safe output buffer for
// a child process, the /proc readers that measure a process's CPU time
// and memory, and a Signer that makes signed firmware bundles and ships
// the first version into an update root.
//
// It is a test-helper package: only _test.go files import it.
package bintest
