// Package restart is how sensord and the kiosk become another version of
// themselves after a firmware update (or a rolled-back trial): the
// firmware Device asks for an exec, a Latch records it and ends the run,
// the run returns the request as an *Error after a clean shutdown, and
// main calls Into, which replaces the process with the new program. The
// process id stays, so systemd sees the same service.
//
// OpenDevice opens the firmware updates of a binary, or a disabled Device
// when its update root is unusable: a broken update set-up never stops
// the binary's real work.
package restart
