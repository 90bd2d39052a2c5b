#!/usr/bin/env bash
# Install (npm ci, from package-lock.json) and start the Socket.IO reference
# server pinned to core 0, as docs/benchmarks.md measures it.
#   loadtest/reference/socketio/start.sh [PORT]
set -euo pipefail
cd "$(dirname "$0")"
[ -d node_modules ] || npm ci --no-audit --no-fund
ulimit -n "$(ulimit -Hn)"
exec taskset -c 0 node server.js "${1:-3000}"
