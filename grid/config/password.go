package config

import (
	"fmt"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"linli/mqtt/broker"
)

// CheckPassword reports whether given matches a worker's stored password,
// which is a bcrypt hash ("$2a$…", "$2b$…", "$2y$…", see HashPassword),
// "sha256:<hex>" (broker.HashPassword) or, for development only, the plain
// password. bcrypt compares in constant time by itself; the other forms
// are compared by broker.CheckPassword over their sha256 hashes. An empty
// stored password never matches.
func CheckPassword(stored, given string) bool {
	if strings.HasPrefix(stored, "$2") {
		return bcrypt.CompareHashAndPassword([]byte(stored), []byte(given)) == nil
	}
	return broker.CheckPassword(stored, []byte(given))
}

// HashPassword returns the bcrypt form of password for the configuration
// (cost bcrypt.DefaultCost). Only the web console understands it: a
// worker who also logs in to the broker with gridctl needs the
// "sha256:" form (broker.HashPassword).
func HashPassword(password string) (string, error) {
	b, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("config: hash password: %w", err)
	}
	return string(b), nil
}

// brokerPassword is a worker's stored password as the broker checks it: a
// bcrypt hash, which the broker does not understand (it would take the
// hash for a plain password), becomes empty, which never matches.
func brokerPassword(stored string) string {
	if strings.HasPrefix(stored, "$2") {
		return ""
	}
	return stored
}
