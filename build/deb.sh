#!/usr/bin/env bash
# Builds a .deb per architecture into dist/deb from the release binaries
# (run `make release` first). The package installs the binaries into
# /opt/linli/slots/a with /opt/linli/current pointing at it — the layout the
# A/B updater works on — the release's public key as /opt/linli/roots.pub
# (without it sensord runs with updates off), and the systemd units for
# sensord and kiosk. The device's own /etc/linli/sensord.json (its id and
# place) is provisioned per device, not packaged.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
debver=$(echo "$version" | sed 's/^v//; s/[^A-Za-z0-9.+~-]/./g'); [[ $debver =~ ^[0-9] ]] || debver="0~$debver"
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
mkdir -p dist/deb
for pair in linux-armv6:armel linux-armv7:armhf linux-arm64:arm64 linux-amd64:amd64; do
  src=dist/release/${pair%%:*} arch=${pair##*:}
  [ -x "$src/sensord" ] || { echo "deb: $src/sensord missing: run make release first" >&2; exit 1; }
  [ -f dist/release/roots.pub ] || { echo "deb: dist/release/roots.pub missing: run make release first" >&2; exit 1; }
  root=$(mktemp -d)
  chmod 755 "$root" # mktemp's 0700 would be the package's /
  install -d "$root/DEBIAN" "$root/opt/linli/slots/a" "$root/lib/systemd/system" "$root/etc/linli"
  install -m 755 "$src/sensord" "$src/kiosk" "$root/opt/linli/slots/a/"
  ln -s slots/a "$root/opt/linli/current"
  install -m 644 dist/release/roots.pub "$root/opt/linli/roots.pub"
  install -m 644 build/systemd/sensord.service build/systemd/kiosk.service "$root/lib/systemd/system/"
  cat > "$root/DEBIAN/control" <<CTL
Package: linli
Version: $debver
Architecture: $arch
Maintainer: Linli developers <linli@example.invalid>
Section: misc
Priority: optional
Description: Linli neighbourhood safety firmware (sensord, kiosk)
 Meter-box and smoke sensor agent and 24-hour self-service kiosk.
CTL
  cat > "$root/DEBIAN/postinst" <<'POST'
#!/bin/sh
set -e
getent group linli >/dev/null || addgroup --system linli
getent passwd linli >/dev/null || adduser --system --ingroup linli --no-create-home --home /var/lib/linli linli
chown -R linli:linli /opt/linli
systemctl daemon-reload >/dev/null 2>&1 || true
POST
  chmod 755 "$root/DEBIAN/postinst"
  find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  dpkg-deb --root-owner-group -Zxz --build "$root" "dist/deb/linli_${debver}_${arch}.deb" >/dev/null
  rm -rf "$root"
  echo "dist/deb/linli_${debver}_${arch}.deb"
done
