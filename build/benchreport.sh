#!/usr/bin/env bash
# Reads `go test -bench` output on stdin and prints the figures the issues
# name: every benchmark's own metrics, ratios (units starting with "x-")
# first, so each figure stands next to the baseline it was measured against.
awk '
/^pkg: / { pkg=$2 }
/^Benchmark/ {
  name=$1; sub(/-[0-9]+$/, "", name)
  ratios=""; other=""
  for (i=3; i<NF; i+=2) {
    v=$i; u=$(i+1)
    if (u ~ /^x-/) ratios=ratios sprintf("  %s %s", v, u); else other=other sprintf("  %s %s", v, u)
  }
  printf "%-60s%s\n", pkg "." name, ratios
  if (other != "") printf "%-60s%s\n", "", other
}
/^(FAIL|ok|PASS)/ && /FAIL/ { print; failed=1 }
END { exit failed }
'
