// Package i18n holds the kiosk's user-interface strings in Chinese and
// English.
//
// Chinese comes first: it is the default language and the reference text.
// Strings are looked up by key with Lang.T; a key missing from the table
// renders as the key itself wrapped in ⟦⟧, so a forgotten string is visible
// on screen and in the golden screenshots instead of silently empty.
//
// The table is also the source of the bundled font's character set: All
// lists every string, and ui/font/gen.sh subsets the CJK font to their runes
// (plus the common GB 2312 characters for text that arrives over the
// network, such as notices).
package i18n
