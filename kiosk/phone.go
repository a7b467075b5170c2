package kiosk

import (
	"fmt"
	"strings"
)

// NormalizePhone validates a phone number typed by a resident and returns
// it in canonical form, or an error wrapping ErrPhone. Accepted:
//
//   - a mainland mobile number, 11 digits 1[3-9]xxxxxxxxx, optionally
//     after +86 or 86 → "13812345678";
//   - a landline with area code: 0 + area (2 digits for 010 and 02x, 3
//     otherwise) + 7–8 digit local number starting 2–9 → "0755-83331234";
//   - a local landline, 7–8 digits starting 2–9 → "83331234".
//
// Spaces and dashes are ignored.
func NormalizePhone(s string) (string, error) {
	d := strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, s)
	d = strings.TrimPrefix(d, "+86")
	if len(d) == 13 && strings.HasPrefix(d, "861") {
		d = d[2:]
	}
	for _, r := range d {
		if r < '0' || r > '9' {
			return "", fmt.Errorf("%w: %q has characters other than digits", ErrPhone, s)
		}
	}
	local := func(l string) bool { return (len(l) == 7 || len(l) == 8) && l[0] >= '2' }
	switch {
	case len(d) == 11 && d[0] == '1' && d[1] >= '3':
		return d, nil
	case len(d) > 0 && d[0] == '0':
		area := 4
		if len(d) > 2 && (d[1] == '1' || d[1] == '2') {
			area = 3
		}
		if len(d) > area && d[1] != '0' && local(d[area:]) {
			return d[:area] + "-" + d[area:], nil
		}
	case local(d):
		return d, nil
	}
	return "", fmt.Errorf("%w: %q is neither a mobile nor a landline number", ErrPhone, s)
}
