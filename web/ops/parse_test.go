package ops

import (
	"bufio"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// A strict reader of the text exposition format 0.0.4, written from the
// format's description, to check what WriteMetrics writes: every family
// has one HELP and one TYPE line before its samples, a family's samples are
// contiguous, names and labels are well formed, label values use only the
// three escapes, no series appears twice, counters are ≥ 0, and histogram
// buckets are cumulative, end in le="+Inf" and agree with _count.

var (
	metricNameRE = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelNameRE  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

type series struct {
	name   string
	labels []Label
	value  float64
}

func (s series) key() string {
	var b strings.Builder
	b.WriteString(s.name)
	for _, l := range s.labels {
		fmt.Fprintf(&b, ",%s=%q", l.Name, l.Value)
	}
	return b.String()
}

func (s series) label(name string) (string, bool) {
	for _, l := range s.labels {
		if l.Name == name {
			return l.Value, true
		}
	}
	return "", false
}

type family struct {
	name, typ, help string
	samples         []series
}

type exposition struct {
	families []*family
	values   map[string]float64 // by series key
}

// value returns a series' value by name and label pairs ("k", "v", …).
func (x *exposition) value(name string, kv ...string) (float64, bool) {
	s := series{name: name}
	for i := 0; i+1 < len(kv); i += 2 {
		s.labels = append(s.labels, Label{kv[i], kv[i+1]})
	}
	slices.SortFunc(s.labels, func(a, b Label) int { return strings.Compare(a.Name, b.Name) })
	v, ok := x.values[s.key()]
	return v, ok
}

func parseExposition(text string) (*exposition, error) {
	x := &exposition{values: map[string]float64{}}
	byName := map[string]*family{}
	var cur *family
	closed := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(text))
	n := 0
	if text != "" && !strings.HasSuffix(text, "\n") {
		return nil, fmt.Errorf("the last line has no line feed")
	}
	for sc.Scan() {
		n++
		line := sc.Text()
		fail := func(f string, a ...any) error { return fmt.Errorf("line %d %q: %s", n, line, fmt.Sprintf(f, a...)) }
		switch {
		case line == "":
			return nil, fail("empty line")
		case strings.HasPrefix(line, "# HELP "), strings.HasPrefix(line, "# TYPE "):
			rest := line[7:]
			name, arg, ok := strings.Cut(rest, " ")
			if !ok || !metricNameRE.MatchString(name) {
				return nil, fail("bad metric name")
			}
			f := byName[name]
			if f == nil {
				if cur != nil {
					closed[cur.name] = true
				}
				if closed[name] {
					return nil, fail("family %s appears twice", name)
				}
				f = &family{name: name}
				byName[name] = f
				x.families = append(x.families, f)
				cur = f
			} else if f != cur || len(f.samples) > 0 {
				return nil, fail("HELP/TYPE of %s after its samples or away from its family", name)
			}
			if line[2] == 'H' {
				if f.help != "" {
					return nil, fail("second HELP")
				}
				h, err := unescapeHelp(arg)
				if err != nil {
					return nil, fail("%v", err)
				}
				f.help = h
				if f.help == "" {
					return nil, fail("empty HELP")
				}
			} else {
				if f.typ != "" {
					return nil, fail("second TYPE")
				}
				switch arg {
				case typeCounter, typeGauge, typeHistogram, "summary", "untyped":
				default:
					return nil, fail("unknown type %q", arg)
				}
				f.typ = arg
			}
		case strings.HasPrefix(line, "#"):
			return nil, fail("comment other than HELP/TYPE")
		default:
			s, err := parseSample(line)
			if err != nil {
				return nil, fail("%v", err)
			}
			if cur == nil || familyOf(s.name, cur) != cur.name {
				return nil, fail("sample outside its family (current %v)", cur)
			}
			if cur.typ == "" || cur.help == "" {
				return nil, fail("sample before its family's HELP and TYPE")
			}
			if _, dup := x.values[s.key()]; dup {
				return nil, fail("series appears twice")
			}
			x.values[s.key()] = s.value
			cur.samples = append(cur.samples, s)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, f := range x.families {
		if err := checkFamily(f); err != nil {
			return nil, fmt.Errorf("family %s: %w", f.name, err)
		}
	}
	return x, nil
}

// familyOf returns the family a sample name belongs to, given the current
// family (histogram samples carry suffixes).
func familyOf(name string, cur *family) string {
	if cur.typ == typeHistogram {
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if strings.TrimSuffix(name, suf) == cur.name && name != cur.name {
				return cur.name
			}
		}
		return ""
	}
	return name
}

func checkFamily(f *family) error {
	if f.typ == "" || f.help == "" {
		return fmt.Errorf("no TYPE or HELP")
	}
	if len(f.samples) == 0 {
		return fmt.Errorf("no samples")
	}
	switch f.typ {
	case typeCounter:
		if !strings.HasSuffix(f.name, "_total") {
			return fmt.Errorf("counter name without _total")
		}
		for _, s := range f.samples {
			if s.value < 0 || math.IsNaN(s.value) {
				return fmt.Errorf("counter value %v", s.value)
			}
		}
	case typeHistogram:
		return checkHistogram(f)
	}
	return nil
}

func checkHistogram(f *family) error {
	type hist struct {
		les        []float64
		counts     []float64
		sum, count float64
		hasSum     bool
		hasCount   bool
	}
	hs := map[string]*hist{}
	for _, s := range f.samples {
		var rest []Label
		le, hasLE := "", false
		for _, l := range s.labels {
			if l.Name == "le" {
				le, hasLE = l.Value, true
			} else {
				rest = append(rest, l)
			}
		}
		k := series{labels: rest}.key()
		h := hs[k]
		if h == nil {
			h = &hist{}
			hs[k] = h
		}
		switch strings.TrimPrefix(s.name, f.name) {
		case "_bucket":
			if !hasLE {
				return fmt.Errorf("bucket without le")
			}
			v, err := strconv.ParseFloat(le, 64)
			if err != nil {
				return fmt.Errorf("le %q: %w", le, err)
			}
			if len(h.les) > 0 && v <= h.les[len(h.les)-1] {
				return fmt.Errorf("le %q not ascending", le)
			}
			if len(h.counts) > 0 && s.value < h.counts[len(h.counts)-1] {
				return fmt.Errorf("bucket le=%q count %v below the previous: not cumulative", le, s.value)
			}
			h.les = append(h.les, v)
			h.counts = append(h.counts, s.value)
		case "_sum":
			h.sum, h.hasSum = s.value, true
		case "_count":
			if len(h.les) == 0 || !math.IsInf(h.les[len(h.les)-1], 1) {
				return fmt.Errorf("_count before the +Inf bucket")
			}
			h.count, h.hasCount = s.value, true
		}
		if hasLE && !strings.HasSuffix(s.name, "_bucket") {
			return fmt.Errorf("le on %s", s.name)
		}
	}
	for k, h := range hs {
		if !h.hasSum || !h.hasCount {
			return fmt.Errorf("%s: no _sum or _count", k)
		}
		if h.counts[len(h.counts)-1] != h.count {
			return fmt.Errorf("%s: +Inf bucket %v != _count %v", k, h.counts[len(h.counts)-1], h.count)
		}
	}
	return nil
}

func parseSample(line string) (series, error) {
	var s series
	i := strings.IndexAny(line, "{ ")
	if i < 0 {
		return s, fmt.Errorf("no value")
	}
	s.name = line[:i]
	if !metricNameRE.MatchString(s.name) {
		return s, fmt.Errorf("bad name %q", s.name)
	}
	rest := line[i:]
	if rest[0] == '{' {
		rest = rest[1:]
		for {
			if strings.HasPrefix(rest, "}") {
				rest = rest[1:]
				break
			}
			eq := strings.Index(rest, `="`)
			if eq < 0 {
				return s, fmt.Errorf("label without =\"")
			}
			name := rest[:eq]
			if !labelNameRE.MatchString(name) || strings.HasPrefix(name, "__") {
				return s, fmt.Errorf("bad label name %q", name)
			}
			if _, dup := s.label(name); dup {
				return s, fmt.Errorf("label %s twice", name)
			}
			rest = rest[eq+2:]
			var v strings.Builder
			j := 0
			for ; ; j++ {
				if j >= len(rest) {
					return s, fmt.Errorf("unterminated label value")
				}
				c := rest[j]
				if c == '"' {
					break
				}
				if c == '\n' {
					return s, fmt.Errorf("raw line feed in label value")
				}
				if c == '\\' {
					j++
					if j >= len(rest) {
						return s, fmt.Errorf("dangling backslash")
					}
					switch rest[j] {
					case '\\':
						v.WriteByte('\\')
					case '"':
						v.WriteByte('"')
					case 'n':
						v.WriteByte('\n')
					default:
						return s, fmt.Errorf("bad escape \\%c", rest[j])
					}
					continue
				}
				v.WriteByte(c)
			}
			s.labels = append(s.labels, Label{name, v.String()})
			rest = rest[j+1:]
			if strings.HasPrefix(rest, ",") {
				rest = rest[1:]
				if strings.HasPrefix(rest, "}") {
					return s, fmt.Errorf("trailing comma")
				}
			} else if !strings.HasPrefix(rest, "}") {
				return s, fmt.Errorf("want , or } after a label")
			}
		}
	}
	if !strings.HasPrefix(rest, " ") || strings.HasPrefix(rest, "  ") {
		return s, fmt.Errorf("want one space before the value")
	}
	fields := strings.Split(rest[1:], " ")
	if len(fields) > 2 {
		return s, fmt.Errorf("extra fields")
	}
	v, err := parseValue(fields[0])
	if err != nil {
		return s, err
	}
	s.value = v
	if len(fields) == 2 {
		if _, err := strconv.ParseInt(fields[1], 10, 64); err != nil {
			return s, fmt.Errorf("bad timestamp %q", fields[1])
		}
	}
	slices.SortFunc(s.labels, func(a, b Label) int { return strings.Compare(a.Name, b.Name) })
	return s, nil
}

func parseValue(f string) (float64, error) {
	switch f {
	case "+Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	case "NaN":
		return math.NaN(), nil
	}
	if strings.ContainsAny(f, "_ ") || strings.HasPrefix(strings.ToLower(f), "0x") {
		return 0, fmt.Errorf("bad value %q", f)
	}
	v, err := strconv.ParseFloat(f, 64)
	if err != nil {
		return 0, fmt.Errorf("bad value %q", f)
	}
	return v, nil
}

func unescapeHelp(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		i++
		if i >= len(s) {
			return "", fmt.Errorf("dangling backslash in HELP")
		}
		switch s[i] {
		case '\\':
			b.WriteByte('\\')
		case 'n':
			b.WriteByte('\n')
		default:
			return "", fmt.Errorf("bad escape \\%c in HELP", s[i])
		}
	}
	return b.String(), nil
}
