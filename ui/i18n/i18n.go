package i18n

import (
	"fmt"
	"sort"
)

// Lang is a user-interface language. The zero value is Chinese.
type Lang int

// Languages, Chinese first.
const (
	ZH Lang = iota
	EN
)

// Parse returns the language named by s ("zh", "en", "zh_CN.UTF-8", …) and
// whether s named one. Anything unknown is Chinese.
func Parse(s string) (Lang, bool) {
	if len(s) >= 2 {
		switch s[:2] {
		case "zh", "ZH":
			return ZH, true
		case "en", "EN":
			return EN, true
		}
	}
	return ZH, false
}

// String returns "zh" or "en".
func (l Lang) String() string {
	if l == EN {
		return "en"
	}
	return "zh"
}

// Other returns the language the language switch offers.
func (l Lang) Other() Lang {
	if l == EN {
		return ZH
	}
	return EN
}

// T returns the text of key in l. A missing key returns "⟦key⟧".
func (l Lang) T(key string) string {
	e, ok := table[key]
	if !ok {
		return "⟦" + key + "⟧"
	}
	if l == EN {
		return e[1]
	}
	return e[0]
}

// Tf formats the text of key with args, as fmt.Sprintf does.
func (l Lang) Tf(key string, args ...any) string {
	return fmt.Sprintf(l.T(key), args...)
}

// Pick returns zh or en according to l, for text that comes in both
// languages from elsewhere (the category catalogue). An empty English text
// falls back to the Chinese one.
func (l Lang) Pick(zh, en string) string {
	if l == EN && en != "" {
		return en
	}
	return zh
}

// Has reports whether key is in the table.
func Has(key string) bool {
	_, ok := table[key]
	return ok
}

// Keys returns every key of the table, sorted.
func Keys() []string {
	keys := make([]string, 0, len(table))
	for k := range table {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// All returns every string of the table in both languages, in key order.
func All() []string {
	var out []string
	for _, k := range Keys() {
		out = append(out, table[k][0], table[k][1])
	}
	return out
}
