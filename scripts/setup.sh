#!/usr/bin/env bash
# Install what wharfie needs on a fresh Debian 12 machine (idempotent; run as root).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(busybox-static python3-venv tini runc debootstrap docker-registry apache2-utils nftables skopeo)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'
