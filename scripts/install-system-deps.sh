#!/usr/bin/env bash
# System packages the tests need on Debian 12: Chromium (its SwiftShader Vulkan driver, and the browser for
# end-to-end tests), the Vulkan loader, and Mesa 25's lavapipe from bookworm-backports (a second driver, with
# shader-f16). Idempotent; skipped where the packages are already there.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

need=()
[ -f /usr/lib/chromium/vk_swiftshader_icd.json ] || need+=(chromium)
[ -e /usr/lib/x86_64-linux-gnu/libvulkan.so.1 ] || ldconfig -p | grep -q libvulkan.so.1 || need+=(libvulkan1)
lvp_ok=0
if [ -f /usr/share/vulkan/icd.d/lvp_icd.json ] && dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null | grep -q '^2[5-9]'; then lvp_ok=1; fi

if [ ${#need[@]} -eq 0 ] && [ $lvp_ok -eq 1 ]; then exit 0; fi
if ! command -v apt-get >/dev/null; then
  echo "install-system-deps: not a Debian system; install Chromium and a Vulkan driver yourself" >&2
  exit 0
fi
if [ $lvp_ok -eq 0 ] && [ ! -f /etc/apt/sources.list.d/bookworm-backports.sources ] && grep -rqs bookworm /etc/apt/sources.list /etc/apt/sources.list.d/; then
  $SUDO tee /etc/apt/sources.list.d/bookworm-backports.sources >/dev/null <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
[ ${#need[@]} -eq 0 ] || $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
if [ $lvp_ok -eq 0 ]; then
  $SUDO apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers >/dev/null ||
    echo "install-system-deps: Mesa lavapipe from bookworm-backports unavailable; the f16 kernel path will not be tested" >&2
fi
