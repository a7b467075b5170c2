package hazard

import (
	"fmt"
	"time"

	"linli/mqtt/contract"
)

// byDetail is an event's detail naming who asked; "" when nobody is named.
func byDetail(by string) string {
	if by == "" {
		return ""
	}
	return "by " + by
}

func (e *Engine) lookup(name string) ([]*channel, error) {
	if name == "" {
		return e.chans, nil
	}
	ch := e.by[name]
	if ch == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownChannel, name)
	}
	return []*channel{ch}, nil
}

// Reset clears the latched alarm of channel (all channels for ""), and the
// fault of device channels (storage), and returns the transitions. A reset
// channel starts confirming afresh: if the condition persists it alarms
// again after Confirm samples. A channel whose sensor is failing goes to
// fault. by names who asked, for the event's detail.
func (e *Engine) Reset(channel, by string) ([]contract.Event, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	chs, err := e.lookup(channel)
	if err != nil {
		return nil, err
	}
	now := e.opts.Now()
	var evs []contract.Event
	detail := byDetail(by)
	for _, ch := range chs {
		switch {
		case ch.latched:
			ch.latched = false
			ch.reset()
			to := contract.StateNormal
			if ch.faulty {
				to = contract.StateFault
			}
			evs = append(evs, e.event(ch, now, to, "reset", ch.last, 0, detail))
		case ch.cfg.Kind == Device && ch.state == contract.StateFault:
			evs = append(evs, e.event(ch, now, contract.StateNormal, "reset", 0, 0, detail))
		}
	}
	return evs, nil
}

// Test puts channel (all for "") in the test state for Options.TestFor; the
// channel returns to normal by itself (cause "test-end") at the first
// Observe after that. Channels in alarm, fault or disabled are left alone
// (a test must not hide a real condition); naming one of them alone is
// ErrLatched or an error.
func (e *Engine) Test(channel, by string) ([]contract.Event, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	chs, err := e.lookup(channel)
	if err != nil {
		return nil, err
	}
	now := e.opts.Now()
	var evs []contract.Event
	for _, ch := range chs {
		if ch.cfg.Kind == Device {
			continue
		}
		switch ch.state {
		case contract.StateNormal, contract.StatePreAlarm, contract.StateTest:
		case contract.StateAlarm:
			if channel != "" {
				return nil, fmt.Errorf("%w: %s", ErrLatched, ch.cfg.Name)
			}
			continue
		default:
			if channel != "" {
				return nil, fmt.Errorf("hazard: test %s: channel is %s", ch.cfg.Name, ch.state)
			}
			continue
		}
		ch.testEnd = now.Add(e.opts.TestFor)
		if ch.state != contract.StateTest {
			evs = append(evs, e.event(ch, now, contract.StateTest, "test", ch.last, 0, byDetail(by)))
		}
	}
	return evs, nil
}

// Disable disables (屏蔽) or re-enables channel. Disabling a channel with a
// latched alarm is refused (ErrLatched): reset it first.
func (e *Engine) Disable(channel string, disabled bool, by string) ([]contract.Event, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	chs, err := e.lookup(channel)
	if err != nil {
		return nil, err
	}
	now := e.opts.Now()
	var evs []contract.Event
	for _, ch := range chs {
		if ch.cfg.Kind == Device {
			continue
		}
		if disabled && ch.latched {
			return nil, fmt.Errorf("%w: %s", ErrLatched, ch.cfg.Name)
		}
		if disabled == (ch.state == contract.StateDisabled) {
			continue
		}
		ch.reset()
		ch.errs, ch.faulty = 0, false
		to, cause := contract.StateNormal, "enabled"
		if disabled {
			to, cause = contract.StateDisabled, "disabled"
		}
		ch.cfg.Disabled = disabled
		evs = append(evs, e.event(ch, now, to, cause, ch.last, 0, byDetail(by)))
	}
	return evs, nil
}

// SetThresholds changes the set-points of channel after checking them
// against the allowed ranges (a *RangeError names the field and range).
// It does not authorise: the caller must have. A change takes effect at the
// next sample; a latched alarm stays latched.
func (e *Engine) SetThresholds(channel string, pre, alarm float64) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	ch := e.by[channel]
	if ch == nil || ch.cfg.Kind == Device {
		return fmt.Errorf("%w: %q", ErrUnknownChannel, channel)
	}
	if ch.cfg.Kind == Smoke {
		return fmt.Errorf("hazard: %s: smoke has no set-points", channel)
	}
	if err := ch.cfg.check(pre, alarm); err != nil {
		return fmt.Errorf("hazard: %s: %w", channel, err)
	}
	ch.cfg.PreAlarm, ch.cfg.Alarm = pre, alarm
	return nil
}

// DeviceFault puts the device channel name (e.g. "storage") in fault with
// cause and detail, creating the channel if needed. It stays in fault until
// Reset. Returns nil if it is in fault already.
func (e *Engine) DeviceFault(name, cause, detail string) []contract.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	ch := e.deviceChannel(name)
	if ch.state == contract.StateFault {
		return nil
	}
	return []contract.Event{e.event(ch, e.opts.Now(), contract.StateFault, cause, 0, 0, detail)}
}

func (e *Engine) deviceChannel(name string) *channel {
	ch := e.by[name]
	if ch == nil {
		ch = &channel{cfg: Config{Name: name, Kind: Device, Window: 1, Confirm: 1}, state: contract.StateNormal, levels: make([]int8, 1)}
		e.chans = append(e.chans, ch)
		e.by[name] = ch
	}
	return ch
}

// Restore sets a channel's state as it was stored before a restart, without
// an event: an alarm is latched again, a fault stays until the sensor has read plausibly for ClearAfter,
// a pre-alarm clears only when confirmed, a test ends at the next Observe.
// Unknown sensor channels are ignored (the configuration changed); device
// channels are created.
func (e *Engine) Restore(channel string, kind string, state contract.State) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ch := e.by[channel]
	if ch == nil {
		if Kind(kind) != Device {
			return
		}
		ch = e.deviceChannel(channel)
	}
	ch.state = state
	switch state {
	case contract.StateAlarm:
		ch.latched = true
	case contract.StateFault:
		ch.faulty = ch.cfg.Kind != Device
	case contract.StateTest:
		ch.testEnd = time.Time{}
	case contract.StateDisabled:
		ch.cfg.Disabled = true
	}
}

// Statuses returns every channel's current view, in configuration order
// (device channels last).
func (e *Engine) Statuses() []Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Status, 0, len(e.chans))
	for _, ch := range e.chans {
		out = append(out, Status{
			Channel: ch.cfg.Name, Kind: ch.cfg.Kind, State: ch.state, Latched: ch.latched, Faulty: ch.faulty,
			Value: ch.last, Valid: ch.valid, PreAlarm: ch.cfg.PreAlarm, Alarm: ch.cfg.Alarm,
		})
	}
	return out
}
