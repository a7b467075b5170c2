// Package hazard decides the state of a meter box's hazard channels —
// temperature, residual (leakage) current, load current and smoke — from
// their samples: normal, pre-alarm, alarm (latched until reset), fault,
// disabled and test, as GB 14287 and EN 54 name them.
//
// The Engine is a pure state machine with an injected clock
// (Options.Now): it does no I/O and never sleeps, so tests and the
// simulator drive it in simulated time. Every transition comes out of
// Observe, Reset, Test, Disable or DeviceFault as a contract.Event with no
// ID and Seq; the store assigns both when it commits the event (see package
// store), so that the sequence is gapless across restarts.
//
// # Set-points and defaults
//
// The alarm set-point ranges are those GB 14287 requires a detector to
// offer: temperature 55–140 °C (GB 14287.3), residual current 20–1000 mA
// (GB 14287.2). A set-point outside its range is refused with a *RangeError
// that names the field and the range, at start (configuration) and when
// changed by command (SetThresholds). Who may change them is the hub's
// business; the engine only refuses what no one may set.
//
// Residual current: pre-alarm 200 mA, alarm 300 mA. GB 50116-2013 §9.2.3
// (explanatory note) observes that a healthy installation leaks 100–200 mA
// and that about 300 mA can ignite, and advises alarm set-points of
// 300–500 mA; we alarm at the bottom of that band and pre-alarm at the top
// of normal leakage.
//
// Temperature: pre-alarm 70 °C, alarm 90 °C. The wiring in a meter box is
// mostly PVC-insulated (BV/BVR), rated 70 °C continuous; a terminal or
// busbar above 70 °C is ageing its insulation and is worth a visit
// (pre-alarm), and 90 °C is well above any healthy operating point of a
// residential box yet far below the 140 °C top of the range and the
// temperatures at which PVC chars. For comparison EN 54-5 class A1 heat
// detectors respond statically at 54–65 °C in a room at 25 °C; a meter
// box runs hotter than a room, hence our higher figures.
//
// Rate of rise (temperature only): 10 K/min over a 60 s window, the
// region EN 54-5's class R detectors are tested in. It is an add-on to the
// fixed threshold, never a replacement (a slow fire still alarms at 90 °C;
// a detector that alarms only on rise would not comply with EN 54-5).
//
// Load current: pre-alarm 80 % and alarm 100 % of the configured rated
// current; the alarm set-point may be set within 50–150 % of the rating.
//
// Smoke: alarm when the detector's alarm relay is confirmed closed. Smoke
// has no pre-alarm and no set-points.
//
// # Timing, confirmation and hysteresis
//
// The standards allow about 30 s (residual current) and 40 s (temperature)
// from the condition to the alarm, and about 100 s for a fault. We aim far
// lower. A level (pre-alarm, alarm) is entered when Confirm of the last
// Window samples reach it — 2 of 3 by default — so at 1 Hz a condition
// alarms 1–2 s after its onset (at most 3 s), while a single-sample glitch
// never alarms. A pre-alarm clears only after Confirm consecutive samples
// below the set-point less the hysteresis (3 K, 20 mA, 5 % of rated), so a
// value hovering at the set-point does not chatter.
//
// # Faults
//
// A sensor error (devices.ErrAbsent, ErrNoAnswer, ErrOutOfRange, ErrWiring)
// or a value outside the kind's physical range is never an alarm and never
// a zero: FaultAfter (3) consecutive failed samples make a fault, within
// 3 s at 1 Hz (the budget is 5 s), and a single missed sample that
// recovers is ignored. The fault clears, with an event (cause "recovered"),
// at the first good reading.
//
// Alarms latch until Reset. A fault never masks a latched alarm: the
// channel stays in alarm, and the sensor's failure and recovery are logged
// as annotation events with From == To == alarm (causes
// "sensor-fault:<why>" and "sensor-recovered"). Receivers must treat an
// event with From == To as a note, not as a new alarm.
//
// Device channels (Kind Device, e.g. "storage") are not sampled:
// DeviceFault puts one in fault (a corrupt database moved aside) and Reset
// clears it.
//
// # Time
//
// Events carry contract.Stamp: the wall-clock time only when the clock is
// believed set (after MinSynced, 2025-01-01, by default; see
// Options.Synced), otherwise a zero time with Synced false and the uptime,
// so a board without RTC never presents 1970 as a real date.
package hazard
