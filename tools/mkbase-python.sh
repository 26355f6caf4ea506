#!/usr/bin/env bash
# Make a local `python:3.11-slim` base image (there is no Docker Hub here): a minimal Debian 12
# root from debootstrap plus Debian's python3 and pip, behaving like the official image for the
# things the seed scenario needs (`pip3 install` works system-wide, python3 on PATH).
#
#   tools/mkbase-python.sh OUT.tar        # writes a rootfs tarball (cached by the caller)
#
# Then: wharfie import --change 'CMD ["python3"]' --change 'ENV LANG=C.UTF-8' OUT.tar python:3.11-slim
set -euo pipefail
out=${1:?usage: $0 OUT.tar}
mirror=${DEBIAN_MIRROR:-$(grep -h '^URIs:' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1 | awk '{print $2}')}
mirror=${mirror:-http://deb.debian.org/debian}
command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }

root=$(mktemp -d /var/tmp/wharfie-pybase.XXXXXX)
trap 'umount -l "$root/proc" 2>/dev/null || true; rm -rf "$root"' EXIT
debootstrap --variant=minbase --include=python3,python3-pip,python3-venv,ca-certificates \
  bookworm "$root" "$mirror" >/dev/null
# The official image's pip installs system-wide; Debian's refuses (PEP 668) unless told not to.
rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED
printf '[global]\nbreak-system-packages = true\n' > "$root/etc/pip.conf"
# Trust what this machine trusts: where the network to the package indexes goes through a TLS
# proxy with its own CA, pip in the image must accept it too.
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
fi
# Containers resolve names through the engine's resolv.conf; keep the image's neutral.
: > "$root/etc/resolv.conf"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar --numeric-owner --xattrs -C "$root" -cf "$out.tmp" .
mv "$out.tmp" "$out"
echo "$out"
