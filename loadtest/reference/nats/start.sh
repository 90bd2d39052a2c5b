#!/usr/bin/env bash
# Start nats-server (Debian: apt-get install nats-server) with its WebSocket
# listener on 127.0.0.1:4223, pinned to core 0 with one OS thread for Go
# (GOMAXPROCS=1), as docs/benchmarks.md measures it.
#   loadtest/reference/nats/start.sh
set -euo pipefail
cd "$(dirname "$0")"
command -v nats-server >/dev/null || { echo "install it: apt-get install nats-server" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"
GOMAXPROCS=1 exec taskset -c 0 nats-server -c nats.conf
