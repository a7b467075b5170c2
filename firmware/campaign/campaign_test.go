package campaign

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"linli/mqtt/contract"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *fakeClock               { return &fakeClock{t: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)} }
func st(dev, state string) *contract.FirmwareStatus {
	return &contract.FirmwareStatus{Device: dev, Transfer: "t1", State: state}
}

func targets(n int, running string) []Target {
	var ts []Target
	for i := range n {
		ts = append(ts, Target{ID: fmt.Sprintf("d%02d", i), Running: running})
	}
	return ts
}

func ids(n, from int) []string {
	var out []string
	for i := from; i < from+n; i++ {
		out = append(out, fmt.Sprintf("d%02d", i))
	}
	return out
}

func commit(c *Campaign, id string) {
	c.Update(&contract.FirmwareStatus{Device: id, Transfer: "t1", State: contract.FwCommitted, Running: "2.0"})
}

func TestDefaults(t *testing.T) {
	tests := []struct {
		n         int
		opts      *Options
		wantFirst int
	}{
		{1, nil, 1},
		{9, nil, 1},
		{10, nil, 1},
		{11, nil, 2},
		{50, nil, 5},
		{50, &Options{FirstGroup: 3}, 3},
		{2, &Options{FirstGroup: 5}, 2},
	}
	for _, tt := range tests {
		c, err := New("2.0", targets(tt.n, "1.0"), tt.opts)
		if err != nil {
			t.Fatal(err)
		}
		o := c.Options()
		if o.FirstGroup != tt.wantFirst || o.FailureThreshold != 0.2 && tt.opts == nil || o.Parallel != 16 || o.Timeout != 15*time.Minute {
			t.Errorf("n=%d opts=%+v: got first %d threshold %v parallel %d timeout %v; want first %d, 0.2, 16, 15m",
				tt.n, tt.opts, o.FirstGroup, o.FailureThreshold, o.Parallel, o.Timeout, tt.wantFirst)
		}
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New("2.0", nil, nil); !errors.Is(err, ErrNoTargets) {
		t.Errorf("no targets: got %v, want ErrNoTargets", err)
	}
	if _, err := New("2.0", []Target{{ID: "a"}, {ID: "a"}}, nil); !errors.Is(err, ErrTarget) {
		t.Errorf("twice: got %v, want ErrTarget", err)
	}
	if _, err := New("2.0", []Target{{ID: "a/b"}}, nil); !errors.Is(err, ErrTarget) {
		t.Errorf("bad id: got %v, want ErrTarget", err)
	}
}

// TestStaging: the first group runs alone; the rest starts when it has all
// committed, at most Parallel at a time.
func TestStaging(t *testing.T) {
	clk := newClock()
	c, err := New("2.0", targets(20, "1.0"), &Options{Transfer: "t1", FirstGroup: 3, Parallel: 5, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Next(), ids(3, 0); !slices.Equal(got, want) {
		t.Fatalf("first Next = %v, want %v", got, want)
	}
	if got := c.Next(); got != nil {
		t.Fatalf("Next while the first group runs = %v, want nothing", got)
	}
	commit(c, "d00")
	commit(c, "d01")
	if got := c.Next(); got != nil {
		t.Fatalf("Next before the first group finished = %v, want nothing", got)
	}
	commit(c, "d02")
	if got, want := c.Next(), ids(5, 3); !slices.Equal(got, want) {
		t.Fatalf("Next after the first group = %v, want %v (Parallel 5)", got, want)
	}
	commit(c, "d04")
	if got, want := c.Next(), []string{"d08"}; !slices.Equal(got, want) {
		t.Fatalf("Next after one finished = %v, want %v", got, want)
	}
	for !c.Done() {
		for _, d := range c.Devices() {
			if !d.State.Final() && d.State != Pending {
				commit(c, d.ID)
			}
		}
		c.Next()
	}
	r := c.Report()
	if !r.OK() || r.Counts[Committed] != 20 || r.Paused != "" {
		t.Errorf("report: ok %v, counts %v, paused %q; want all 20 committed", r.OK(), r.Counts, r.Paused)
	}
}

func TestProgressStates(t *testing.T) {
	clk := newClock()
	c, _ := New("2.0", targets(1, "1.0"), &Options{Transfer: "t1", Now: clk.now})
	if c.Update(&contract.FirmwareStatus{Device: "d00", Transfer: "t1", State: contract.FwDownload, Count: 1, Of: 4}) {
		t.Error("a status of a device not started changed it")
	}
	c.Next()
	clk.add(2 * time.Second)
	steps := []struct {
		st      contract.FirmwareStatus
		changed bool
		want    State
	}{
		{contract.FirmwareStatus{Device: "d00", Transfer: "old", State: contract.FwCommitted, Running: "1.5"}, false, Offered},
		{contract.FirmwareStatus{Device: "zz", Transfer: "t1", State: contract.FwFailed}, false, Offered},
		{contract.FirmwareStatus{Device: "d00", Transfer: "t1", State: contract.FwDownload, Count: 1, Of: 4}, true, Downloading},
		{contract.FirmwareStatus{Device: "d00", Transfer: "t1", State: contract.FwDownload, Count: 1, Of: 4}, false, Downloading},
		{contract.FirmwareStatus{Device: "d00", Transfer: "t1", State: contract.FwDownload, Count: 4, Of: 4}, true, Downloading},
		{contract.FirmwareStatus{Device: "d00", Transfer: "t1", State: contract.FwVerifying}, true, Verifying},
		{contract.FirmwareStatus{Device: "d00", Transfer: "t1", State: contract.FwInstalling}, true, Installing},
		{contract.FirmwareStatus{Device: "d00", Transfer: "t1", State: "dancing"}, false, Installing},
		{contract.FirmwareStatus{Device: "d00", Transfer: "t1", State: contract.FwTrial, Running: "2.0"}, true, Trial},
		{contract.FirmwareStatus{Device: "d00", Transfer: "t1", State: contract.FwCommitted, Running: "2.0"}, true, Committed},
		{contract.FirmwareStatus{Device: "d00", Transfer: "t1", State: contract.FwFailed}, false, Committed},
	}
	for i, s := range steps {
		if got := c.Update(&s.st); got != s.changed {
			t.Errorf("step %d (%s): changed %v, want %v", i, s.st.State, got, s.changed)
		}
		if d, _ := c.Device("d00"); d.State != s.want {
			t.Errorf("step %d (%s): state %s, want %s", i, s.st.State, d.State, s.want)
		}
	}
	r := c.Report()
	want := DeviceReport{Device: Device{ID: "d00", From: "1.0", Running: "2.0", State: Committed, Count: 4, Of: 4, Stage: 1,
		Started: clk.t.Add(-2 * time.Second), Finished: clk.t}, Duration: 2 * time.Second}
	if diff := cmp.Diff([]DeviceReport{want}, r.Devices); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
}

func TestOutcomes(t *testing.T) {
	tests := []struct {
		name       string
		st         contract.FirmwareStatus
		want       State
		wantReason string
	}{
		{"committed", contract.FirmwareStatus{State: contract.FwCommitted, Running: "2.0"}, Committed, ""},
		{"committed without running", contract.FirmwareStatus{State: contract.FwCommitted}, Committed, ""},
		{"committed to another version", contract.FirmwareStatus{State: contract.FwCommitted, Running: "1.0"}, Failed,
			"committed, but runs 1.0 instead of 2.0"},
		{"rolled back", contract.FirmwareStatus{State: contract.FwRolledBack, Running: "1.0", Error: "watchdog not answered"}, RolledBack,
			"watchdog not answered"},
		{"rolled back without reason", contract.FirmwareStatus{State: contract.FwRolledBack}, RolledBack, "rolled back"},
		{"failed", contract.FirmwareStatus{State: contract.FwFailed, Error: "bundle: bad signature — possible attack"}, Failed,
			"bundle: bad signature — possible attack"},
	}
	for _, tt := range tests {
		c, _ := New("2.0", targets(1, "1.0"), &Options{Transfer: "t1", Now: newClock().now})
		c.Next()
		tt.st.Device, tt.st.Transfer = "d00", "t1"
		c.Update(&tt.st)
		d, _ := c.Device("d00")
		if d.State != tt.want || d.Reason != tt.wantReason {
			t.Errorf("%s: got %s %q, want %s %q", tt.name, d.State, d.Reason, tt.want, tt.wantReason)
		}
		if !c.Done() {
			t.Errorf("%s: campaign of one finished device not done", tt.name)
		}
	}
}

// TestPauseAfterFirstGroup: too many failures in the first group keep the
// rest from starting.
func TestPauseAfterFirstGroup(t *testing.T) {
	c, _ := New("2.0", targets(50, "1.0"), &Options{Transfer: "t1", Now: newClock().now}) // first group 5
	if got := c.Next(); len(got) != 5 {
		t.Fatalf("first Next = %v, want 5 devices", got)
	}
	c.Update(st("d00", contract.FwFailed))
	c.Update(st("d01", contract.FwRolledBack))
	if p, _ := c.Paused(); p {
		t.Fatal("paused before the first group finished")
	}
	commit(c, "d02")
	commit(c, "d03")
	if c.Done() {
		t.Fatal("done with a device in flight")
	}
	commit(c, "d04")
	p, why := c.Paused()
	if want := "2 of 5 finished devices failed (40 %, threshold 20 %)"; !p || why != want {
		t.Fatalf("Paused() = %v, %q; want true, %q", p, why, want)
	}
	if got := c.Next(); got != nil {
		t.Errorf("Next while paused = %v", got)
	}
	if !c.Done() {
		t.Error("paused campaign with nothing in flight is not done")
	}
	r := c.Report()
	if r.OK() || r.Counts[Pending] != 45 || r.Counts[Committed] != 3 || r.Counts[Failed] != 1 || r.Counts[RolledBack] != 1 {
		t.Errorf("counts %v", r.Counts)
	}
}

// TestFirstGroupWithinThreshold: one failure in five (20 %) is not above
// the threshold, so the rest starts.
func TestFirstGroupWithinThreshold(t *testing.T) {
	c, _ := New("2.0", targets(50, "1.0"), &Options{Transfer: "t1", Parallel: 50, Now: newClock().now})
	c.Next()
	c.Update(st("d00", contract.FwFailed))
	for _, id := range ids(4, 1) {
		commit(c, id)
	}
	if p, why := c.Paused(); p {
		t.Fatalf("paused: %s", why)
	}
	if got := c.Next(); len(got) != 45 {
		t.Errorf("Next = %d devices, want the 45 others", len(got))
	}
}

// TestPauseInSecondStage: the rate is checked after every finished device
// of the rest; devices in flight still finish and are reported.
func TestPauseInSecondStage(t *testing.T) {
	c, _ := New("2.0", targets(20, "1.0"), &Options{Transfer: "t1", FirstGroup: 2, Parallel: 4, FailureThreshold: 0.25, Now: newClock().now})
	c.Next()
	commit(c, "d00")
	commit(c, "d01")
	c.Next() // d02..d05
	commit(c, "d03")
	c.Update(st("d02", contract.FwFailed))
	if p, _ := c.Paused(); p {
		t.Fatal("paused at 1 of 4 (25 %), threshold 25 %")
	}
	if got, want := c.Next(), ids(2, 6); !slices.Equal(got, want) {
		t.Fatalf("Next = %v, want %v", got, want)
	}
	c.Update(st("d04", contract.FwFailed)) // 2 of 5 = 40 %
	if p, _ := c.Paused(); !p {
		t.Fatal("not paused at 40 %")
	}
	if got := c.Next(); got != nil {
		t.Fatalf("Next while paused = %v", got)
	}
	if c.Done() {
		t.Fatal("done with devices in flight")
	}
	commit(c, "d05")
	commit(c, "d06")
	c.Update(st("d07", contract.FwRolledBack))
	if !c.Done() {
		t.Fatal("not done after the devices in flight finished")
	}
	r := c.Report()
	if r.Counts[Committed] != 5 || r.Counts[Failed] != 2 || r.Counts[RolledBack] != 1 || r.Counts[Pending] != 12 {
		t.Errorf("counts %v", r.Counts)
	}
}

func TestNeverPause(t *testing.T) {
	c, _ := New("2.0", targets(4, "1.0"), &Options{Transfer: "t1", FirstGroup: 1, FailureThreshold: 1, Now: newClock().now})
	for !c.Done() {
		for _, id := range c.Next() {
			c.Update(st(id, contract.FwFailed))
		}
	}
	if r := c.Report(); r.Counts[Failed] != 4 || r.Paused != "" {
		t.Errorf("counts %v, paused %q; want 4 failed, not paused", r.Counts, r.Paused)
	}
}

// TestNothingLeftToPause: failures above the threshold do not pause a
// campaign that has no device left to start (one device, or the last
// devices of the second stage); it ends with the failures.
func TestNothingLeftToPause(t *testing.T) {
	for _, n := range []int{1, 3} {
		c, _ := New("2.0", targets(n, "1.0"), &Options{Transfer: "t1", FirstGroup: n, Now: newClock().now})
		for _, id := range c.Next() {
			c.Update(st(id, contract.FwFailed))
		}
		r := c.Report()
		if !c.Done() || r.Paused != "" || r.Counts[Failed] != n {
			t.Errorf("%d devices, all failed: done %v, paused %q, counts %v; want done, not paused, %d failed", n, c.Done(), r.Paused, r.Counts, n)
		}
	}
}

func TestTimeout(t *testing.T) {
	clk := newClock()
	c, _ := New("2.0", targets(2, "1.0"), &Options{Transfer: "t1", FirstGroup: 2, Timeout: time.Minute, FailureThreshold: 1, Now: clk.now})
	c.Next()
	c.Update(&contract.FirmwareStatus{Device: "d00", Transfer: "t1", State: contract.FwDownload, Count: 3, Of: 9})
	clk.add(59 * time.Second)
	if got := c.Tick(); got != nil {
		t.Fatalf("Tick before the timeout = %v", got)
	}
	commit(c, "d01")
	clk.add(time.Second)
	if got, want := c.Tick(), []string{"d00"}; !slices.Equal(got, want) {
		t.Fatalf("Tick = %v, want %v", got, want)
	}
	d, _ := c.Device("d00")
	if want := "timed out after 1m0s (downloading 3/9)"; d.State != Failed || d.Reason != want {
		t.Errorf("got %s %q, want failed %q", d.State, d.Reason, want)
	}
	if !c.Done() {
		t.Error("not done")
	}
}

func TestFailCommand(t *testing.T) {
	c, _ := New("2.0", targets(2, "1.0"), &Options{FirstGroup: 2, FailureThreshold: 1, Now: newClock().now})
	if c.Fail("d00", "x") {
		t.Error("Fail of a device not started reported true")
	}
	c.Next()
	if !c.Fail("d00", "hub refused device.cmd: device d00 is offline") {
		t.Error("Fail of a started device reported false")
	}
	if c.Fail("d00", "again") {
		t.Error("second Fail reported true")
	}
	d, _ := c.Device("d00")
	if d.State != Failed || d.Reason != "hub refused device.cmd: device d00 is offline" {
		t.Errorf("got %s %q", d.State, d.Reason)
	}
}

func TestCancel(t *testing.T) {
	c, _ := New("2.0", targets(10, "1.0"), &Options{Transfer: "t1", FirstGroup: 3, Now: newClock().now})
	c.Next()
	commit(c, "d00")
	c.Update(&contract.FirmwareStatus{Device: "d01", Transfer: "t1", State: contract.FwDownload, Count: 2, Of: 5})
	c.Cancel()
	c.Cancel()
	if got := c.Next(); got != nil {
		t.Errorf("Next after Cancel = %v", got)
	}
	if !c.Done() {
		t.Error("cancelled campaign not done")
	}
	if c.Update(st("d01", contract.FwCommitted)) {
		t.Error("a status after Cancel changed a device")
	}
	r := c.Report()
	if !r.Cancelled || r.Counts[Committed] != 1 || r.Counts[Cancelled] != 9 {
		t.Errorf("cancelled %v, counts %v", r.Cancelled, r.Counts)
	}
	d, _ := c.Device("d01")
	if want := "cancelled while downloading 2/5; the device may still finish"; d.Reason != want {
		t.Errorf("d01 reason %q, want %q", d.Reason, want)
	}
	d, _ = c.Device("d09")
	if d.Reason != "not started" {
		t.Errorf("d09 reason %q", d.Reason)
	}
}

func TestSkipUpToDate(t *testing.T) {
	ts := []Target{{ID: "a", Running: "2.0"}, {ID: "b", Running: "1.0"}, {ID: "c", Running: ""}}
	c, _ := New("2.0", ts, &Options{Now: newClock().now})
	if got, want := c.Next(), []string{"b"}; !slices.Equal(got, want) {
		t.Errorf("Next = %v, want %v (first group of 1 among the 2 to flash)", got, want)
	}
	if d, _ := c.Device("a"); d.State != Skipped || d.Reason != "already runs 2.0" {
		t.Errorf("a: %s %q", d.State, d.Reason)
	}
	c, _ = New("2.0", ts, &Options{Force: true, FirstGroup: 3, Now: newClock().now})
	if got := c.Next(); len(got) != 3 {
		t.Errorf("Force: Next = %v, want all 3", got)
	}
	c, _ = New("2.0", ts[:1], nil)
	if !c.Done() || !c.Report().OK() {
		t.Error("a campaign where everything is up to date is not done and ok")
	}
}
