#!/usr/bin/env bash
# The main job, the seed scenario from nothing: start wharfied (if it is not running), make the
# base images locally when missing (busybox from Debian's busybox-static; python:3.11-slim
# from debootstrap — there is no Docker Hub here), build examples/draw, run it with ./out
# mounted, and show the plot. A second run reuses the base image and the build cache.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

SOCK=${WHARFIE_SOCK:-/run/wharfie/wharfie.sock}
export DOCKER_HOST=unix://$SOCK
W=.venv/bin/wharfie
if ! $W version >/dev/null 2>&1; then
  mkdir -p /var/log/wharfie
  nohup .venv/bin/wharfied -H "unix://$SOCK" >>/var/log/wharfie/wharfied.log 2>&1 &
  for _ in $(seq 100); do
    $W version >/dev/null 2>&1 && break
    sleep 0.1
  done
  echo "wharfied started (log /var/log/wharfie/wharfied.log; stop it: kill \$(cat /run/wharfie/wharfied.pid))"
fi

if ! $W image inspect busybox:latest >/dev/null 2>&1; then
  archive=$(mktemp --suffix=.tar)
  .venv/bin/python tools/imagegen.py busybox "$archive" --tag busybox:latest >/dev/null
  $W load -i "$archive"
  rm -f "$archive"
fi

if ! $W image inspect python:3.11-slim >/dev/null 2>&1; then
  cache=/var/cache/wharfie/python-3.11-slim.tar
  mkdir -p "$(dirname "$cache")"
  if [ ! -s "$cache" ]; then
    echo "making python:3.11-slim with debootstrap (a few minutes, once)…"
    tools/mkbase-python.sh "$cache" >/dev/null
  fi
  $W import --change 'CMD ["python3"]' --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "$cache" python:3.11-slim
fi

# `wharfie build` when this checkout has it, else the real docker CLI (same daemon, same API).
if $W build --help >/dev/null 2>&1; then BUILD=$W; else BUILD=docker; fi
$BUILD build --tag draw examples/draw
mkdir -p out
cid=$($W run -d -v "$PWD/out:/out" draw)
code=$($W wait "$cid")
$W logs "$cid"
$W rm "$cid" >/dev/null
[ "$code" = 0 ] || { echo "the draw container exited with $code" >&2; exit 1; }
ls -l out/quad.png
file out/quad.png 2>/dev/null || true
