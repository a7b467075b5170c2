package ticketno

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Errors returned by Parse.
var (
	// ErrFormat means the text is not shaped like a ticket number.
	ErrFormat = errors.New("ticketno: not a ticket number")
	// ErrCheck means the check digit does not match: the number was
	// mistyped.
	ErrCheck = errors.New("ticketno: check digit mismatch")
)

// damm is the totally anti-symmetric quasigroup of order 10 from H. M.
// Damm's 2004 thesis (the table printed in most references).
var damm = [10][10]byte{
	{0, 3, 1, 7, 5, 9, 8, 6, 4, 2},
	{7, 0, 9, 2, 1, 5, 4, 8, 6, 3},
	{4, 2, 0, 6, 8, 7, 1, 3, 5, 9},
	{1, 7, 5, 0, 9, 8, 3, 4, 2, 6},
	{6, 1, 2, 3, 0, 4, 5, 9, 7, 8},
	{3, 6, 7, 4, 2, 0, 9, 5, 8, 1},
	{5, 8, 6, 9, 7, 2, 0, 1, 3, 4},
	{8, 9, 4, 5, 3, 6, 2, 0, 1, 7},
	{9, 4, 3, 8, 6, 1, 7, 2, 0, 5},
	{2, 5, 8, 1, 4, 3, 6, 7, 9, 0},
}

// CheckDigit returns the Damm check digit ('0'–'9') of digits. It panics if
// digits holds anything but '0'–'9'.
func CheckDigit(digits string) byte {
	var interim byte
	for i := 0; i < len(digits); i++ {
		d := digits[i] - '0'
		if d > 9 {
			panic(fmt.Sprintf("ticketno: CheckDigit of non-digit %q", digits))
		}
		interim = damm[interim][d]
	}
	return '0' + interim
}

// validDigits reports whether digits (with its check digit last) checks out.
func validDigits(digits string) bool {
	var interim byte
	for i := 0; i < len(digits); i++ {
		d := digits[i] - '0'
		if d > 9 {
			return false
		}
		interim = damm[interim][d]
	}
	return interim == 0
}

// ValidPrefix reports whether p can be a kiosk code: 1–3 characters of A–Z
// and 0–9.
func ValidPrefix(p string) bool {
	if len(p) < 1 || len(p) > 3 {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// Format returns the number of the n-th report (from 1) issued by the kiosk
// with code prefix on day (only its year, month and day are used). It
// panics on an invalid prefix or n == 0.
func Format(prefix string, day time.Time, n uint64) string {
	if !ValidPrefix(prefix) || n == 0 {
		panic(fmt.Sprintf("ticketno: Format(%q, %d)", prefix, n))
	}
	return Number{Prefix: prefix, Date: day.Format("060102"), Seq: n}.String()
}

// Number is a parsed ticket number.
type Number struct {
	Prefix string // kiosk code
	Date   string // YYMMDD
	Seq    uint64 // counter of that day, from 1
}

// String formats n.
func (n Number) String() string {
	ctr := fmt.Sprintf("%04d", n.Seq)
	return n.Prefix + "-" + n.Date + "-" + ctr + string(CheckDigit(n.Date+ctr))
}

// Normalize trims s, upper-cases it and removes spaces, so that "k7-261127-
// 0042 7" reads as "K7-261127-00427".
func Normalize(s string) string {
	return strings.ToUpper(strings.Join(strings.Fields(s), ""))
}

// Parse reads a number in the form Format writes (after Normalize). It
// returns ErrFormat or ErrCheck, wrapped with the input.
func Parse(s string) (Number, error) {
	s = Normalize(s)
	parts := strings.Split(s, "-")
	if len(parts) != 3 || !ValidPrefix(parts[0]) || len(parts[1]) != 6 || len(parts[2]) < 5 || len(parts[2]) > 12 {
		return Number{}, fmt.Errorf("%w: %q", ErrFormat, s)
	}
	digits := parts[1] + parts[2]
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return Number{}, fmt.Errorf("%w: %q", ErrFormat, s)
		}
	}
	ctr := parts[2][:len(parts[2])-1]
	if len(ctr) > 4 && ctr[0] == '0' { // counters past 9999 are not padded
		return Number{}, fmt.Errorf("%w: %q", ErrFormat, s)
	}
	if !validDigits(digits) {
		return Number{}, fmt.Errorf("%w: %q", ErrCheck, s)
	}
	var seq uint64
	for i := 0; i < len(ctr); i++ {
		seq = seq*10 + uint64(ctr[i]-'0')
	}
	if seq == 0 {
		return Number{}, fmt.Errorf("%w: %q", ErrFormat, s)
	}
	return Number{Prefix: parts[0], Date: parts[1], Seq: seq}, nil
}

// Digits returns what a resident types on the digit keypad for number: the
// digits after the kiosk code, without separators ("K7-261127-00427" →
// "26112700427"). It returns "" for a number without a code.
func Digits(number string) string {
	_, rest, ok := strings.Cut(Normalize(number), "-")
	if !ok {
		return ""
	}
	return strings.ReplaceAll(rest, "-", "")
}

// Match reports whether typed (digits only, as from a keypad; separators
// and spaces are ignored) names number.
func Match(number, typed string) bool {
	t := strings.Map(func(r rune) rune {
		if '0' <= r && r <= '9' {
			return r
		}
		return -1
	}, typed)
	return t != "" && t == Digits(number)
}

// Options configures an Issuer. The zero value of a field means its default.
type Options struct {
	// Bucket is the bbolt bucket holding the counter. Default "ticketno".
	Bucket string
	// Location is the time zone of the date in the number. Default
	// time.Local.
	Location *time.Location
}

// Issuer hands out the numbers of one kiosk. It keeps its state in bbolt
// and is safe for concurrent use (bbolt serialises the writes).
type Issuer struct {
	db     *bolt.DB
	prefix string
	bucket []byte
	loc    *time.Location
}

var (
	keyDate = []byte("date") // YYMMDD of the last number issued
	keySeq  = []byte("seq")  // counter of that date
)

// NewIssuer returns the issuer of the kiosk with code prefix, keeping its
// counter in db (creating its bucket). opts may be nil.
func NewIssuer(db *bolt.DB, prefix string, opts *Options) (*Issuer, error) {
	if !ValidPrefix(prefix) {
		return nil, fmt.Errorf("ticketno: kiosk code %q is not 1-3 characters of A-Z, 0-9", prefix)
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Bucket == "" {
		o.Bucket = "ticketno"
	}
	if o.Location == nil {
		o.Location = time.Local
	}
	i := &Issuer{db: db, prefix: prefix, bucket: []byte(o.Bucket), loc: o.Location}
	err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(i.bucket)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("ticketno: open: %w", err)
	}
	return i, nil
}

// Prefix returns the kiosk code.
func (i *Issuer) Prefix() string { return i.prefix }

// NextTx issues the next number inside the caller's writable transaction:
// the counter advances only if tx commits. now is the kiosk's clock; a date
// earlier than the last one used is replaced by that one.
func (i *Issuer) NextTx(tx *bolt.Tx, now time.Time) (string, error) {
	b := tx.Bucket(i.bucket)
	if b == nil {
		return "", fmt.Errorf("ticketno: bucket %q missing", i.bucket)
	}
	t := now.In(i.loc)
	date := fmt.Sprintf("%02d%02d%02d", t.Year()%100, int(t.Month()), t.Day())
	last := string(b.Get(keyDate))
	var seq uint64
	// YYMMDD compares correctly as a string within a century.
	if last != "" && date <= last {
		date = last
		if v := b.Get(keySeq); len(v) == 8 {
			seq = binary.BigEndian.Uint64(v)
		}
	}
	seq++
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], seq)
	if err := b.Put(keyDate, []byte(date)); err != nil {
		return "", fmt.Errorf("ticketno: next: %w", err)
	}
	if err := b.Put(keySeq, v[:]); err != nil {
		return "", fmt.Errorf("ticketno: next: %w", err)
	}
	return Number{Prefix: i.prefix, Date: date, Seq: seq}.String(), nil
}

// Next issues the next number in a transaction of its own.
func (i *Issuer) Next(now time.Time) (string, error) {
	var n string
	err := i.db.Update(func(tx *bolt.Tx) error {
		var err error
		n, err = i.NextTx(tx, now)
		return err
	})
	return n, err
}
