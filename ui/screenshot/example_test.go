package screenshot_test

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"

	"linli/ui/screenshot"
)

func Example() {
	screen := image.NewNRGBA(image.Rect(0, 0, 1024, 600))
	draw.Draw(screen, screen.Bounds(), image.NewUniform(color.NRGBA{0xF2, 0xF4, 0xF7, 0xff}), image.Point{}, draw.Src)
	raw, err := screenshot.Encode(screen, 64<<10) // contract.MaxPayload
	if err != nil {
		panic(err)
	}
	r, err := screenshot.Decode(raw)
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Format, r.Width, r.Height, r.Scale)
	// Output: png 1024 600 1
}
