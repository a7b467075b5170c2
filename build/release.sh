#!/usr/bin/env bash
# Builds a signed, reproducible release bundle per target into dist/release:
#   dist/release/linli-VERSION-OS-ARCH[vN].bundle
# The signing key comes from LINLI_SIGNING_KEY (a file made by
# `gridctl keys generate`; never commit it). The same commit gives
# byte-identical bundles: -trimpath, no build id, the commit time as the only
# time (SOURCE_DATE_EPOCH), files in a fixed order.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
key=${LINLI_SIGNING_KEY:-}
[ -n "$key" ] && [ -f "$key" ] || { echo "release: set LINLI_SIGNING_KEY to a private key file (make one with: bin/gridctl keys generate --out ~/linli-keys)" >&2; exit 1; }
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
export CGO_ENABLED=0
security=$(cat build/SECURITY_VERSION)
ldflags="-s -w -buildid= -X linli/firmware/version.Version=$version -X linli/firmware/version.Epoch=$SOURCE_DATE_EPOCH"
out=dist/release
mkdir -p "$out" bin
go build -trimpath -buildvcs=false -o bin/gridctl ./cmd/gridctl
for t in linux/arm/6 linux/arm/7 linux/arm64 linux/amd64; do
  IFS=/ read -r os arch arm <<<"$t"
  name=$os-$arch${arm:+v$arm}
  dir=$out/$name
  rm -rf "$dir"; mkdir -p "$dir"
  GOOS=$os GOARCH=$arch GOARM=$arm go build -trimpath -buildvcs=false -ldflags "$ldflags" -o "$dir/" ./cmd/sensord
  GOOS=$os GOARCH=$arch GOARM=$arm go build -trimpath -buildvcs=false -tags noos -ldflags "$ldflags" -o "$dir/kiosk" ./cmd/kiosk
  bin/gridctl bundle create --key "$key" --out "$out/linli-$version-$name.bundle" \
    --version "$version" --security "$security" --target "$t" --epoch "$SOURCE_DATE_EPOCH" \
    sensord="$dir/sensord:755" kiosk="$dir/kiosk:755" \
    systemd/sensord.service=build/systemd/sensord.service:644 systemd/kiosk.service=build/systemd/kiosk.service:644
done
(cd "$out" && sha256sum ./*.bundle > SHA256SUMS && cat SHA256SUMS)
