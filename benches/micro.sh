#!/bin/sh
# Every criterion micro-benchmark of the workspace, with short measurement
# times: the HTTP parser vs httparse and the router (http/benches/parser.rs),
# the WebSocket codec and masking (ws/benches/codec.rs), the timer wheel,
# write queue and slab (reactor/benches/reactor.rs).
# Usage: benches/micro.sh [criterion filter]   e.g. benches/micro.sh timer
set -eu
cd "$(dirname "$0")/.."
exec cargo bench --workspace --bench parser --bench codec --bench reactor -- --warm-up-time 1 --measurement-time 3 "$@"
