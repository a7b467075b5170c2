package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// initOnlyEnv makes TestMain exit once every package is initialised: the
// test binary then stands for the kiosk binary's start.
const initOnlyEnv = "LINLI_KIOSK_TEST_INIT_ONLY"

// TestQuietLocale: under the POSIX locale (LANG=C, C.UTF-8 or none, as a
// bare board or a systemd service has), Fyne printed "Fyne error: Error
// parsing user locale C" and two more lines at every kiosk start, from its
// package initialisation, before main (issue 9, item 5).
func TestQuietLocale(t *testing.T) {
	for _, env := range [][]string{
		{"LANG=C"}, {"LANG=C.UTF-8"}, {"LC_ALL=C.UTF-8"}, {"LANG=POSIX"}, {}, {"LC_MESSAGES=C.UTF-8", "LANG=C.UTF-8"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		for _, kv := range os.Environ() {
			if k, _, _ := strings.Cut(kv, "="); k != "LANG" && k != "LANGUAGE" && !strings.HasPrefix(k, "LC_") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(append(cmd.Env, env...), initOnlyEnv+"=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%v: %v\n%s", env, err, stderr.String())
		}
		if s := stderr.String(); s != "" {
			t.Errorf("%v: the start printed:\n%s", env, s)
		}
	}
}
