package font

import (
	_ "embed"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
	"golang.org/x/image/font/sfnt"
)

//go:embed kiosk-cjk.ttf
var ttf []byte

// CJK is the bundled Chinese font as a Fyne resource.
var CJK fyne.Resource = fyne.NewStaticResource("kiosk-cjk.ttf", ttf)

var (
	parseOnce sync.Once
	fonts     []*sfnt.Font
	parseErr  error
)

func parsed() ([]*sfnt.Font, error) {
	parseOnce.Do(func() {
		for _, b := range [][]byte{ttf, theme.DefaultTextFont().Content()} {
			f, err := sfnt.Parse(b)
			if err != nil {
				parseErr = err
				return
			}
			fonts = append(fonts, f)
		}
	})
	return fonts, parseErr
}

// Missing returns the runes of strs, in order of first appearance and
// without repeats, that neither the bundled font nor Fyne's built-in text
// font can draw. Spaces and control characters are never reported. It
// returns an error only if a font cannot be parsed, which means the embedded
// file is corrupt.
func Missing(strs ...string) ([]rune, error) {
	fs, err := parsed()
	if err != nil {
		return nil, err
	}
	var (
		buf  sfnt.Buffer
		seen = map[rune]bool{}
		out  []rune
	)
	for _, s := range strs {
		for _, r := range s {
			if r <= ' ' || seen[r] {
				continue
			}
			seen[r] = true
			found := false
			for _, f := range fs {
				if i, err := f.GlyphIndex(&buf, r); err == nil && i != 0 {
					found = true
					break
				}
			}
			if !found {
				out = append(out, r)
			}
		}
	}
	return out, nil
}
