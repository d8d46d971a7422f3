#!/usr/bin/env bash
# Static files, side by side: weir vs nginx, each pinned to CPU 0, wrk on CPU 1.
#
#   cargo build --release && benches/static_bench.sh
#
# Env: WEIR (binary), DURATION (10s), CONNS (64), RUNS (3), PORT_WEIR (18080), PORT_NGINX (18081).
# Prints one line per run and the medians; both servers serve the same two
# files (4 KiB and 1 MiB of random bytes) from the same directory.
#
# Besides wrk's rates it records the server's CPU time per request
# (utime+stime from /proc/PID/stat, nginx: its worker): on a machine where
# other work competes for CPU 0, that figure stays comparable when the
# rates do not.
set -euo pipefail

WEIR=${WEIR:-${CARGO_TARGET_DIR:-target}/release/weir}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
RUNS=${RUNS:-3}
PORT_WEIR=${PORT_WEIR:-18080}
PORT_NGINX=${PORT_NGINX:-18081}

DIR=$(mktemp -d /tmp/weir-static-bench.XXXXXX)
mkdir -p "$DIR/www" "$DIR/logs"
head -c 4096 /dev/urandom >"$DIR/www/4k.bin"
head -c 1048576 /dev/urandom >"$DIR/www/1m.bin"
chmod -R a+rX "$DIR"

cat >"$DIR/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $DIR/nginx.pid;
error_log $DIR/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000000;
    keepalive_timeout 120s;
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$PORT_NGINX;
        root $DIR/www;
    }
}
CONF

PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$DIR"
}
trap cleanup EXIT

taskset -c 0 "$WEIR" --threads 1 --no-builtin all --root "$DIR/www" --listen "127.0.0.1:$PORT_WEIR" >/dev/null &
PIDS+=($!)
taskset -c 0 nginx -p "$DIR" -c "$DIR/nginx.conf" &
PIDS+=($!)
sleep 1
NGINX_WORKER=$(pgrep -P "${PIDS[1]}" | head -1)
curl -sf -o /dev/null "http://127.0.0.1:$PORT_WEIR/4k.bin"
curl -sf -o /dev/null "http://127.0.0.1:$PORT_NGINX/4k.bin"

# wrk prints "Requests/sec:  N" and "Transfer/sec:  X.YZMB"; bytes/s from the latter.
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
run() { # pid port file -> "reqs/s MiB/s cpu-us/req"
    local out t0 t1
    t0=$(ticks "$1")
    out=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"$DURATION" "http://127.0.0.1:$2/$3")
    t1=$(ticks "$1")
    local rps tr n
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    n=$(awk '/requests in/ {print $1}' <<<"$out")
    tr=$(awk '/Transfer\/sec/ {print $2}' <<<"$out")
    # normalise the transfer rate to MiB/s
    case "$tr" in
        *GB) tr=$(awk -v v="${tr%GB}" 'BEGIN{printf "%.1f", v*1024}') ;;
        *MB) tr=${tr%MB} ;;
        *KB) tr=$(awk -v v="${tr%KB}" 'BEGIN{printf "%.3f", v/1024}') ;;
    esac
    echo "$rps $tr $(awk -v t=$((t1 - t0)) -v n="$n" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.2f", t*1e6/hz/n}')"
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A RPS MBS CPU
for file in 4k.bin 1m.bin; do
    for i in $(seq 1 "$RUNS"); do
        for server in weir nginx; do
            port=$PORT_WEIR pid=${PIDS[0]}
            [ "$server" = nginx ] && port=$PORT_NGINX pid=$NGINX_WORKER
            read -r rps mbs cpu < <(run "$pid" "$port" "$file")
            echo "run $i  $file  $server  req/s=$rps  MiB/s=$mbs  cpu-us/req=$cpu"
            RPS[$server.$file]+="$rps "
            MBS[$server.$file]+="$mbs "
            CPU[$server.$file]+="$cpu "
        done
    done
done

echo
echo "medians of $RUNS runs ($DURATION, $CONNS connections, keep-alive):"
for file in 4k.bin 1m.bin; do
    w=$(tr ' ' '\n' <<<"${RPS[weir.$file]}" | grep . | median)
    n=$(tr ' ' '\n' <<<"${RPS[nginx.$file]}" | grep . | median)
    wm=$(tr ' ' '\n' <<<"${MBS[weir.$file]}" | grep . | median)
    nm=$(tr ' ' '\n' <<<"${MBS[nginx.$file]}" | grep . | median)
    wc=$(tr ' ' '\n' <<<"${CPU[weir.$file]}" | grep . | median)
    nc=$(tr ' ' '\n' <<<"${CPU[nginx.$file]}" | grep . | median)
    printf "%-7s weir %9s req/s %8s MiB/s %7s cpu-us/req | nginx %9s req/s %8s MiB/s %7s cpu-us/req | rate ratio %.3f, cpu ratio (nginx/weir) %.3f\n" \
        "$file" "$w" "$wm" "$wc" "$n" "$nm" "$nc" "$(awk -v a="$w" -v b="$n" 'BEGIN{print a/b}')" "$(awk -v a="$nc" -v b="$wc" 'BEGIN{print a/b}')"
done
