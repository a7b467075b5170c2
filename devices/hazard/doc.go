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
// never alarms.
//
// Leaving is slow on purpose. A pre-alarm clears only once the value has
// stayed below the set-point less the hysteresis (3 K, 20 mA, 5 % of
// rated) for ClearAfter — 30 s by default, configurable up to 10 min — in
// an unbroken run of at least Confirm samples; a sample at or above that
// level, or a failed one, starts the run again. The hysteresis alone is no
// defence against noise: a residual current creeping through 200 mA with
// the ±20 mA a CT front end gives at 1 Hz went pre-alarm → normal →
// pre-alarm within 6 s with a 2-sample clear. With 30 s the chance that
// noise of that size fakes a clear is negligible (the noisy slow-ramp tests
// assert one pre-alarm and one alarm per crossing for every kind, over 20
// seeds). Nothing in GB 14287 sets how a pre-alarm withdraws: it is not a
// GB 14287 term (the standard knows normal, alarm and fault, and latches
// the alarm until reset). We take the budget GB 14287.2 is commonly
// quoted to give a detector to signal an alarm once the condition is
// reached (about 30 s) as the time a condition must be gone before we say
// it is; vendors of residual
// current monitors offer the same knob, e.g. Bender's RCM420 "delay on
// release" t_off of 0–99 s (manual p. 10,
// https://www.easymanua.ls/bender/linetraxx-rcm420/manual?p=10), and
// Circutor's RGU-10 an automatic or manual re-arm of its pre-alarm relay.
// Entering is never delayed by this: an alarm is entered as fast as ever,
// from pre-alarm, normal or a recovering fault.
//
// Smoke has no pre-alarm and its alarm latches, so chatter of the relay
// cannot repeat it (contact bounce is the smoke driver's debounce).
//
// # Faults
//
// A sensor error (devices.ErrAbsent, ErrNoAnswer, ErrOutOfRange, ErrWiring)
// or an implausible value (below) is never an alarm and never a zero:
// FaultAfter (3) consecutive failed samples make a fault, within 3 s at
// 1 Hz (GB 14287 allows about 100 s), and a single missed sample that
// recovers is ignored. The fault clears, with an event (cause
// "recovered"), by the same rule as a pre-alarm: once the sensor has given
// plausible readings for ClearAfter without a failure, so a sensor failing
// on and off makes one fault, not one per failure. While it recovers its
// readings count toward an alarm (which then replaces the fault at once);
// a pre-alarm waits for the recovery.
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
// # Plausibility
//
// Config.Min–Max is the range of values believed for the installation; a
// sample outside it is a fault with cause "implausible", the value, and a
// detail naming value and range ("-55 °C outside the plausible range
// -25–200 °C"). The defaults (PlausibleRange) are for an indoor meter box:
//
//   - Temperature −25…200 °C. IEC 61439-1 (GB/T 7251.1), the standard for
//     low-voltage assemblies such as meter boxes, sets (§7.1.1) the
//     ambient of an indoor assembly at −5…+40 °C and of an outdoor one
//     down to −25 °C; an unheated stairwell in the north stays within the
//     outdoor figure.
//     Colder is a sensor at the end of its scale: a TMP117 stuck at its
//     −55 °C limit, a DS18B20 or an open NTC at the bottom of its table.
//     The top is far above the 140 °C limit of the alarm set-points, so a
//     real fire always crosses the alarm first; only a jump past 200 °C (a
//     shorted thermistor, a wrong scale) is a fault.
//   - Residual current 0…5000 mA: an RMS value is never negative, and 5 A
//     is 5 × the top of GB 14287.2's set-point range, beyond the scale of
//     a residual-current CT (a saturated input is ErrOutOfRange anyway).
//   - Load current 0…10 × rated: more flows only for the milliseconds
//     before a breaker trips.
//   - Smoke 0…1, not configurable.
//
// Another installation (a box outdoors in Harbin, a plant room) sets its
// own range, in sensord's configuration. The range must hold the
// set-points: Max above the alarm set-point (a real alarm must never read
// as a fault) and Min below the pre-alarm set-point; New and
// SetThresholds refuse anything else with a *RangeError.
//
// # Time
//
// Events carry contract.Stamp: the wall-clock time only when the clock is
// believed set (after MinSynced, 2025-01-01, by default; see
// Options.Synced), otherwise a zero time with Synced false and the uptime,
// so a board without RTC never presents 1970 as a real date.
package hazard
