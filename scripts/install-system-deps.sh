#!/usr/bin/env bash
# Debian packages Flowscope's build, tests and sample generator use. Idempotent; needs root.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
pkgs=(libpcap-dev tshark tcpdump chromium iproute2 nftables python3)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
