package screenshot

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzDecode checks that Decode never panics, refuses with a
// "screenshot: decode" error, and that what it accepts is a PNG result
// that survives being encoded and decoded again. The seeds are real
// results of Encode.
func FuzzDecode(f *testing.F) {
	img := image.NewRGBA(image.Rect(0, 0, 64, 40))
	for y := 0; y < 40; y++ {
		for x := 0; x < 64; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 4), uint8(y * 6), 90, 255})
		}
	}
	for _, max := range []int{1 << 20, 4096} {
		raw, err := Encode(img, max)
		if err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(raw))
	}
	f.Add([]byte(`{"format":"png","png":""}`))
	f.Add([]byte(`{"format":"png","png":"AA==","width":-1}`))
	f.Add([]byte(`{"format":"jpeg","png":"AA=="}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := Decode(raw)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "screenshot: decode") {
				t.Fatalf("Decode(%q) error %v", raw, err)
			}
			return
		}
		if r.Format != Format || len(r.PNG) == 0 {
			t.Fatalf("Decode(%q) = %+v", raw, r)
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := Decode(b)
		if err != nil {
			t.Fatalf("Decode of the re-encoded %s: %v", b, err)
		}
		if diff := cmp.Diff(r, r2); diff != "" || !bytes.Equal(r.PNG, r2.PNG) {
			t.Fatalf("round trip changed the result (-first +second):\n%s", diff)
		}
	})
}
