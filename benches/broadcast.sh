#!/usr/bin/env bash
# WebSocket broadcast: one publisher, many subscribers, through weir's
# pub/sub relay (/ws/pubsub/:topic), the figures of BENCHMARKS.md
# "WebSocket broadcast".
#
#   cargo build --release --bin weir && benches/broadcast.sh 10 50 100 200
#
# Arguments: publish rates (messages per second), one 10 s run each.
# Env: WEIR (binary), SUBSCRIBERS (10000), SIZE (64), SHARDS (2, the
# server's), THREADS (2, the bench's), DURATION (10s), PORT (18090).
#
# Prints the server's VmRSS idle, with SUBSCRIBERS idle subscribed
# connections (`weir bench --hold`, each upgraded and subscribed), and during
# each run; then each run's delivered rate, latency and drops. Every load is
# bounded in time; only the server this script started is signalled.
set -euo pipefail

WEIR=${WEIR:-${CARGO_TARGET_DIR:-target}/release/weir}
SUBSCRIBERS=${SUBSCRIBERS:-10000}
SIZE=${SIZE:-64}
SHARDS=${SHARDS:-2}
THREADS=${THREADS:-2}
DURATION=${DURATION:-10s}
PORT=${PORT:-18090}
URL=ws://127.0.0.1:$PORT/ws/pubsub/t
OUT=$(mktemp -d /tmp/weir-broadcast.XXXXXX)

# Each side holds SUBSCRIBERS descriptors.
ulimit -n "$(ulimit -Hn)"
rss() { awk '/VmRSS/ { print $2 " kB" }' "/proc/$1/status"; }

"$WEIR" --threads "$SHARDS" --listen "127.0.0.1:$PORT" >"$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true' EXIT
sleep 0.5
echo "server idle:                        $(rss "$SERVER")"

timeout 120 "$WEIR" bench "$URL" --hold "$SUBSCRIBERS" -d 6s >"$OUT/hold.log" 2>&1 &
HOLD=$!
for _ in $(seq 1 300); do grep -q holding "$OUT/hold.log" && break; sleep 0.2; done
sleep 1
echo "server, $SUBSCRIBERS idle subscribers: $(rss "$SERVER")   ($(cat "$OUT/hold.log"))"
wait "$HOLD"

for RATE in "$@"; do
    timeout 120 "$WEIR" bench "$URL" --subscribers "$SUBSCRIBERS" --publish-rate "$RATE" \
        --size "$SIZE" -d "$DURATION" -t "$THREADS" --json >"$OUT/run-$RATE.json" &
    BENCH=$!
    sleep 9
    echo "server during $RATE msg/s:           $(rss "$SERVER")"
    wait "$BENCH"
    python3 - "$OUT/run-$RATE.json" "$RATE" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
lat = r["latency_us"]
print(f"  {sys.argv[2]} msg/s: published {r['publish_rate']:.1f}/s, delivered {r['delivery_rate']:,.0f}/s "
      f"in {r['delivery_s']:.2f} s, p50 {lat['p50']:,.0f} µs, p99 {lat['p99']:,.0f} µs, "
      f"p99.9 {lat['p99.9']:,.0f} µs, drops {r['drops']:,} (gaps {r['gaps']:,}), errors {r['errors_total']}")
PY
done
echo "JSON reports in $OUT"
