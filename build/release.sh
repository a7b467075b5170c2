#!/usr/bin/env bash
# Builds a signed, reproducible release bundle per target into dist/release:
#   dist/release/linli-VERSION-OS-ARCH[vN].bundle, SHA256SUMS, roots.pub
# The signing key comes from LINLI_SIGNING_KEY (a file made by
# `gridctl keys generate`; never commit it). roots.pub is its public key
# (LINLI_ROOT_KEYS, default the .pub file beside the key), which devices are
# provisioned with (build/deb.sh installs it); every bundle is verified
# against it before the release is called done. The same commit gives
# byte-identical bundles: -trimpath, no build id, the commit time as the only
# time (SOURCE_DATE_EPOCH), files in a fixed order.
#
#   build/release.sh check
# checks that: it builds the release of HEAD twice, from two clones in
# different folders, the second with an empty Go build cache, and compares
# the bundles' sha256 (with a throwaway key unless LINLI_SIGNING_KEY is set;
# Ed25519 signatures are deterministic). It takes minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = check ]; then
  tmp=$(mktemp -d)
  trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
  key=${LINLI_SIGNING_KEY:-}
  if [ -z "$key" ]; then
    go run ./cmd/gridctl keys generate --out "$tmp/keys" >/dev/null
    key=$tmp/keys/linli-release.key
  fi
  head=$(git rev-parse HEAD)
  for n in 1 2; do
    git clone -q --shared --no-checkout . "$tmp/src$n"
    git -C "$tmp/src$n" checkout -q --detach "$head"
  done
  version=$(git -C "$tmp/src1" describe --tags --always 2>/dev/null || echo dev)
  echo "release check: $version, built twice" >&2
  (cd "$tmp/src1" && LINLI_SIGNING_KEY=$key build/release.sh "$version" >/dev/null)
  (cd "$tmp/src2" && GOCACHE=$tmp/gocache LINLI_SIGNING_KEY=$key build/release.sh "$version" >/dev/null)
  if ! diff "$tmp/src1/dist/release/SHA256SUMS" "$tmp/src2/dist/release/SHA256SUMS"; then
    echo "release check: FAILED — the two builds of $head differ (above: first < > second)" >&2
    exit 1
  fi
  cat "$tmp/src1/dist/release/SHA256SUMS"
  echo "release check: OK — both builds of $head are byte-identical" >&2
  exit 0
fi

version=${1:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
key=${LINLI_SIGNING_KEY:-}
[ -n "$key" ] && [ -f "$key" ] || { echo "release: set LINLI_SIGNING_KEY to a private key file (make one with: bin/gridctl keys generate --out ~/linli-keys)" >&2; exit 1; }
roots=${LINLI_ROOT_KEYS:-${key%.key}.pub}
[ -f "$roots" ] || { echo "release: no public key $roots for the devices: set LINLI_ROOT_KEYS to the signing key's .pub file" >&2; exit 1; }
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
export CGO_ENABLED=0
security=$(cat build/SECURITY_VERSION)
ldflags="-s -w -buildid= -X linli/firmware/version.Version=$version -X linli/firmware/version.Epoch=$SOURCE_DATE_EPOCH"
out=dist/release
mkdir -p "$out" bin
rm -f "$out"/*.bundle "$out/SHA256SUMS"
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
  # What the devices will check: signature against roots.pub, target.
  bin/gridctl bundle verify --roots "$roots" --target "$t" "$out/linli-$version-$name.bundle" >/dev/null || {
    echo "release: $out/linli-$version-$name.bundle does not verify against $roots (is it the signing key's public key?)" >&2; exit 1; }
done
install -m 644 "$roots" "$out/roots.pub"
(cd "$out" && sha256sum ./*.bundle > SHA256SUMS && cat SHA256SUMS)
