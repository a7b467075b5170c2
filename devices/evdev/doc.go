// Package evdev reads touch screens through the Linux input event
// interface (/dev/input/eventN) in pure Go, over golang.org/x/sys/unix.
//
// The work is split so that every piece can be tested from recorded bytes:
//
//   - Reader decodes struct input_event from any io.Reader. The struct is
//     24 bytes on 64-bit kernels and 16 on 32-bit ARM (struct timeval is two
//     longs); the word size is a parameter, so recordings of both replay on
//     any machine.
//   - Tracker turns events into Touch values: the multi-touch protocol type
//     B (ABS_MT_SLOT, ABS_MT_TRACKING_ID with -1 for a lift,
//     ABS_MT_POSITION_X/Y), with a fallback for single-touch panels
//     (BTN_TOUCH with ABS_X/ABS_Y). Nothing is emitted before SYN_REPORT
//     closes a frame, and a frame yields at most one Move per contact, so a
//     fast finger never floods a slow renderer. Touch IDs are slot numbers,
//     small and reused, not the kernel's ever-growing tracking ids.
//   - Calibration maps raw axis values (their range read with EVIOCGABS)
//     to screen pixels, with axis swap and inversion for panels wired
//     differently from their display, and the same clockwise rotation the
//     framebuffer package applies to the picture.
//   - Device (Linux) opens the node, reads the axis ranges, grabs the
//     device (EVIOCGRAB) so the console does not see the touches, and runs
//     the loop until its context ends.
//
// After SYN_DROPPED (the kernel's buffer overflowed) the Tracker discards
// the rest of the frame and lifts every contact; a finger still down then
// comes back only with its next touch. Resynchronising with EVIOCGMTSLOTS
// is not done.
//
// # References
//
//   - Documentation/input/multi-touch-protocol.rst (type B, slots)
//   - Documentation/input/event-codes.rst (SYN_REPORT, SYN_DROPPED, BTN_TOUCH)
//   - include/uapi/linux/input.h (struct input_event, input_absinfo, EVIOCGABS, EVIOCGRAB)
package evdev
