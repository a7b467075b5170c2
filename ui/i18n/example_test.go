package i18n_test

import (
	"fmt"

	"linli/ui/i18n"
)

func Example() {
	l, _ := i18n.Parse("zh_CN.UTF-8")
	fmt.Println(l.T("home.report"), l.Other().T("home.report"))
	fmt.Println(i18n.EN.Tf("idle.countdown", 15))
	fmt.Println(i18n.ZH.T("no.such.key"))
	// Output:
	// 我要报事 Report a problem
	// Returning home in 15 s; your input will be cleared
	// ⟦no.such.key⟧
}
