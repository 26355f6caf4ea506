#!/usr/bin/env bash
# Install everything and run the whole test suite (as root: the tests start real daemons).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/test-peers.sh
exec .venv/bin/pytest -q -p no:cacheprovider tests "$@"
