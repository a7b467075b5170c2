#!/usr/bin/env bash
# Runs the cross-built ARM sensord under qemu-user through the meterbox-fire
# scenario (time-accelerated) and checks that alarm events were recorded.
# It is our stand-in for periph's smoke tests on a real board.
set -euo pipefail
dist=${1:-dist}
fail=0
for pair in "linux-armv7:qemu-arm-static" "linux-armv6:qemu-arm-static" "linux-arm64:qemu-aarch64-static"; do
  dir=$dist/${pair%%:*} qemu=${pair##*:}
  command -v "$qemu" >/dev/null || { echo "qemu-smoke: $qemu missing (apt-get install qemu-user-static)"; exit 1; }
  data=$(mktemp -d)
  echo "== $dir/sensord under $qemu: meterbox-fire"
  file "$dir/sensord" 2>/dev/null || true
  if ! timeout 300 "$qemu" "$dir/sensord" run --sim meterbox-fire --speed 100 --data "$data" > "$data/run.log" 2>&1; then
    echo "qemu-smoke: $dir sensord run failed:"; tail -20 "$data/run.log"; fail=1; continue
  fi
  "$qemu" "$dir/sensord" events --data "$data" --json > "$data/events.json"
  alarms=$(grep -o '"to": *"alarm"' "$data/events.json" | wc -l)
  echo "   $alarms alarm events recorded; $(grep -c . "$data/run.log") lines printed"
  if [ "$alarms" -lt 2 ]; then echo "qemu-smoke: $dir expected alarm events, got $alarms"; cat "$data/run.log" | tail -20; fail=1; fi
  "$qemu" "$dir/sensord" version
  "$qemu" "$dir/gridhub" version 2>/dev/null || "$qemu" "$dir/gridhub" --help >/dev/null 2>&1 || true
  rm -rf "$data"
done

# The armv7 bundle installs under qemu-user and the new version runs: a
# throwaway signing key, a bundle of the cross-built sensord, `sensord
# install` into an empty update root, then the installed copy starts on
# trial, passes its self-test and commits.
echo "== armv7 bundle: sensord install under qemu-arm-static"
upd=$(mktemp -d)
gridctl="$dist/linux-amd64/gridctl"
[ -x "$gridctl" ] || { go build -o "$upd/gridctl" ./cmd/gridctl; gridctl="$upd/gridctl"; }
"$gridctl" keys generate --out "$upd/keys" --name smoke >/dev/null
ver=$(qemu-arm-static "$dist/linux-armv7/sensord" version | awk '{print $2}')
"$gridctl" bundle create --key "$upd/keys/smoke.key" --out "$upd/sensord.bundle" --version "$ver" --security 1 \
  --target linux/arm/7 --epoch 1800000000 "sensord=$dist/linux-armv7/sensord:0755"
mkdir -p "$upd/root"
if ! qemu-arm-static "$dist/linux-armv7/sensord" install --update-root "$upd/root" --root-keys "$upd/keys/smoke.pub" "$upd/sensord.bundle"; then
  echo "qemu-smoke: armv7 sensord install failed"; fail=1
else
  got=$(qemu-arm-static "$upd/root/current/sensord" version | awk '{print $2}')
  echo "   installed slot $(readlink "$upd/root/current") runs version $got"
  [ "$got" = "$ver" ] || { echo "qemu-smoke: installed sensord says $got, bundle is $ver"; fail=1; }
  if ! timeout 300 qemu-arm-static "$upd/root/current/sensord" run --sim meterbox-fire --speed 100 --data "$upd/data" \
      --update-root "$upd/root" --root-keys "$upd/keys/smoke.pub" --usb-dirs "" > "$upd/run.log" 2>&1; then
    echo "qemu-smoke: installed armv7 sensord failed to run:"; tail -20 "$upd/run.log"; fail=1
  elif ! grep -q 'msg=committed' "$upd/run.log"; then
    echo "qemu-smoke: installed armv7 sensord ran but did not commit its trial:"; grep -i 'firmware\|trial\|updat' "$upd/run.log" | tail -20; fail=1
  else
    echo "   the new version started on trial, passed its self-test and committed"
  fi
fi
rm -rf "$upd"

size=$(stat -c %s "$dist/linux-armv7/sensord")
echo "armv7 sensord: $size bytes (budget 12 MB = 12582912)"
[ "$size" -le 12582912 ] || { echo "qemu-smoke: armv7 sensord over 12 MB"; fail=1; }
if [ -x "$dist/linux-armv7/kiosk" ]; then
  echo "armv7 kiosk: $(stat -c %s "$dist/linux-armv7/kiosk") bytes"
fi
exit $fail
