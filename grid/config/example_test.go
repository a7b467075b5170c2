package config_test

import (
	"fmt"

	"linli/grid/config"
)

func Example() {
	c, err := config.Parse(config.Example())
	if err != nil {
		fmt.Println(err)
		return
	}
	g, _ := c.GridOf("east", "b4")
	fmt.Println(g)
	// Output: east-2
}
