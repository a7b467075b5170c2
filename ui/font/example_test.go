package font_test

import (
	"fmt"

	"linli/ui/font"
)

func Example() {
	missing, err := font.Missing("紧急警报 EMERGENCY")
	if err != nil {
		panic(err)
	}
	fmt.Println(font.CJK.Name(), len(missing))
	// Output: kiosk-cjk.ttf 0
}
