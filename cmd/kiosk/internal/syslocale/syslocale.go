package syslocale

import (
	"os"
	"strings"
)

// Default is the locale put in place of the POSIX one.
const Default = "zh_CN.UTF-8"

func init() { Fix() }

// Fix replaces the POSIX locale ("", "C", "C.<codeset>", "POSIX") in LC_ALL
// and LC_MESSAGES, when they are set, and in LANG by Default. It is
// idempotent.
func Fix() {
	for _, v := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		l, set := os.LookupEnv(v)
		if (!set || l == "") && v != "LANG" {
			continue
		}
		if l == "" || l == "POSIX" || l == "C" || strings.HasPrefix(l, "C.") {
			_ = os.Setenv(v, Default) // cannot fail for these names
		}
	}
}
