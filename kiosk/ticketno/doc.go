// Package ticketno issues and checks the ticket numbers that a kiosk shows a
// resident the moment a report is filed, before (and whether or not) the hub
// has heard of it.
//
// # Format
//
//	PP-YYMMDD-NNNNC      e.g. K7-261127-00423
//
// where:
//   - PP is the kiosk's code: 1–3 characters of A–Z and 0–9, set in the
//     kiosk's configuration and unique among the kiosks that share a hub
//     (a community). It makes numbers unique across kiosks without any
//     coordination, so they can be issued offline.
//   - YYMMDD is the kiosk's local date of issue. Residents recognise it ("the
//     day I reported it"), and it keeps the counter short.
//   - NNNN is the kiosk's counter for that day, from 0001, zero-padded to four
//     digits (it simply grows to five digits past 9999 reports in a day).
//     It is kept in bbolt and advanced in the same transaction that stores
//     the report, so a number is never shown twice and never skipped by a
//     failed write.
//   - C is a Damm check digit over YYMMDDNNNN. Damm's quasigroup catches
//     every single-digit mistake and every swap of two adjacent digits, the
//     two common errors when a resident types a number back on the kiosk's
//     digit keypad; unlike Luhn it needs no weights and has no blind spot
//     (Luhn misses 09↔90).
//
// Everything after the code is digits, so the tracking screen needs only a
// digit keypad: Digits gives the part a resident types and Match compares
// it, and the kiosk fills in its own code or searches all codes it knows.
//
// Uniqueness does not depend on the clock being right: the issuer never
// uses a date earlier than the last one it used (a clock set back keeps the
// old date and its counter), so (date, counter) only ever increases. It
// does depend on the bbolt file: a kiosk whose storage is wiped must get a
// new code, or it may repeat numbers of the same day (the hub refuses a
// number it already holds with different content; see grid/tickets).
package ticketno
