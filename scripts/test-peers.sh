#!/usr/bin/env bash
# Real peers the compatibility tests drive, besides what scripts/setup.sh installs for wharfie
# itself: Debian's docker.io (a private dockerd pushes to and pulls from `wharfie registry
# serve`) and docker-compose (a compose project against wharfied). Installing docker.io must
# not start the system dockerd, whose iptables rules would change the host's forwarding: a
# policy-rc.d that refuses service starts covers the install. Idempotent; run as root.
set -euo pipefail
PEERS=(docker.io docker-compose)
missing=()
for p in "${PEERS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
guard=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  guard=/usr/sbin/policy-rc.d
  printf '#!/bin/sh\nexit 101\n' > "$guard"
  chmod 755 "$guard"
fi
trap '[ -z "$guard" ] || rm -f "$guard"' EXIT
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
