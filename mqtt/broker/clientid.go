package broker

import "strings"

// Client id prefixes of gridctl (package mqtt/hubclient and gridctl flash)
// and the suffix of the hub's telemetry connection (package grid/hub).
const (
	workerPrefix    = "gridctl-"
	flashPrefix     = "gridctl-flash-"
	telemetrySuffix = "-telemetry"
)

// ClientIDAllowed reports whether acc may connect with the MQTT client id
// cid. A client id names a session, and a new connection with a client id
// takes over the session and disconnects the client using it, so each
// account has its own client ids:
//
//	device, kiosk       its id
//	worker, maintenance its id, gridctl-<id>-<any>, gridctl-flash-<id>-<any>
//	hub                 its id, <id>-telemetry
//	admin               any id not bound to another account (see Bound)
//
// The admin's rule needs the other accounts; ClientIDAllowed, without
// them, allows an admin only its own id and <id>-<any>.
func ClientIDAllowed(acc Account, cid string) bool {
	if acc.ID == "" || cid == "" {
		return false
	}
	if cid == acc.ID {
		return true
	}
	switch acc.Role {
	case RoleWorker, RoleMaintenance:
		for _, p := range []string{flashPrefix, workerPrefix} {
			if rest, ok := strings.CutPrefix(cid, p+acc.ID+"-"); ok && rest != "" {
				return true
			}
		}
	case RoleHub:
		return cid == acc.ID+telemetrySuffix
	case RoleAdmin:
		rest, ok := strings.CutPrefix(cid, acc.ID+"-")
		return ok && rest != ""
	}
	return false
}

// Bound returns the account other than acc that the client id cid belongs
// to under ClientIDAllowed's rules, if any.
func Bound(accounts Accounts, acc Account, cid string) (Account, bool) {
	var cands []string
	cands = append(cands, cid)
	if s, ok := strings.CutSuffix(cid, telemetrySuffix); ok {
		cands = append(cands, s)
	}
	for _, p := range []string{flashPrefix, workerPrefix} {
		rest, ok := strings.CutPrefix(cid, p)
		if !ok {
			continue
		}
		// The worker id is rest up to one of its dashes: try each.
		for i := range len(rest) {
			if rest[i] == '-' && i > 0 {
				cands = append(cands, rest[:i])
			}
		}
	}
	// An admin's own <id>-<any>: every prefix up to a dash.
	for i := range len(cid) {
		if cid[i] == '-' && i > 0 {
			cands = append(cands, cid[:i])
		}
	}
	for _, id := range cands {
		if id == acc.ID {
			continue
		}
		if other, ok := accounts.Lookup(id); ok && other.ID == id && ClientIDAllowed(other, cid) {
			return other, true
		}
	}
	return Account{}, false
}

// clientIDFor reports whether acc may connect with cid given every account.
func clientIDFor(accounts Accounts, acc Account, cid string) bool {
	if acc.Role == RoleAdmin {
		_, taken := Bound(accounts, acc, cid)
		return !taken
	}
	return ClientIDAllowed(acc, cid)
}
