package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"linli/cmd/internal/bintest"
)

var bins = bintest.Binaries{Pkgs: []string{"linli/cmd/community", "linli/cmd/gridhub", "linli/cmd/sensord", "linli/cmd/gridctl"}}

func TestMain(m *testing.M) {
	code := m.Run()
	bins.Remove()
	os.Exit(code)
}

// TestQuietRun: a community starting and stopping cleanly prints no ERROR
// or WARN line (issue 9: the broker's store, its listener and the hub did
// at every start and stop, and sensors started before the hub was
// subscribed logged refused connections). The kiosk's start is
// cmd/kiosk's TestQuietLocale; the sensors run for a few seconds, before
// the simulated fire.
func TestQuietRun(t *testing.T) {
	community := bins.Path(t, "community")
	cmd := exec.Command(community, "--bin", filepath.Dir(community), "--dir", t.TempDir(),
		"--listen", bintest.FreeAddr(t), "--sensors", "2", "--kiosk=false", "--duration", "6s",
		"--sensor-template", filepath.Join("..", "sensord", "testdata", "meterbox.json"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("community: %v\n%s", err, out)
	}
	for _, want := range []string{`msg="hub ready"`, "uplink: connected", "community│ stopping", `msg="broker stopped"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
			t.Errorf("unexpected: %s", l)
		}
	}
}
