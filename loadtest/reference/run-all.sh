#!/usr/bin/env bash
# The measurement series of docs/benchmarks.md, one scenario after another,
# with the generator pinned to core 1. Start the server under test first (on
# core 0) with its script in this folder; then:
#
#   loadtest/reference/run-all.sh hearth   [OUT_DIR]   # loadtest/reference/hearth/serve.sh
#   loadtest/reference/run-all.sh socketio [OUT_DIR]   # loadtest/reference/socketio/start.sh
#   loadtest/reference/run-all.sh nats     [OUT_DIR]   # loadtest/reference/nats/start.sh
#
# Every run writes OUT_DIR/<name>.json and .svg. Build first:
#   cargo build --release -p hearth-loadtest --bin hearth-loadtest
set -euo pipefail
cd "$(dirname "$0")/../.."
TARGET=${1:?hearth, socketio or nats}
OUT=${2:-docs/bench}
mkdir -p "$OUT"
LT=${LT:-target/release/hearth-loadtest}
case "$TARGET" in
  hearth) ADDR=127.0.0.1:8080 ;;
  socketio) ADDR=127.0.0.1:3000 ;;
  nats) ADDR=127.0.0.1:4223 ;;
  *) echo "unknown target $TARGET" >&2; exit 2 ;;
esac
# The server's pid: whoever listens on the port.
PID=$(ss -Hltnp "sport = :${ADDR##*:}" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
[ -n "$PID" ] || { echo "nothing listens on $ADDR: start the server first" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"
run() {
  local name=$1; shift
  echo "== $TARGET $name ($(date -u +%FT%TZ))"
  taskset -c 1 "$LT" --quiet --target "$TARGET" --addr "$ADDR" --server-pid "$PID" \
    --state "${STATE:-/tmp/hearth-loadtest-state-$TARGET.json}" \
    --json "$OUT/$TARGET-$name.json" --svg "$OUT/$TARGET-$name.svg" "$@"
}
# Fan-out, 1k readers: 200k and 400k deliveries/s offered, 100-byte messages.
run fanout-1k-200 fanout --readers 1000 --senders 4 --rate 200 --duration 20
run fanout-1k-400 fanout --readers 1000 --senders 4 --rate 400 --duration 20
# The message-rate curve: ramp until p99 > 100 ms or deliveries fall short.
run ramp-1k ramp --readers 1000 --start-rate 25 --factor 1.4 --step-secs 5 --max-steps 14
[ "$TARGET" = hearth ] || exit 0
# Reader scaling at a fixed ~300k deliveries/s offered.
run fanout-10k fanout --readers 10000 --senders 4 --rate 30 --duration 20
run fanout-19k fanout --readers 19000 --senders 4 --rate 16 --duration 20
run connect-10k connect --clients 10000
STATE=/tmp/hearth-loadtest-state-chat.json run chat chat --users 3000 --guilds 80 --large 2 --large-size 1000 --rate 200 --duration 20
# Memory per session needs a fresh server process (the allocator keeps what
# earlier runs used): restart the server, then run this one on its own:
#   run idle-19k idle --sessions 19000 --hold 90
