// Package lograte keeps a flood of alike log lines from drowning a log: a
// Limiter writes the first occurrences of each (source, reason) pair in a
// period and, for the rest, one summary line at the end of the period
// ("… 9990 more like this from mb-0002 in the last 1m0s").
//
// It only limits lines. The exact counts of what was refused belong to the
// caller's counters (the hub's and the broker's Stats), which every
// occurrence still increments.
//
// Sources are bounded: past Options.MaxSources distinct sources in one
// period, further ones share the source "(others)", so that a client
// inventing a new name per message cannot grow the Limiter's memory.
package lograte
