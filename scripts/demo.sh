#!/usr/bin/env bash
# The main job: start wharfied (if it is not running), load a busybox image made from
# Debian's busybox-static, and list it — through the wharfie CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

SOCK=${WHARFIE_SOCK:-/run/wharfie/wharfie.sock}
export DOCKER_HOST=unix://$SOCK
if ! .venv/bin/wharfie version >/dev/null 2>&1; then
  mkdir -p /var/log/wharfie
  nohup .venv/bin/wharfied -H "unix://$SOCK" >>/var/log/wharfie/wharfied.log 2>&1 &
  for _ in $(seq 100); do
    .venv/bin/wharfie version >/dev/null 2>&1 && break
    sleep 0.1
  done
  echo "wharfied started (pid $!, log /var/log/wharfie/wharfied.log; stop it with: kill \$(cat /run/wharfie/wharfied.pid))"
fi

archive=$(mktemp --suffix=.tar)
trap 'rm -f "$archive"' EXIT
.venv/bin/python tools/imagegen.py busybox "$archive" --tag busybox:latest >/dev/null
.venv/bin/wharfie load -i "$archive"
.venv/bin/wharfie images
