package ui_test

import (
	"fmt"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"linli/ui"
	"linli/ui/uitest"
)

func Example() {
	test.NewApp() // on the device: app.NewWithID + app.SetDriverDetails
	w := test.NewWindow(nil)
	w.Resize(fyne.NewSize(1024, 600))
	b := uitest.Sample()
	k := ui.New(w, b, &ui.Options{IdleTimeout: 90 * time.Second})
	fmt.Println(k.Screen(), k.AlertShown())

	// The hub says building 3's meter box is overheating: the kiosk shows it
	// over whatever is on screen (cmd/kiosk calls Changed via fyne.Do).
	b.SetAlerts(uitest.FireAlert("A1", "3"))
	k.Changed("alerts")
	fmt.Println(k.AlertShown())
	// Output:
	// home false
	// true
}
