package campaign

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"linli/mqtt/contract"
)

// State is where one device of a campaign is.
type State string

// Device states. The first ones follow the device's FirmwareStatus; the
// last five are final.
const (
	Pending     State = "pending"     // not started yet
	Offered     State = "offered"     // the update command was sent
	Downloading State = "downloading" // blocks arriving: Count of Of
	Verifying   State = "verifying"
	Installing  State = "installing"
	Trial       State = "trial" // booted the new version, not committed yet
	Committed   State = "committed"
	Failed      State = "failed"      // Reason says why (timeouts too)
	RolledBack  State = "rolled-back" // the device went back to its old version
	Cancelled   State = "cancelled"
	Skipped     State = "skipped" // already runs the version
)

// Final reports whether s is a final state.
func (s State) Final() bool {
	switch s {
	case Committed, Failed, RolledBack, Cancelled, Skipped:
		return true
	}
	return false
}

// failure reports whether s counts against the failure threshold.
func (s State) failure() bool { return s == Failed || s == RolledBack }

// Errors of New.
var (
	// ErrNoTargets means the campaign has no device to update.
	ErrNoTargets = errors.New("campaign: no target devices")
	// ErrTarget means a target is invalid or listed twice.
	ErrTarget = errors.New("campaign: bad target")
)

// Target is a device to update and the version it runs now ("" unknown).
type Target struct {
	ID      string
	Running string
}

// Options configure a campaign. A nil *Options means the defaults.
type Options struct {
	// Transfer is the campaign's transfer id: statuses of other transfers
	// (retained ones of an older campaign) are ignored. "" accepts any.
	Transfer string
	// FirstGroup is the number of devices of the first stage. 0 means
	// 10 % of the targets, at least 1.
	FirstGroup int
	// FailureThreshold is the failure rate above which the campaign pauses,
	// from 0 to 1. 0 means 0.2; a negative value pauses on any failure;
	// 1 or more never pauses.
	FailureThreshold float64
	// Parallel is the most devices updating at once. 0 means 16.
	Parallel int
	// Timeout is how long one device may take from the update command to
	// committed before it counts as failed. 0 means 15 minutes.
	Timeout time.Duration
	// Force updates devices that already run the version too.
	Force bool
	// Now is the clock. nil means time.Now.
	Now func() time.Time
}

func (o *Options) defaults(n int) Options {
	var d Options
	if o != nil {
		d = *o
	}
	if d.FirstGroup <= 0 {
		d.FirstGroup = max(1, int(math.Ceil(float64(n)/10)))
	}
	d.FirstGroup = min(d.FirstGroup, max(n, 1))
	switch {
	case d.FailureThreshold == 0:
		d.FailureThreshold = 0.2
	case d.FailureThreshold < 0:
		d.FailureThreshold = 0
	}
	if d.Parallel <= 0 {
		d.Parallel = 16
	}
	if d.Timeout <= 0 {
		d.Timeout = 15 * time.Minute
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return d
}

// Device is the state of one device of a campaign.
type Device struct {
	ID       string    `json:"device"`
	From     string    `json:"from,omitempty"`    // the version it ran before
	Running  string    `json:"running,omitempty"` // the version it reports now
	State    State     `json:"state"`
	Count    int       `json:"count,omitempty"` // blocks received …
	Of       int       `json:"of,omitempty"`    // … of this many
	Reason   string    `json:"reason,omitempty"`
	Stage    int       `json:"stage"` // 1 for the first group, 2 for the rest
	Started  time.Time `json:"started,omitzero"`
	Finished time.Time `json:"finished,omitzero"`
}

// Duration is how long the device took (or has taken so far, at now).
func (d Device) Duration(now time.Time) time.Duration {
	switch {
	case d.Started.IsZero():
		return 0
	case d.Finished.IsZero():
		return now.Sub(d.Started)
	}
	return d.Finished.Sub(d.Started)
}

// Campaign is a staged rollout of one version. Its methods are safe for
// concurrent use.
type Campaign struct {
	version string
	opts    Options

	mu        sync.Mutex
	devs      map[string]*Device
	order     []string
	inflight  int
	stage     int // 1 until the first group finished, then 2
	started   time.Time
	paused    string // why, "" when not paused
	cancelled bool
}

// New returns a campaign updating targets to version.
func New(version string, targets []Target, opts *Options) (*Campaign, error) {
	if version == "" {
		return nil, errors.New("campaign: no version")
	}
	c := &Campaign{version: version, devs: make(map[string]*Device), stage: 1}
	toFlash := 0
	for _, t := range targets {
		if !contract.ValidID(t.ID) {
			return nil, fmt.Errorf("%w: %q is not a device id", ErrTarget, t.ID)
		}
		if c.devs[t.ID] != nil {
			return nil, fmt.Errorf("%w: %s listed twice", ErrTarget, t.ID)
		}
		d := &Device{ID: t.ID, From: t.Running, Running: t.Running, State: Pending}
		if t.Running == version && (opts == nil || !opts.Force) {
			d.State, d.Reason = Skipped, "already runs "+version
		} else {
			toFlash++
		}
		c.devs[t.ID] = d
		c.order = append(c.order, t.ID)
	}
	if len(targets) == 0 {
		return nil, ErrNoTargets
	}
	c.opts = opts.defaults(toFlash)
	c.started = c.opts.Now()
	n := 0
	for _, id := range c.order {
		if d := c.devs[id]; d.State == Pending {
			n++
			d.Stage = 1
			if n > c.opts.FirstGroup {
				d.Stage = 2
			}
		}
	}
	return c, nil
}

// Version is the version the campaign installs.
func (c *Campaign) Version() string { return c.version }

// Options returns the options with the defaults filled in.
func (c *Campaign) Options() Options { return c.opts }

// Next returns the devices to start now, in target order, and marks them
// offered: the caller sends each the update command (and calls Fail if
// that fails). It returns nothing while the first group is still running,
// when the campaign is paused or cancelled, or when Parallel devices are in
// flight.
func (c *Campaign) Next() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.paused != "" || c.cancelled {
		return nil
	}
	var out []string
	now := c.opts.Now()
	for _, id := range c.order {
		if c.inflight >= c.opts.Parallel {
			break
		}
		d := c.devs[id]
		if d.State != Pending || d.Stage > c.stage {
			continue
		}
		d.State, d.Started = Offered, now
		c.inflight++
		out = append(out, id)
	}
	return out
}

// Update applies a device's FirmwareStatus and reports whether it changed
// anything. Statuses of devices not in the campaign, of other transfers, of
// devices not started or already finished are ignored.
func (c *Campaign) Update(st *contract.FirmwareStatus) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.devs[st.Device]
	if d == nil || d.State == Pending || d.State.Final() {
		return false
	}
	if c.opts.Transfer != "" && st.Transfer != c.opts.Transfer {
		return false
	}
	before := *d
	if st.Running != "" {
		d.Running = st.Running
	}
	switch st.State {
	case contract.FwOffered:
		d.State = Offered
	case contract.FwDownload:
		d.State, d.Count, d.Of = Downloading, st.Count, st.Of
	case contract.FwVerifying:
		d.State = Verifying
		if st.Of > 0 {
			d.Count, d.Of = st.Count, st.Of
		}
	case contract.FwInstalling:
		d.State = Installing
	case contract.FwTrial:
		d.State = Trial
	case contract.FwCommitted:
		if st.Running != "" && st.Running != c.version {
			c.finish(d, Failed, fmt.Sprintf("committed, but runs %s instead of %s", st.Running, c.version))
		} else {
			d.Running = c.version
			c.finish(d, Committed, "")
		}
	case contract.FwRolledBack:
		c.finish(d, RolledBack, orString(st.Error, "rolled back"))
	case contract.FwFailed:
		c.finish(d, Failed, orString(st.Error, "failed"))
	default:
		return false
	}
	return *d != before
}

func orString(s, dflt string) string {
	if s == "" {
		return dflt
	}
	return s
}

// Fail ends a started device as failed, e.g. when the update command was
// refused or the device is offline. It reports whether the device was in
// flight.
func (c *Campaign) Fail(id, reason string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.devs[id]
	if d == nil || d.State == Pending || d.State.Final() {
		return false
	}
	c.finish(d, Failed, reason)
	return true
}

// Tick fails the devices that took longer than Options.Timeout and returns
// their ids.
func (c *Campaign) Tick() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.opts.Now()
	var out []string
	for _, id := range c.order {
		d := c.devs[id]
		if d.State == Pending || d.State.Final() || now.Sub(d.Started) < c.opts.Timeout {
			continue
		}
		what := string(d.State)
		if d.State == Downloading {
			what = fmt.Sprintf("downloading %d/%d", d.Count, d.Of)
		}
		c.finish(d, Failed, fmt.Sprintf("timed out after %v (%s)", c.opts.Timeout, what))
		out = append(out, id)
	}
	return out
}

// finish moves d to a final state and re-checks the stage and the
// threshold; c.mu is held.
func (c *Campaign) finish(d *Device, s State, reason string) {
	d.State, d.Reason, d.Finished = s, reason, c.opts.Now()
	c.inflight--
	if c.cancelled {
		return
	}
	failed, done, firstLeft, pending := 0, 0, 0, 0
	for _, id := range c.order {
		x := c.devs[id]
		if x.State == Pending {
			pending++
		}
		switch {
		case x.State == Committed:
			done++
		case x.State.failure():
			done++
			failed++
		case x.Stage == 1 && !x.State.Final():
			firstLeft++
		}
	}
	if c.stage == 1 && firstLeft > 0 {
		return // the first group's rate is judged when it is complete
	}
	rate := float64(failed) / float64(done)
	// With no device left to hold back there is nothing to pause: the
	// campaign ends with its failures (a one-device campaign that failed
	// is not "paused with 0 devices not started").
	if done > 0 && rate > c.opts.FailureThreshold && c.paused == "" && pending > 0 {
		c.paused = fmt.Sprintf("%d of %d finished devices failed (%.0f %%, threshold %.0f %%)",
			failed, done, 100*rate, 100*c.opts.FailureThreshold)
		return
	}
	if c.paused == "" {
		c.stage = 2
	}
}

// Paused reports whether the campaign paused on the failure threshold, and
// why.
func (c *Campaign) Paused() (bool, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.paused != "", c.paused
}

// Cancel stops the campaign: devices not started and devices in flight
// become cancelled, and nothing starts any more. Statuses that arrive later
// are ignored.
func (c *Campaign) Cancel() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cancelled {
		return
	}
	c.cancelled = true
	now := c.opts.Now()
	for _, id := range c.order {
		d := c.devs[id]
		switch {
		case d.State == Pending:
			d.State, d.Reason = Cancelled, "not started"
		case !d.State.Final():
			what := string(d.State)
			if d.State == Downloading {
				what = fmt.Sprintf("downloading %d/%d", d.Count, d.Of)
			}
			d.State, d.Reason, d.Finished = Cancelled, "cancelled while "+what+"; the device may still finish", now
			c.inflight--
		}
	}
}

// Done reports whether the campaign is over: every device finished, or
// the campaign is paused or cancelled and no device is in flight.
func (c *Campaign) Done() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inflight > 0 {
		return false
	}
	if c.paused != "" || c.cancelled {
		return true
	}
	for _, id := range c.order {
		if !c.devs[id].State.Final() {
			return false
		}
	}
	return true
}

// Devices returns a copy of every device's state, in target order.
func (c *Campaign) Devices() []Device {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Device, 0, len(c.order))
	for _, id := range c.order {
		out = append(out, *c.devs[id])
	}
	return out
}

// Device returns a copy of one device's state.
func (c *Campaign) Device(id string) (Device, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.devs[id]
	if d == nil {
		return Device{}, false
	}
	return *d, true
}

// Report is the outcome of a campaign: who runs what.
type Report struct {
	Version   string         `json:"version"`
	Transfer  string         `json:"transfer,omitempty"`
	Started   time.Time      `json:"started"`
	Finished  time.Time      `json:"finished"`
	Paused    string         `json:"paused,omitempty"` // why the campaign paused
	Cancelled bool           `json:"cancelled,omitempty"`
	Counts    map[State]int  `json:"counts"`
	Devices   []DeviceReport `json:"devices"`
}

// DeviceReport is one device's line of a Report.
type DeviceReport struct {
	Device
	Duration time.Duration `json:"duration_ns"`
}

// OK reports whether every device committed or was skipped.
func (r *Report) OK() bool {
	for _, d := range r.Devices {
		if d.State != Committed && d.State != Skipped {
			return false
		}
	}
	return true
}

// Report returns the campaign's report as of now.
func (c *Campaign) Report() *Report {
	now := c.opts.Now()
	devs := c.Devices()
	c.mu.Lock()
	r := &Report{Version: c.version, Transfer: c.opts.Transfer, Started: c.started, Finished: now,
		Paused: c.paused, Cancelled: c.cancelled, Counts: map[State]int{}}
	c.mu.Unlock()
	for _, d := range devs {
		r.Counts[d.State]++
		r.Devices = append(r.Devices, DeviceReport{Device: d, Duration: d.Duration(now)})
	}
	return r
}
