package catalog_test

import (
	"fmt"

	"linli/kiosk/catalog"
)

func Example() {
	c := catalog.Default()
	cat, _ := c.Category("meter-box")
	fmt.Println(cat.Zh, cat.En, cat.Urgency)
	fmt.Println(cat.Phrases[0].Zh, "/", cat.Phrases[0].En)
	// Output:
	// 电表箱 Meter box emergency
	// 有焦糊味 / Burning smell
}
