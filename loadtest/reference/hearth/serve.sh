#!/usr/bin/env bash
# Start the Hearth server the way docs/benchmarks.md measures it: one worker
# pinned to core 0, per-IP limits and rate limits raised (every client comes
# from 127.0.0.x), cheap password hashing (only setup logs in), warnings-only
# logs (an access-log line per setup request would cost CPU).
#
#   loadtest/reference/hearth/serve.sh [PORT] [DATA_DIR] [extra hearth flags...]
#
# Build first: cargo build --release --bin hearth
set -euo pipefail
cd "$(dirname "$0")/../../.."
PORT=${1:-8080}
DATA=${2:-/tmp/hearth-bench}
shift $(( $# > 2 ? 2 : $# ))
ulimit -n "$(ulimit -Hn)"
exec taskset -c 0 target/release/hearth serve \
  --bind "127.0.0.1:$PORT" --data "$DATA" --workers 1 \
  --rate-limit-scale 10000 --max-connections-per-ip 1000000 \
  --argon2-memory-kib 256 --argon2-iterations 1 \
  --log-level warn "$@"
