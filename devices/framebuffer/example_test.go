package framebuffer_test

import (
	"fmt"
	"image"
	"image/color"
	"log"
	"os"
	"path/filepath"

	"linli/devices/framebuffer"
)

// Example draws a frame into a file-backed 16 bpp framebuffer whose rows
// are padded to 64 bytes. On a device, framebuffer.Open("/dev/fb0", nil)
// reads the same geometry from the kernel.
func Example() {
	dir, err := os.MkdirTemp("", "fb")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	fb, err := framebuffer.OpenFile(filepath.Join(dir, "fb0"),
		framebuffer.Geometry{Width: 20, Height: 10, BitsPerPixel: 16, Stride: 64}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer fb.Close()

	img := image.NewNRGBA(image.Rectangle{Max: fb.Size()})
	n, _ := fb.Draw(img)
	fmt.Println("first frame, rows written:", n)
	img.SetNRGBA(5, 7, color.NRGBA{R: 0xff, A: 0xff})
	n, _ = fb.Draw(img)
	fmt.Println("one pixel changed, rows written:", n)
	// Output:
	// first frame, rows written: 10
	// one pixel changed, rows written: 1
}
