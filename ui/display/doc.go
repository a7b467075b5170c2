// Package display runs the kiosk's Fyne UI on a bare Linux board: it is a
// fyne.io/fyne/v2/driver/embedded.Driver that shows frames on a Sink (the
// framebuffer, or PNG files when there is no screen) and feeds it touches
// from an evdev touch screen. With Fyne's embedded ("noos") driver the
// kiosk is pure Go (CGO_ENABLED=0) on ARM.
//
// The package itself never imports fyne.io/fyne/v2/app, so it builds and
// tests with plain Go. Only cmd/kiosk, under the noos build tag, does:
//
//	a := app.NewWithID("linli.kiosk")       // -tags noos
//	drv := display.New(sink, touches, &display.Options{Logger: log})
//	app.SetDriverDetails(a, drv)            // resets the theme:
//	a.Settings().SetTheme(kioskTheme)       // set it afterwards
//	w := a.NewWindow("kiosk")
//	w.SetContent(ui)
//	w.Show()
//	a.Run()                                 // returns after drv.Quit()
//
// # Sinks
//
// OpenSink understands the --display values: "fb" (/dev/fb0, the device
// default), "fb:/dev/fbN", and "png:PATH" (headless: each frame written to
// PATH atomically, optionally also numbered frame-N.png files beside it).
// The desktop window is not a Sink: a cmd/kiosk built with the `desktop`
// tag uses Fyne's normal GLFW app (cgo, app.New) and skips this package.
//
// # Redraws
//
// Fyne's embedded driver renders the whole canvas after every input event
// and at no other time: functions queued with fyne.Do run without a render.
// So after a change that arrives without a touch (an alert at 3 a.m.), call
// Refresh after fyne.Do returns:
//
//	fyne.Do(func() { banner.SetText(alert) })
//	drv.Refresh()
//
// fyne.Do returns once the UI goroutine has taken the function, which runs
// before the render Refresh triggers, so the frame shows the change.
// Refresh injects an event that Fyne handles as a no-op (a touch move
// with no effect) and coalesces with everything pending, so a burst of
// updates costs one render. Never call fyne.Do from the UI goroutine
// (inside a callback): the embedded driver deadlocks.
//
// The driver also renders by itself where Fyne would otherwise show a stale
// frame: for a while after a drag ends (kinetic scrolling runs through
// fyne.Do) and once shortly after every lift (a tap on a widget that also
// takes double taps is delivered 500 ms late, through fyne.Do). When the
// screen is idle nothing runs: no timer, no polling, no render.
//
// Touch moves are coalesced (the latest position per finger waits while a
// render is in progress), because each event costs a full software render.
//
// # Pitfalls of the embedded driver (Fyne 2.7.1)
//
//   - A press held 300 ms or longer is a secondary tap only: a plain
//     widget.Button ignores it. Give slow-pressing users buttons that also
//     implement fyne.SecondaryTappable.
//   - app.SetDriverDetails resets the theme; no clipboard, no on-screen
//     keyboard, no animations (StartAnimation is a no-op).
//   - Window.RequestFocus panics.
package display
