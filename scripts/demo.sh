#!/usr/bin/env bash
# The main job on its built-in default: decode the bundled captures with icegw's codec.
set -euo pipefail
cd "$(dirname "$0")/.."
pcap=${1:-tests/data/rfc5769.pcap}
echo "== icegw: STUN decode of $pcap"
build/tools/icegw-stundump -p VOkJxbRl1RmTxUk/WvJxBt "$pcap"
