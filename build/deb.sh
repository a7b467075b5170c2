#!/usr/bin/env bash
# Builds a .deb per architecture into dist/deb from the release binaries
# (run `make release` first). The package ships the binaries in
# /usr/lib/linli/, the release's public key as /opt/linli/roots.pub (without
# it the devices run with updates off), and the systemd units for sensord
# and kiosk. On first install, postinst seeds the A/B layouts the updaters
# work on — /opt/linli (sensord) and /opt/linli-kiosk (kiosk: its own
# update root, since each program's update.db is locked while it runs) —
# with slot a and a current link. Later .deb upgrades leave the slots alone:
# after the first install a device is updated by signed bundles (over the
# air, LAN or USB), which keep their trial and rollback. The device's own
# /etc/linli/sensord.json (its id and place) is provisioned per device.
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
  install -d "$root/DEBIAN" "$root/usr/lib/linli" "$root/opt/linli" "$root/lib/systemd/system" "$root/etc/linli"
  install -m 755 "$src/sensord" "$src/kiosk" "$root/usr/lib/linli/"
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
# Seed each program's update root once; never touch slots the updater manages.
seed() { # root program
  if [ ! -e "$1/current" ]; then
    install -d "$1/slots/a"
    install -m 755 "/usr/lib/linli/$2" "$1/slots/a/$2"
    ln -s slots/a "$1/current"
  fi
  chown -R linli:linli "$1"
}
seed /opt/linli sensord
seed /opt/linli-kiosk kiosk
systemctl daemon-reload >/dev/null 2>&1 || true
POST
  chmod 755 "$root/DEBIAN/postinst"
  find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  dpkg-deb --root-owner-group -Zxz --build "$root" "dist/deb/linli_${debver}_${arch}.deb" >/dev/null
  rm -rf "$root"
  echo "dist/deb/linli_${debver}_${arch}.deb"
done
