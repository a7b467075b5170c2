package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"linli/cmd/internal/bintest"
	"linli/mqtt/contract"
)

// bins is sensord, built once for all tests of the run.
var bins = bintest.Binaries{Pkgs: []string{"."}}

func TestMain(m *testing.M) {
	code := m.Run()
	bins.Remove()
	os.Exit(code)
}

// buildSensord returns the binary, built once for all tests of the run.
func buildSensord(t *testing.T) string {
	t.Helper()
	return bins.Path(t, "sensord")
}

// command is exec.Command killed after a minute, so a hung sensord fails
// the test instead of stalling it.
func command(t *testing.T, bin string, args ...string) *exec.Cmd {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return exec.CommandContext(ctx, bin, args...)
}

var lineRE = regexp.MustCompile(`#(\d+)\s+(\S+)\s+(\S+) → (\S+).*\[(\S+)\]$`)

type printed struct {
	seq               uint64
	channel, from, to string
	id                string
}

func parseLine(t *testing.T, line string) printed {
	t.Helper()
	m := lineRE.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("unexpected event line %q", line)
	}
	seq, _ := strconv.ParseUint(m[1], 10, 64)
	return printed{seq, m[2], m[3], m[4], m[5]}
}

func eventsJSON(t *testing.T, bin, data string) []contract.Event {
	t.Helper()
	out, err := command(t, bin, "events", "--data", data, "--json").Output()
	if err != nil {
		t.Fatalf("sensord events: %v", err)
	}
	var evs []contract.Event
	for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		m, err := contract.Decode("", line)
		if err != nil {
			t.Fatalf("events --json line %q: %v", line, err)
		}
		evs = append(evs, *m.(*contract.Event))
	}
	return evs
}

// TestKillNineKeepsEventsAndLatch is the "done when": kill -9 in the
// middle of meterbox-fire, restart on the same data, and nothing recorded is
// lost, the alarm stays latched, and it is not raised a second time.
func TestKillNineKeepsEventsAndLatch(t *testing.T) {
	bin := buildSensord(t)
	data := t.TempDir()

	cmd := command(t, bin, "run", "--sim", "meterbox-fire", "--speed", "100", "--data", data)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var before []printed
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		p := parseLine(t, sc.Text())
		before = append(before, p)
		if p.to == "alarm" {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	go io.Copy(io.Discard, stdout)
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("first run was not killed by SIGKILL (%v): it ended before an alarm?\n%s", err, stderr.String())
	}
	if len(before) == 0 || before[len(before)-1].to != "alarm" {
		t.Fatalf("no alarm printed before the kill: %+v", before)
	}
	alarmed := before[len(before)-1].channel

	// Restart on the same data and let the scenario play to its end.
	stderr.Reset()
	cmd = command(t, bin, "run", "--sim", "meterbox-fire", "--speed", "300", "--data", data)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("restart: %v\n%s", err, stderr.String())
	}

	evs := eventsJSON(t, bin, data)
	for i, ev := range evs {
		if ev.Seq != uint64(i+1) {
			t.Fatalf("event %d has seq %d: the log has a gap", i, ev.Seq)
		}
	}
	for _, p := range before {
		if p.seq > uint64(len(evs)) {
			t.Fatalf("printed event #%d (%s) lost after kill -9", p.seq, p.id)
		}
		if got := evs[p.seq-1]; got.ID != p.id || got.Channel != p.channel || string(got.To) != p.to {
			t.Errorf("event #%d after restart is %s %s→%s [%s], printed before the kill as %s →%s [%s]",
				p.seq, got.Channel, got.From, got.To, got.ID, p.channel, p.to, p.id)
		}
	}
	raised := 0
	for _, ev := range evs {
		if ev.Channel == alarmed && ev.To == contract.StateAlarm && ev.From != contract.StateAlarm {
			raised++
		}
		if ev.Channel == alarmed && ev.From == contract.StateAlarm && ev.To != contract.StateAlarm {
			t.Errorf("alarm of %s left without a reset: %+v", alarmed, ev)
		}
	}
	if raised != 1 {
		t.Errorf("alarm of %s raised %d times, want once (latched across the restart)", alarmed, raised)
	}
	if last := evs[len(evs)-1]; last.Session < 2 {
		t.Errorf("the restart recorded nothing (last event session %d); output:\n%s", last.Session, out.String())
	}

	st, err := command(t, bin, "status", "--data", data, "--json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var latched bool
	dec := json.NewDecoder(bytes.NewReader(st))
	for dec.More() {
		var s struct {
			Channel string
			State   contract.State
			Latched bool
		}
		if err := dec.Decode(&s); err != nil {
			t.Fatal(err)
		}
		if s.Channel == alarmed {
			latched = s.Latched && s.State == contract.StateAlarm
		}
	}
	if !latched {
		t.Errorf("%s not latched after the restart; status:\n%s", alarmed, st)
	}
}

func TestRunPrintsEventsAndExitsAtEnd(t *testing.T) {
	bin := buildSensord(t)
	data := t.TempDir()
	cmd := command(t, bin, "run", "--sim", "normal-day", "--speed", "2000", "--data", data)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("normal-day: %v\n%s", err, stderr.String())
	}
	if out.Len() != 0 {
		t.Errorf("normal-day raised events:\n%s", out.String())
	}
	t.Logf("normal-day (24 min) ran in %v", time.Since(start))

	// events on an empty log prints just the header.
	got, err := command(t, bin, "events", "--data", data).Output()
	if err != nil || !strings.HasPrefix(string(got), "SEQ") {
		t.Errorf("events: %v %q", err, got)
	}
	// A bad set-point is refused naming the field.
	cfg := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(cfg, []byte(`{"device":"mb-1","channels":[{"name":"a","kind":"smoke","sensor":"smoke"},`+
		`{"name":"b","kind":"residual","sensor":"ads1115","addr":"0x4a","amps_per_volt":1},`+
		`{"name":"c","kind":"temperature","sensor":"tmp117","addr":"0x48","alarm":200}]}`), 0o600)
	msg, err := command(t, bin, "run", "--config", cfg, "--sim", "meterbox-fire", "--data", data).CombinedOutput()
	if err == nil || !strings.Contains(string(msg), "config: channels[2].alarm: 200 °C outside 55–140 °C") {
		t.Errorf("bad config: %v %s", err, msg)
	}
}

// TestCorruptDatabase: a garbage sensord.db is moved aside, a storage fault
// is the first event, and the agent goes on sensing and alarming.
func TestCorruptDatabase(t *testing.T) {
	bin := buildSensord(t)
	data := t.TempDir()
	garbage := bytes.Repeat([]byte("this is not a bbolt file "), 1000)
	if err := os.WriteFile(filepath.Join(data, dbFile), garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	var out, stderr bytes.Buffer
	cmd := command(t, bin, "run", "--sim", "meterbox-fire", "--speed", "300", "--data", data)
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("run on a corrupt file: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if first := parseLine(t, lines[0]); first.channel != "storage" || first.to != "fault" || !strings.Contains(lines[0], "corrupt-db") {
		t.Errorf("first event %q, want the storage fault", lines[0])
	}
	if n := strings.Count(out.String(), "→ alarm"); n != 3 {
		t.Errorf("%d alarms after the corrupt file, want 3:\n%s", n, out.String())
	}
	aside, _ := filepath.Glob(filepath.Join(data, dbFile+".corrupt-*"))
	if len(aside) != 1 {
		t.Fatalf("moved-aside files %v", aside)
	}
	if kept, _ := os.ReadFile(aside[0]); !bytes.Equal(kept, garbage) {
		t.Error("the corrupt file was not kept as it was")
	}
}
