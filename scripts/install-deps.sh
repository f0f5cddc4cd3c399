#!/usr/bin/env bash
# Install what icegw needs from Debian's archive; quiet and fast when all is there.
# usage: scripts/install-deps.sh build|test
set -euo pipefail
profile=${1:-build}

build_pkgs=(gcc pkg-config meson ninja-build python3 libssl-dev zlib1g-dev libpcap-dev
            libnuma-dev libdpdk-dev dpdk libcmocka-dev)
test_pkgs=(clang libclang-rt-14-dev tshark libnice-dev libglib2.0-dev python3-scapy
           python3-aioice iproute2 ethtool coturn kamailio dpdk-dev)

pkgs=("${build_pkgs[@]}")
[ "$profile" = test ] && pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages: ${missing[*]}; run as root or install them" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no without a prompt
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
