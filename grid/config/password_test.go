package config

import (
	"testing"

	"linli/mqtt/broker"
)

func TestCheckPassword(t *testing.T) {
	bc, err := HashPassword("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		stored, given string
		want          bool
	}{
		{"s3cret", "s3cret", true},
		{"s3cret", "s3cre", false},
		{broker.HashPassword("s3cret"), "s3cret", true},
		{broker.HashPassword("s3cret"), "other", false},
		{bc, "s3cret", true},
		{bc, "other", false},
		{bc, bc, false},
		{"$2a$10$broken", "s3cret", false},
		{"", "", false},
		{"sha256:zz", "s3cret", false},
	} {
		if got := CheckPassword(tc.stored, tc.given); got != tc.want {
			t.Errorf("CheckPassword(%.20q, %q) = %v, want %v", tc.stored, tc.given, got, tc.want)
		}
	}
}

// TestAccountsBcrypt: a worker with a bcrypt password cannot log in to the
// broker, neither with the password nor with the hash.
func TestAccountsBcrypt(t *testing.T) {
	bc, err := HashPassword("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse([]byte(`{"hub": {"id": "gridhub", "password": "x"}, "communities": [{"id": "e", "grids": [{"id": "g", "buildings": ["b1"]}]}],
	  "workers": [{"id": "w", "role": "grid-worker", "grid": "g", "password": "` + bc + `"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"s3cret", bc, ""} {
		if _, ok := c.Accounts().Authenticate("w", []byte(pw)); ok {
			t.Errorf("broker accepts %q for a bcrypt worker", pw)
		}
	}
}
