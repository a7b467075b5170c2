package broker

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"
)

// Role is what an account may do on the broker.
type Role string

// Roles.
const (
	RoleDevice Role = "device" // a sensor board
	RoleKiosk  Role = "kiosk"  // a self-service kiosk
	RoleWorker Role = "worker" // a grid worker or maintenance staff (gridctl)
	RoleHub    Role = "hub"    // gridhub itself
	RoleAdmin  Role = "admin"  // an operator: everything
)

// Account is a logged-in client. ID is the user name and, for devices and
// kiosks, the device id of the contract. Community is the area a kiosk shows.
type Account struct {
	ID        string
	Role      Role
	Community string
}

// Accounts checks logins. Both methods must be safe for concurrent use.
type Accounts interface {
	// Authenticate returns the account of user if password is right.
	Authenticate(user string, password []byte) (Account, bool)
	// Lookup returns the account of user without a password check; the
	// broker uses it for sessions restored from disk.
	Lookup(user string) (Account, bool)
}

// Entry is one account with its password as stored in a configuration
// file: "sha256:<hex>" or, for development only, the plain password.
type Entry struct {
	Account
	Password string
}

// Static is an Accounts over a fixed list, keyed by ID.
type Static map[string]Entry

// NewStatic returns the Static of entries; a later entry with the same ID
// replaces an earlier one.
func NewStatic(entries ...Entry) Static {
	s := make(Static, len(entries))
	for _, e := range entries {
		s[e.ID] = e
	}
	return s
}

// Authenticate implements Accounts.
func (s Static) Authenticate(user string, password []byte) (Account, bool) {
	e, ok := s[user]
	if !ok || !CheckPassword(e.Password, password) {
		// Hash anyway, so that a missing user costs the same as a wrong password.
		CheckPassword("sha256:", password)
		return Account{}, false
	}
	return e.Account, true
}

// Lookup implements Accounts.
func (s Static) Lookup(user string) (Account, bool) {
	e, ok := s[user]
	return e.Account, ok
}

// HashPassword returns the stored form "sha256:<hex>" of password.
func HashPassword(password string) string {
	h := sha256.Sum256([]byte(password))
	return "sha256:" + hex.EncodeToString(h[:])
}

// CheckPassword reports whether given matches stored, which is either
// "sha256:<hex>" or a plain password. The comparison is constant-time over
// the sha256 hashes. An empty stored password never matches.
func CheckPassword(stored string, given []byte) bool {
	got := sha256.Sum256(given)
	var want [sha256.Size]byte
	if hx, ok := strings.CutPrefix(stored, "sha256:"); ok {
		b, err := hex.DecodeString(hx)
		if err != nil || len(b) != sha256.Size {
			subtle.ConstantTimeCompare(got[:], want[:])
			return false
		}
		copy(want[:], b)
	} else {
		if stored == "" {
			subtle.ConstantTimeCompare(got[:], want[:])
			return false
		}
		want = sha256.Sum256([]byte(stored))
	}
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}
