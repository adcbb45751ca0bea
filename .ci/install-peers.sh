#!/usr/bin/env bash
# Installs the third-party clients and servers the tests talk to (Debian 12, as root).
# Safe to run again. The benchmark in bench/ installs the peer servers it needs itself.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  tftp-hpa atftp curl openssl busybox sox iproute2 procps ca-certificates dnsmasq-base \
  udhcpc isc-dhcp-client dhcpcd-base python3-scapy sip-tester baresip-core nftables \
  chromium >/dev/null
# The machine's Node.js and npm (a NodeSource nodejs carries npm and conflicts
# with Debian's); Debian's when it has none.
if ! command -v npm >/dev/null; then
  apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
# The dashboard's browser test drives Debian's chromium with playwright-core
# (the version pinned in its package-lock.json; it downloads no browser).
npm ci --ignore-scripts --no-audit --no-fund --prefix "$(dirname "$0")/../crates/phoneprov/tests/browser" >/dev/null
echo "peers installed: $(command -v tftp atftp curl openssl busybox sox dnsmasq udhcpc dhclient dhcpcd sipp baresip chromium node | tr '\n' ' ')"
