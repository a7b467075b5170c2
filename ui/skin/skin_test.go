package skin

import (
	"image/color"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// luminance is the WCAG relative luminance of c.
func luminance(c color.Color) float64 {
	r, g, b, _ := c.RGBA()
	lin := func(v uint32) float64 {
		x := float64(v) / 0xffff
		if x <= 0.03928 {
			return x / 12.92
		}
		p := (x + 0.055) / 1.055
		return p * p * (p*0.5 + 0.5) // close to ^2.4 over [0,1] within 3%
	}
	return 0.2126*lin(r) + 0.7152*lin(g) + 0.0722*lin(b)
}

func ratio(a, b color.Color) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

func TestContrast(t *testing.T) {
	pairs := []struct{ fg, bg fyne.ThemeColorName }{
		{theme.ColorNameForeground, theme.ColorNameBackground},
		{ColorTileText, ColorTile},
		{ColorOnAccent, ColorAccent},
		{ColorOnBar, ColorBar},
		{ColorOnNotice, ColorNotice},
		{ColorOnAlert, ColorAlert},
	}
	for _, th := range []struct {
		name string
		t    Theme
		min  float64
	}{{"normal", Theme{}, 4.5}, {"high-contrast", Theme{HighContrast: true}, 7}} {
		for _, p := range pairs {
			min := th.min
			if p.bg == ColorAlert {
				min = 3.5 // very large text only
			}
			got := ratio(th.t.Color(p.fg, 0), th.t.Color(p.bg, 0))
			if got < min {
				t.Errorf("%s: %s on %s contrast %.1f:1, want ≥ %.1f:1", th.name, p.fg, p.bg, got, min)
			}
		}
	}
}

func TestLarge(t *testing.T) {
	tests := []struct {
		n    fyne.ThemeSizeName
		want float32
	}{
		{theme.SizeNameText, 20 * LargeScale},
		{SizeTile, 64 * LargeScale},
		{theme.SizeNamePadding, 6},
	}
	for _, tt := range tests {
		if got := (Theme{Large: true}).Size(tt.n); got != tt.want {
			t.Errorf("Large Size(%s) = %v, want %v", tt.n, got, tt.want)
		}
	}
	if got := (Theme{}).Size(SizeTile); got < 60 {
		t.Errorf("touch target %v px, want ≥ 60", got)
	}
}
