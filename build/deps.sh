#!/usr/bin/env bash
# Installs what Linli's tests need when it is missing: Debian's mosquitto (the
# external broker of the end-to-end tests), qemu-user-static (runs the ARM
# binaries), chromium (the web console's browser tests) and a CJK font for
# it (fonts-noto-cjk: Chinese pages in the browser screenshots). As root it uses apt-get directly, otherwise sudo. It changes
# nothing when all are there.
set -euo pipefail
need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto mosquitto-clients)
command -v qemu-arm-static >/dev/null 2>&1 || need+=(qemu-user-static)
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need+=(chromium)
[ -d /usr/share/fonts/opentype/noto ] && ls /usr/share/fonts/opentype/noto/NotoSansCJK* >/dev/null 2>&1 || need+=(fonts-noto-cjk)
[ ${#need[@]} -eq 0 ] && exit 0
echo "deps: installing ${need[*]}"
if [ "$(id -u)" -eq 0 ]; then sudo=(); elif command -v sudo >/dev/null 2>&1; then sudo=(sudo -n); else
  echo "deps: need root or sudo to install ${need[*]} (apt-get install -y ${need[*]})" >&2; exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian starts the packaged mosquitto on port 1883; the tests start their own
# on free ports, and `make run` wants 1883 for the embedded broker.
if command -v systemctl >/dev/null 2>&1; then "${sudo[@]}" systemctl disable --now mosquitto >/dev/null 2>&1 || true; fi
"${sudo[@]}" pkill -x mosquitto >/dev/null 2>&1 || true
