// Command fontrunes prints, on one line, every non-ASCII rune the kiosk's
// user interface can show from its own tables: the translation table and
// the default category catalogue. ui/font/gen.sh feeds it to pyftsubset.
package main

import (
	"fmt"
	"os"
	"sort"

	"linli/ui/i18n"
)

func main() {
	set := map[rune]bool{}
	for _, s := range i18n.All() {
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
