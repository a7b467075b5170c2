// Package chart draws small charts as hand-written SVG for the web pages:
// bar charts (vertical or horizontal, stacked by series) and distributions
// of durations (box plot over a strip of the single values, on a log time
// axis).
//
// Every chart is one <svg> with a viewBox and width="100%", so it scales to
// the page (readable at a 390 px phone width: the viewBox is 360 units
// wide and text is 11–12 units), role="img", an aria-labelledby pointing
// at its <title> and <desc>, and a font-family with CJK fallbacks for
// Chinese labels. Numbers are written as data-value attributes on the
// marks, so that tests (and scripts) can read the figures back. Nothing is
// loaded from elsewhere: no script, no external font, no stylesheet.
//
// The output is deterministic for the same input (no random jitter, no
// map order), so pages can be compared with golden files.
package chart
