#!/usr/bin/env python3
"""Async handlers: what they cost, measured against an inline handler.

    cargo build --release --bin weir --example async_api
    python3 benches/async.py                    # 5 rounds of 8 s per route
    python3 benches/async.py --rounds 3 --duration 5 --pending 10000

Server: examples/async_api.rs, one shard, pinned to core 0; load: `weir
bench` pinned to core 1, on 127.0.0.1 (the rules of CONTRIBUTING.md,
"Benchmark": never while anything builds).

1. Server CPU per request, the same trivial answer ("Hello, World!")
   four ways, interleaved round by round so that all face the same machine:
     /inline       an inline handler (the baseline)
     /async        an async handler whose future is ready at once
                   (answered at dispatch: box + poll, no task)
     /async-yield  an async handler that waits once (task::yield_now):
                   parked, woken, polled again in the shard's on_turn
     /tokio        tokio_handler: the future on the tokio runtime, its
                   answer back through the shard's inbox
   CPU is utime + stime of the server process (all its threads: the tokio
   workers count too) from /proc/PID/stat, divided by the requests `weir
   bench` completed. Printed: the median and the min-max over the rounds,
   and each mode's overhead over /inline.
2. Memory per pending async request: RSS of the server with N requests
   sleeping in /sleep (pipelined, 100 per connection, over N/100
   connections), minus its RSS before, divided by N. Connections count in
   it: the idle-connection figure (BENCHMARKS.md) is ~0.2 KiB each.
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from suite import proc_stat_fields, rss_kib  # noqa: E402  (the suite's own /proc readers)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
WEIR = os.path.join(TARGET, "release", "weir")
SERVER = os.path.join(TARGET, "release", "examples", "async_api")
ROUTES = ["/inline", "/async", "/async-yield", "/tokio"]
TICK = os.sysconf("SC_CLK_TCK")


def pinned(core, cmd):
    return ["taskset", "-c", str(core)] + cmd if os.cpu_count() and os.cpu_count() > 1 else cmd


def cpu_seconds(pid):
    """utime + stime of the server process (all its threads): fields 14, 15."""
    fields = proc_stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / TICK


def start_server():
    proc = subprocess.Popen(pinned(0, [SERVER, "127.0.0.1:0", "1"]), stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if "listening on http://" not in line:
        proc.kill()
        raise RuntimeError(f"the server did not start: {line!r}")
    addr = line.split("http://", 1)[1].strip().rstrip("/")
    return proc, addr


def load(addr, route, duration, connections, pipeline):
    cmd = pinned(1, [WEIR, "bench", "--json", "-t", "1", "-c", str(connections), "--pipeline", str(pipeline),
                     "-d", f"{duration}s", f"http://{addr}{route}"])
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=True).stdout
    return json.loads(out)


def completed(report):
    """Responses the run completed (`weir bench --json`, src/bench/report.rs)."""
    return report["completed"]


def cpu_per_request(opts):
    proc, addr = start_server()
    try:
        for route in ROUTES:  # warm up every path (the tokio runtime starts lazily)
            load(addr, route, 1, opts.connections, opts.pipeline)
        samples = {r: [] for r in ROUTES}
        for i in range(opts.rounds):
            for route in ROUTES:
                before = cpu_seconds(proc.pid)
                report = load(addr, route, opts.duration, opts.connections, opts.pipeline)
                used = cpu_seconds(proc.pid) - before
                n = completed(report)
                samples[route].append(used * 1e6 / n)
                print(f"round {i + 1} {route:13} {n:>9} requests  {used * 1e6 / n:7.3f} us/request", file=sys.stderr)
    finally:
        proc.kill()
        proc.wait()
    base = statistics.median(samples["/inline"])
    print(f"\nServer CPU per request (us), {opts.rounds} rounds of {opts.duration} s, "
          f"{opts.connections} connections, pipeline {opts.pipeline}:")
    print(f"{'route':14} {'median':>8} {'min-max':>17} {'vs inline':>10}")
    for route in ROUTES:
        s = samples[route]
        med = statistics.median(s)
        print(f"{route:14} {med:8.3f} {min(s):8.3f}-{max(s):<8.3f} {100 * (med / base - 1):+9.1f}%")


def pending_memory(opts):
    proc, addr = start_server()
    host, port = addr.rsplit(":", 1)
    conns = []
    try:
        # Lazily made state (the shard's buffers) is not charged to the requests.
        s = socket.create_connection((host, int(port)))
        s.sendall(b"GET /sleep?ms=1 HTTP/1.1\r\nHost: b\r\n\r\n")
        s.recv(4096)
        s.close()
        time.sleep(0.5)
        before = rss_kib(proc.pid)
        per_conn = 100
        burst = b"GET /sleep?ms=60000 HTTP/1.1\r\nHost: b\r\n\r\n" * per_conn
        for _ in range(opts.pending // per_conn):
            c = socket.create_connection((host, int(port)))
            c.sendall(burst)
            conns.append(c)
        time.sleep(3.0)  # every request read and parked (no answer comes for 60 s)
        after = rss_kib(proc.pid)
    finally:
        for c in conns:
            c.close()
        proc.kill()
        proc.wait()
    n = len(conns) * per_conn
    print(f"\nMemory: {n} pending /sleep requests over {len(conns)} connections: "
          f"RSS {before} -> {after} KiB, {(after - before) * 1024 / n:.0f} B per pending request")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=int, default=8, help="seconds per measured run")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--pipeline", type=int, default=1)
    ap.add_argument("--pending", type=int, default=10000, help="sleeping requests for the memory figure")
    ap.add_argument("--no-cpu", action="store_true")
    ap.add_argument("--no-memory", action="store_true")
    opts = ap.parse_args()
    for path in (WEIR, SERVER):
        if not os.path.exists(path):
            sys.exit(f"{path} is missing: cargo build --release --bin weir --example async_api")
    if not opts.no_cpu:
        cpu_per_request(opts)
    if not opts.no_memory:
        pending_memory(opts)


if __name__ == "__main__":
    main()
