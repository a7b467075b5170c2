package display_test

import (
	"fmt"
	"image"
	"log"
	"os"
	"path/filepath"

	"linli/devices/evdev"
	"linli/ui/display"
)

// Example opens the headless sink that `--display png:PATH` names and
// builds the driver. In cmd/kiosk (built with -tags noos) the driver goes
// to app.SetDriverDetails; here Render is called by hand, as Fyne's loop
// would.
func Example() {
	dir, err := os.MkdirTemp("", "display")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	sink, err := display.OpenSink("png:"+filepath.Join(dir, "screen.png"), &display.SinkOptions{Size: image.Pt(800, 480)})
	if err != nil {
		log.Fatal(err)
	}
	defer sink.Close()
	touches := make(chan evdev.Touch) // fed by (*evdev.Device).Run on a board
	drv := display.New(sink, touches, nil)
	fmt.Println("screen:", drv.ScreenSize())

	drv.Render(image.NewNRGBA(image.Rect(0, 0, 800, 480)))
	_, err = os.Stat(filepath.Join(dir, "screen.png"))
	fmt.Println("frame written:", err == nil, "last frame:", drv.LastFrame().Bounds().Size())
	// Output:
	// screen: {800 480}
	// frame written: true last frame: (800,480)
}
