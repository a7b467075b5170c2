package ticketno

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzParse checks Parse, Normalize and Digits on anything a resident can
// type: no panics; refusals wrap ErrFormat or ErrCheck; Normalize is
// idempotent; an accepted number is canonical (its String is the
// normalized input and parses back to itself) and its Digits match it.
func FuzzParse(f *testing.F) {
	day := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	for _, s := range []string{
		Format("K7", day, 42), Format("ABC", day, 1), Format("K7", day, 123456),
		"k7-261127- 0042 7", "K7-261127-00428", "K7-261127-00000", "K7-261127-000427",
		"K7--261127-00427", "-261127-00427", "K7-2611270-0427", "ＫＷ-261127-00427",
		"K7-261127-999999999999", "", "-", "--",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		norm := Normalize(s)
		if again := Normalize(norm); again != norm {
			t.Fatalf("Normalize(%q) = %q, but Normalize of that = %q", s, norm, again)
		}
		if d := Digits(s); strings.Contains(d, "-") {
			t.Fatalf("Digits(%q) = %q", s, d)
		}
		n, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrCheck) {
				t.Fatalf("Parse(%q) error %v wraps neither ErrFormat nor ErrCheck", s, err)
			}
			return
		}
		if !ValidPrefix(n.Prefix) || n.Seq == 0 || len(n.Date) != 6 {
			t.Fatalf("Parse(%q) = %+v", s, n)
		}
		str := n.String()
		if str != norm {
			t.Fatalf("Parse(%q) = %+v, which formats as %q, not the input %q", s, n, str, norm)
		}
		if n2, err := Parse(str); err != nil || n2 != n {
			t.Fatalf("Parse(%q) = %+v, %v; want %+v", str, n2, err, n)
		}
		d := Digits(str)
		if strings.Trim(d, "0123456789") != "" || !Match(str, d) {
			t.Fatalf("Digits(%q) = %q does not Match it", str, d)
		}
	})
}
