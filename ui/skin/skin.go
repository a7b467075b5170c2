package skin

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"

	"linli/ui/font"
)

// Colour names the kiosk's own widgets look up with theme.Color besides
// Fyne's.
const (
	ColorTile      fyne.ThemeColorName = "linli.tile"      // face of a button or tile
	ColorTileText  fyne.ThemeColorName = "linli.tileText"  // text on a tile
	ColorTileEdge  fyne.ThemeColorName = "linli.tileEdge"  // outline of a tile
	ColorAccent    fyne.ThemeColorName = "linli.accent"    // primary action face
	ColorOnAccent  fyne.ThemeColorName = "linli.onAccent"  // text on the accent
	ColorSelected  fyne.ThemeColorName = "linli.selected"  // a chosen chip or picker
	ColorAlert     fyne.ThemeColorName = "linli.alert"     // hazard overlay background
	ColorOnAlert   fyne.ThemeColorName = "linli.onAlert"   // hazard overlay text
	ColorBar       fyne.ThemeColorName = "linli.bar"       // title bar
	ColorOnBar     fyne.ThemeColorName = "linli.onBar"     // title bar text
	ColorNotice    fyne.ThemeColorName = "linli.notice"    // warning banners
	ColorOnNotice  fyne.ThemeColorName = "linli.onNotice"  // text on warning banners
	ColorSecondary fyne.ThemeColorName = "linli.secondary" // secondary text
)

// Size names of the kiosk's own widgets.
const (
	SizeTile    fyne.ThemeSizeName = "linli.tile"    // minimum edge of any touch target, px
	SizeKey     fyne.ThemeSizeName = "linli.key"     // keypad key height, px
	SizeBigText fyne.ThemeSizeName = "linli.bigText" // ticket numbers, countdown
	SizeIcon    fyne.ThemeSizeName = "linli.icon"    // tile icons
	SizeBarText fyne.ThemeSizeName = "linli.barText" // title-bar text, never enlarged
	SizeBarTile fyne.ThemeSizeName = "linli.barTile" // title-bar touch targets, never enlarged
)

// Theme is the kiosk theme. The zero value is the normal palette at normal
// size.
type Theme struct {
	// Large scales every text and touch size by 1.35.
	Large bool
	// HighContrast uses white and yellow on black.
	HighContrast bool
}

var _ fyne.Theme = Theme{}

func rgb(v uint32) color.NRGBA {
	return color.NRGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 0xff}
}

var normal = map[fyne.ThemeColorName]color.Color{
	theme.ColorNameBackground:          rgb(0xF2F4F7),
	theme.ColorNameForeground:          rgb(0x1B1F24),
	theme.ColorNameButton:              rgb(0xFFFFFF),
	theme.ColorNamePrimary:             rgb(0x1E5BB8),
	theme.ColorNameForegroundOnPrimary: rgb(0xFFFFFF),
	theme.ColorNameError:               rgb(0xC62828),
	theme.ColorNameSuccess:             rgb(0x2E7D32),
	theme.ColorNameWarning:             rgb(0xE69A00),
	theme.ColorNameSeparator:           rgb(0xC8CDD3),
	theme.ColorNameInputBackground:     rgb(0xFFFFFF),
	theme.ColorNameDisabled:            rgb(0x8A9099),
	theme.ColorNamePlaceHolder:         rgb(0x6B7280),
	theme.ColorNameScrollBar:           rgb(0x9AA3AE),
	ColorTile:                          rgb(0xFFFFFF),
	ColorTileText:                      rgb(0x1B1F24),
	ColorTileEdge:                      rgb(0xC8CDD3),
	ColorAccent:                        rgb(0x1E5BB8),
	ColorOnAccent:                      rgb(0xFFFFFF),
	ColorSelected:                      rgb(0xCFE0FA),
	ColorAlert:                         rgb(0xC62828),
	ColorOnAlert:                       rgb(0xFFFFFF),
	ColorBar:                           rgb(0x1E5BB8),
	ColorOnBar:                         rgb(0xFFFFFF),
	ColorNotice:                        rgb(0xFFE08A),
	ColorOnNotice:                      rgb(0x1B1F24),
	ColorSecondary:                     rgb(0x4B5563),
}

// contrast is black with white text and yellow accents: above 15:1 for body
// text, 19:1 for the alert's white on dark red is not reachable, so the
// alert is pure red with white (4:1) in very large type.
var contrast = map[fyne.ThemeColorName]color.Color{
	theme.ColorNameBackground:          rgb(0x000000),
	theme.ColorNameForeground:          rgb(0xFFFFFF),
	theme.ColorNameButton:              rgb(0x000000),
	theme.ColorNamePrimary:             rgb(0xFFE600),
	theme.ColorNameForegroundOnPrimary: rgb(0x000000),
	theme.ColorNameError:               rgb(0xFF5252),
	theme.ColorNameSuccess:             rgb(0x69F0AE),
	theme.ColorNameWarning:             rgb(0xFFE600),
	theme.ColorNameSeparator:           rgb(0xFFFFFF),
	theme.ColorNameInputBackground:     rgb(0x000000),
	theme.ColorNameDisabled:            rgb(0xBDBDBD),
	theme.ColorNamePlaceHolder:         rgb(0xE0E0E0),
	theme.ColorNameScrollBar:           rgb(0xFFFFFF),
	ColorTile:                          rgb(0x000000),
	ColorTileText:                      rgb(0xFFFFFF),
	ColorTileEdge:                      rgb(0xFFFFFF),
	ColorAccent:                        rgb(0xFFE600),
	ColorOnAccent:                      rgb(0x000000),
	ColorSelected:                      rgb(0x3D3A00),
	ColorAlert:                         rgb(0xD50000),
	ColorOnAlert:                       rgb(0xFFFFFF),
	ColorBar:                           rgb(0x000000),
	ColorOnBar:                         rgb(0xFFE600),
	ColorNotice:                        rgb(0xFFE600),
	ColorOnNotice:                      rgb(0x000000),
	ColorSecondary:                     rgb(0xE0E0E0),
}

// Color implements fyne.Theme. The variant is ignored: the kiosk has one
// light and one high-contrast palette.
func (t Theme) Color(n fyne.ThemeColorName, v fyne.ThemeVariant) color.Color {
	p := normal
	if t.HighContrast {
		p = contrast
	}
	if c, ok := p[n]; ok {
		return c
	}
	if t.HighContrast {
		return theme.DefaultTheme().Color(n, theme.VariantDark)
	}
	return theme.DefaultTheme().Color(n, theme.VariantLight)
}

// Font implements fyne.Theme: the bundled CJK font for every style; Fyne
// draws Latin text with its own font, the fallback.
func (t Theme) Font(s fyne.TextStyle) fyne.Resource {
	if s.Symbol {
		return theme.DefaultSymbolFont()
	}
	return font.CJK
}

// Icon implements fyne.Theme with Fyne's icons.
func (t Theme) Icon(n fyne.ThemeIconName) fyne.Resource {
	return theme.DefaultTheme().Icon(n)
}

var sizes = map[fyne.ThemeSizeName]float32{
	theme.SizeNameText:            20,
	theme.SizeNameHeadingText:     30,
	theme.SizeNameSubHeadingText:  24,
	theme.SizeNameCaptionText:     16,
	theme.SizeNameInlineIcon:      28,
	theme.SizeNamePadding:         6,
	theme.SizeNameInnerPadding:    10,
	theme.SizeNameLineSpacing:     6,
	theme.SizeNameScrollBar:       20,
	theme.SizeNameScrollBarSmall:  8,
	theme.SizeNameInputRadius:     6,
	theme.SizeNameSelectionRadius: 6,
	SizeTile:                      64,
	SizeKey:                       64,
	SizeBigText:                   44,
	SizeIcon:                      48,
	SizeBarText:                   20,
	SizeBarTile:                   64,
}

// scaled are the sizes Large multiplies.
var scaled = map[fyne.ThemeSizeName]bool{
	theme.SizeNameText: true, theme.SizeNameHeadingText: true, theme.SizeNameSubHeadingText: true,
	theme.SizeNameCaptionText: true, theme.SizeNameInlineIcon: true, SizeTile: true,
}

// LargeScale is how much Large enlarges text.
const LargeScale = 1.35

// Size implements fyne.Theme.
func (t Theme) Size(n fyne.ThemeSizeName) float32 {
	s, ok := sizes[n]
	if !ok {
		return theme.DefaultTheme().Size(n)
	}
	if t.Large && scaled[n] {
		s *= LargeScale
	}
	if t.HighContrast && n == theme.SizeNameInputBorder {
		s = 3
	}
	return s
}
