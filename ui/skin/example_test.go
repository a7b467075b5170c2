package skin_test

import (
	"fmt"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"

	"linli/ui/skin"
)

func Example() {
	a := test.NewApp()
	// After app.SetDriverDetails on the device: it resets the theme.
	a.Settings().SetTheme(skin.Theme{Large: true})
	fmt.Println(theme.Size(theme.SizeNameText))
	// Output: 27
}
