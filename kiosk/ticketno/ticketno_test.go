package ticketno

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func openDB(t *testing.T) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "k.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return db
}

func TestCheckDigitKnown(t *testing.T) {
	// The worked example of the Damm algorithm: 572 → 4.
	if got := CheckDigit("572"); got != '4' {
		t.Errorf("CheckDigit(572) = %c, want 4", got)
	}
	if !validDigits("5724") {
		t.Error("5724 does not validate")
	}
}

func TestCheckCatchesTypos(t *testing.T) {
	n := Format("K7", time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC), 42)
	if n != "K7-261127-00423" {
		t.Fatalf("Format = %q", n)
	}
	d := Digits(n)
	// Every single-digit change and every adjacent swap must be caught.
	for i := 0; i < len(d); i++ {
		for c := byte('0'); c <= '9'; c++ {
			if c == d[i] {
				continue
			}
			bad := d[:i] + string(c) + d[i+1:]
			if validDigits(bad) {
				t.Errorf("typo %s of %s passes the check", bad, d)
			}
		}
		if i+1 < len(d) && d[i] != d[i+1] {
			bad := d[:i] + string(d[i+1]) + string(d[i]) + d[i+2:]
			if validDigits(bad) {
				t.Errorf("swap %s of %s passes the check", bad, d)
			}
		}
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Number
		err  error
	}{
		{"K7-261127-00423", Number{"K7", "261127", 42}, nil},
		{" k7-261127-0042 3 ", Number{"K7", "261127", 42}, nil},
		{"K7-261127-00424", Number{}, ErrCheck},
		{"K7-261127-0427", Number{}, ErrFormat},
		{"K7261127-00423", Number{}, ErrFormat},
		{"KIOSK-261127-00423", Number{}, ErrFormat},
		{"K7-2611A7-00423", Number{}, ErrFormat},
		{"", Number{}, ErrFormat},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if !errors.Is(err, tt.err) || got != tt.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
	big := Format("A", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), 12345)
	got, err := Parse(big)
	if err != nil || got.Seq != 12345 || got.String() != big {
		t.Errorf("Parse(%q) = %+v, %v", big, got, err)
	}
}

func TestMatch(t *testing.T) {
	n := "K7-261127-00423"
	for typed, want := range map[string]bool{
		"26112700423":    true,
		"261127 0042 3":  true,
		"261127-00423":   true,
		"2611270042":     false,
		"26112700424":    false,
		"":               false,
		"K7-261127-0042": false,
	} {
		if got := Match(n, typed); got != want {
			t.Errorf("Match(%q, %q) = %v, want %v", n, typed, got, want)
		}
	}
}

func TestIssuer(t *testing.T) {
	db := openDB(t)
	iss, err := NewIssuer(db, "B2", &Options{Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	day1 := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	steps := []struct {
		now  time.Time
		want string
	}{
		{day1, Format("B2", day1, 1)},
		{day1.Add(time.Hour), Format("B2", day1, 2)},
		// Clock set back by two days: the date stays, the counter goes on.
		{day1.Add(-48 * time.Hour), Format("B2", day1, 3)},
		// Next day: the counter starts again.
		{day1.Add(24 * time.Hour), Format("B2", day1.Add(24*time.Hour), 1)},
	}
	seen := map[string]bool{}
	for i, s := range steps {
		got, err := iss.Next(s.now)
		if err != nil {
			t.Fatal(err)
		}
		if got != s.want {
			t.Errorf("step %d: Next = %q, want %q", i, got, s.want)
		}
		if seen[got] {
			t.Errorf("step %d: %q issued twice", i, got)
		}
		seen[got] = true
		if _, err := Parse(got); err != nil {
			t.Errorf("step %d: Parse(%q): %v", i, got, err)
		}
	}
	// A failed transaction does not advance the counter.
	boom := errors.New("boom")
	err = db.Update(func(tx *bolt.Tx) error {
		if _, err := iss.NextTx(tx, day1.Add(24*time.Hour)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	// A second issuer on the same file (a restart) continues.
	iss2, err := NewIssuer(db, "B2", &Options{Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := iss2.Next(day1.Add(25 * time.Hour))
	if want := Format("B2", day1.Add(24*time.Hour), 2); got != want {
		t.Errorf("after restart Next = %q, want %q", got, want)
	}
}

func TestNewIssuerBadPrefix(t *testing.T) {
	db := openDB(t)
	for _, p := range []string{"", "k7", "ABCD", "A-1"} {
		if _, err := NewIssuer(db, p, nil); err == nil || !strings.HasPrefix(err.Error(), "ticketno:") {
			t.Errorf("NewIssuer(%q) err = %v", p, err)
		}
	}
}
