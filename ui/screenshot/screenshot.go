package screenshot

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"sort"
)

// Format is the value of Result.Format.
const Format = "png"

// Result is the JSON carried in CommandAck.Result.
type Result struct {
	Format string `json:"format"` // always "png"
	Width  int    `json:"width"`  // of the PNG, pixels
	Height int    `json:"height"`
	Scale  int    `json:"scale"` // the screen is Scale times the PNG's size
	PNG    []byte `json:"png"`   // base64 in JSON
}

// ErrTooLarge means even the smallest scale did not fit the budget.
var ErrTooLarge = errors.New("screenshot: image does not fit the payload")

// overhead is the room left for the CommandAck around the Result.
const overhead = 1024

// Encode returns the JSON of a Result holding img as a paletted PNG whose
// JSON fits in maxPayload bytes with room for the CommandAck around it,
// halving the image until it does (at most 3 times). It returns ErrTooLarge
// if even the eighth-size image does not fit.
func Encode(img image.Image, maxPayload int) (json.RawMessage, error) {
	budget := base64.StdEncoding.DecodedLen(maxPayload - overhead)
	scale := 1
	for {
		b, err := PNG(img)
		if err != nil {
			return nil, err
		}
		if len(b) <= budget {
			r := Result{Format: Format, Width: img.Bounds().Dx(), Height: img.Bounds().Dy(), Scale: scale, PNG: b}
			return json.Marshal(r)
		}
		if scale >= 8 {
			return nil, fmt.Errorf("%w: %d bytes at 1/%d, budget %d", ErrTooLarge, len(b), scale, budget)
		}
		img = half(img)
		scale *= 2
	}
}

// Decode returns the PNG of a Result's JSON.
func Decode(raw json.RawMessage) (Result, error) {
	var r Result
	if err := json.Unmarshal(raw, &r); err != nil {
		return Result{}, fmt.Errorf("screenshot: decode: %w", err)
	}
	if r.Format != Format || len(r.PNG) == 0 {
		return Result{}, fmt.Errorf("screenshot: decode: no %s image", Format)
	}
	return r, nil
}

// PNG encodes img as a paletted PNG at best compression.
func PNG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, Paletted(img)); err != nil {
		return nil, fmt.Errorf("screenshot: encode: %w", err)
	}
	return buf.Bytes(), nil
}

// Paletted returns img with at most 256 colours: the most frequent ones
// (ties broken by value, so the result is deterministic), every other pixel
// mapped to the nearest of them. Alpha is dropped.
func Paletted(img image.Image) *image.Paletted {
	b := img.Bounds()
	rgb := func(x, y int) uint32 {
		r, g, bl, _ := img.At(x, y).RGBA()
		return r>>8<<16 | g>>8<<8 | bl>>8
	}
	if n, ok := img.(*image.NRGBA); ok {
		rgb = func(x, y int) uint32 {
			i := n.PixOffset(x, y)
			p := n.Pix[i : i+3 : i+3]
			return uint32(p[0])<<16 | uint32(p[1])<<8 | uint32(p[2])
		}
	}
	count := map[uint32]int{}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			count[rgb(x, y)]++
		}
	}
	cols := make([]uint32, 0, len(count))
	for c := range count {
		cols = append(cols, c)
	}
	sort.Slice(cols, func(i, j int) bool {
		if count[cols[i]] != count[cols[j]] {
			return count[cols[i]] > count[cols[j]]
		}
		return cols[i] < cols[j]
	})
	if len(cols) > 256 {
		cols = cols[:256]
	}
	pal := make(color.Palette, len(cols))
	index := make(map[uint32]uint8, len(count))
	for i, c := range cols {
		pal[i] = color.RGBA{R: uint8(c >> 16), G: uint8(c >> 8), B: uint8(c), A: 0xff}
		index[c] = uint8(i)
	}
	out := image.NewPaletted(image.Rect(0, 0, b.Dx(), b.Dy()), pal)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row := out.Pix[(y-b.Min.Y)*out.Stride:]
		for x := b.Min.X; x < b.Max.X; x++ {
			c := rgb(x, y)
			i, ok := index[c]
			if !ok {
				i = nearest(cols, c)
				index[c] = i
			}
			row[x-b.Min.X] = i
		}
	}
	return out
}

func nearest(cols []uint32, c uint32) uint8 {
	best, bestD := 0, int(^uint(0)>>1)
	r, g, b := int(c>>16), int(c>>8&0xff), int(c&0xff)
	for i, p := range cols {
		dr, dg, db := r-int(p>>16), g-int(p>>8&0xff), b-int(p&0xff)
		if d := 3*dr*dr + 4*dg*dg + 2*db*db; d < bestD {
			best, bestD = i, d
		}
	}
	return uint8(best)
}

// half averages 2×2 blocks of img.
func half(img image.Image) image.Image {
	b := img.Bounds()
	w, h := b.Dx()/2, b.Dy()/2
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var r, g, bl uint32
			for _, d := range [4][2]int{{0, 0}, {1, 0}, {0, 1}, {1, 1}} {
				cr, cg, cb, _ := img.At(b.Min.X+2*x+d[0], b.Min.Y+2*y+d[1]).RGBA()
				r, g, bl = r+cr, g+cg, bl+cb
			}
			i := out.PixOffset(x, y)
			out.Pix[i], out.Pix[i+1], out.Pix[i+2], out.Pix[i+3] = uint8(r/4>>8), uint8(g/4>>8), uint8(bl/4>>8), 0xff
		}
	}
	return out
}
