package broker

import (
	"strings"

	"linli/mqtt/contract"
)

// RoleMaintenance is maintenance staff running firmware campaigns (gridctl
// flash): a worker that may also serve firmware blocks to any device and
// follow every device's block requests and update status.
const RoleMaintenance Role = "maintenance"

// Rules returns the MQTT filters acc may publish to and subscribe to (full
// topics); all true (with nil lists) means everything. It is the policy
// Allowed enforces, for brokers that take it as configuration (NATS,
// mosquitto: see package mqtt/natsbroker). An invalid account id gets
// nothing.
func Rules(acc Account) (pub, sub []string, all bool) {
	if acc.ID == "" || !contract.ValidID(acc.ID) {
		return nil, nil, false
	}
	return rules(acc)
}

// rules returns the filters acc may publish to and subscribe to, relative
// to nothing (full topics). nil, nil with all true means everything.
func rules(acc Account) (pub, sub []string, all bool) {
	r := contract.Root + "/"
	switch acc.Role {
	case RoleHub, RoleAdmin:
		return nil, nil, true
	case RoleDevice, RoleKiosk:
		d := r + "dev/" + acc.ID + "/"
		for _, leaf := range []string{"birth", "death", "state", "telemetry", "event", "report", "cmdack", "fwreq", "fwstatus"} {
			pub = append(pub, d+leaf)
		}
		sub = []string{d + "cmd", d + "fw", d + "fw/#"}
		if acc.Role == RoleKiosk {
			if acc.Community != "" {
				sub = append(sub, r+"area/"+acc.Community+"/#")
			}
			sub = append(sub, r+"ticket/#")
		}
	case RoleWorker, RoleMaintenance:
		pub = []string{r + "hub/req/" + acc.ID}
		sub = []string{
			r + "hub/resp/" + acc.ID,
			r + "grid/+/alert",
			r + "dev/+/birth", r + "dev/+/state", r + "dev/+/death",
			r + "ticket/#",
		}
		if acc.Role == RoleMaintenance {
			// Firmware campaigns: blocks out, block requests and status in.
			pub = append(pub, r+"dev/+/fw")
			sub = append(sub, r+"dev/+/fwreq", r+"dev/+/fwstatus")
		}
	}
	return pub, sub, false
}

// Allowed reports whether acc may publish to (write) or subscribe to / read
// (!write) the topic or filter.
func Allowed(acc Account, filter string, write bool) bool {
	if acc.ID == "" || !contract.ValidID(acc.ID) {
		return false
	}
	if write && (acc.Role == RoleDevice || acc.Role == RoleKiosk) {
		return devicePublish(acc.ID, filter)
	}
	pub, sub, all := rules(acc)
	if all {
		return true
	}
	pats := sub
	if write {
		if strings.ContainsAny(filter, "+#") {
			return false
		}
		pats = pub
	}
	for _, p := range pats {
		if covers(p, filter) {
			return true
		}
	}
	return false
}

// deviceLeaves are the leaves a device or kiosk publishes under its own
// dev/ID/ (see rules).
var deviceLeaves = map[string]bool{"birth": true, "death": true, "state": true, "telemetry": true, "event": true,
	"report": true, "cmdack": true, "fwreq": true, "fwstatus": true}

// devicePublish is Allowed(acc, topic, true) for a device or kiosk id,
// without building its rules: the broker asks it for every telemetry
// message of every device, thousands a second, and the garbage of rules
// and covers was a good part of what the hub's collector had to chase.
func devicePublish(id, topic string) bool {
	rest, ok := strings.CutPrefix(topic, contract.Root+"/dev/")
	if !ok {
		return false
	}
	if rest, ok = strings.CutPrefix(rest, id); !ok {
		return false
	}
	if rest, ok = strings.CutPrefix(rest, "/"); !ok {
		return false
	}
	return deviceLeaves[rest]
}

// covers reports whether every topic matched by filter f is matched by
// pattern p. Both are MQTT filters.
func covers(p, f string) bool {
	pl := strings.Split(p, "/")
	fl := strings.Split(f, "/")
	for i, x := range pl {
		if x == "#" {
			return true
		}
		if i >= len(fl) {
			return false
		}
		y := fl[i]
		switch {
		case y == "#":
			return false
		case x == "+":
			// any single level, including "+"
		case y == "+" || x != y:
			return false
		}
	}
	return len(pl) == len(fl)
}
