// Command fontrunes prints, on one line, every non-ASCII rune the kiosk's
// user interface can show from its own tables: the translation table and
// the default report catalogue of package kiosk/catalog. ui/font/gen.sh feeds it to pyftsubset.
package main

import (
	"fmt"
	"os"
	"sort"

	"linli/kiosk/catalog"
	"linli/ui/i18n"
)

func main() {
	set := map[rune]bool{}
	strs := i18n.All()
	for _, c := range catalog.Default().Categories {
		strs = append(strs, c.Zh, c.En)
		for _, p := range c.Phrases {
			strs = append(strs, p.Zh, p.En)
		}
	}
	for _, s := range strs {
		for _, r := range s {
			if r > 0x7e {
				set[r] = true
			}
		}
	}
	runes := make([]rune, 0, len(set))
	for r := range set {
		runes = append(runes, r)
	}
	sort.Slice(runes, func(i, j int) bool { return runes[i] < runes[j] })
	if _, err := fmt.Println(string(runes)); err != nil {
		fmt.Fprintln(os.Stderr, "fontrunes:", err)
		os.Exit(1)
	}
}
