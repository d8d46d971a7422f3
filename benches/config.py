#!/usr/bin/env python3
"""What the configuration file costs: the same binary run from flags and
from a realistic `weir.toml`, side by side in one run, and what a reload
costs.

    cargo build --release --bin weir
    python3 benches/config.py                         # 3 interleaved rounds of 8 s
    python3 benches/config.py --rounds 5 --duration 8 --reloads 50

The rules of CONTRIBUTING.md, "Benchmark": never while anything builds;
the server (one shard) pinned to core 0, `weir bench` (one thread) to
core 1, loopback only.

1. Server CPU per request and requests per second, two workloads, two
   servers, interleaved round by round:
     plaintext  GET /ping (the built-in), 64 keep-alive connections
     static-4k  GET /4k.bin, 64 keep-alive connections
   "flags":  weir --listen ... --threads 1 --root DIR   (no site: the
             HTTP/1 path as it was, one branch more)
   "config": weir --config realistic.toml: 10 virtual hosts (exact and
             wildcard names), 30 locations per the served host's share
             (exact, prefix, priority prefix and 8 regexes tried before the
             match), host-level header rules, and a rate limit by client
             address checked on every request (set high enough never to
             refuse: its cost is the lookup, and `getpeername`).
   The request's Host is the last host of the ten, so host selection
   walks the exact table and the wildcards. Goal (issue 13): under 5 %
   more CPU per request.
2. Reload: with 64 connections loading the config server, SIGHUP N times
   (one every 200 ms), alternating two valid versions of the file; reports
   the time from the signal to weir's "reloaded ... in X ms" line (and the
   X weir measured itself), and the load's errors across all the reloads
   (64 requests are in flight at every instant: `-c 64`, one each).

Output: a table on stdout, benches/results/config.json.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from suite import (CLK_TCK, REPO, RESULTS, WEIR, bench, free_port, log, pinned,  # noqa: E402
                   tree_cpu_ticks, wait_port)

HOSTS = 10
LOCATIONS = 30


def realistic_toml(port, root, version="a"):
    """10 hosts; the last, `bench.test`, is the one requests name."""
    out = [f"""
[builtins]
enable = ["ping"]
[[rate_limit]]
name = "per-ip"
rate = "100000000/s"
burst = 1000000
[[listener]]
address = "127.0.0.1:{port}"
"""]
    for h in range(HOSTS):
        names = f'["site{h}.example", "*.site{h}.example"]' if h < HOSTS - 1 else '["bench.test", "127.0.0.1"]'
        out.append(f"""
[[host]]
names = {names}
rate_limit = "per-ip"
headers = {{ set = {{ "X-Frame-Options" = "DENY" }}, remove = ["X-Powered-By"] }}
""")
        # 30 locations: 10 exact, 8 regexes (none matching /ping or
        # /4k.bin, so all are tried), 10 prefixes, 2 priority prefixes.
        for i in range(10):
            out.append(f'[[host.location]]\nexact = "/old-{version}-{i}"\nreturn = {{ status = 301, location = "/new/{i}" }}\n')
        for i in range(8):
            out.append(f"[[host.location]]\nregex = '^/api/v{i}/(\\w+)/(\\d+)$'\nrewrite = [{{ from = '^/api/v{i}/(\\w+)/(\\d+)$', to = \"/items/$1?id=$2\" }}]\n")
        for i in range(10):
            out.append(f'[[host.location]]\nprefix = "/section{i}/"\nroot = "{root}"\n')
        out.append(f'[[host.location]]\npriority_prefix = "/assets/"\nalias = "{root}"\n')
        out.append('[[host.location]]\nexact = "/ping"\napp = true\n')
        out.append(f'[[host.location]]\nprefix = "/"\nroot = "{root}"\n')
    return "".join(out)


class Weir:
    def __init__(self, cmd, port):
        self.cmd, self.port, self.proc, self.lines = cmd, port, None, []

    def __enter__(self):
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._read, daemon=True).start()
        wait_port(self.port, self.proc)
        return self

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def measure(srv, path, duration, cores):
    url = f"http://127.0.0.1:{srv.port}{path}"
    args = ["-c", "64", "-H", "Host: bench.test"]
    bench(args + ["-d", "1s", url], cores, 30)
    before = tree_cpu_ticks(srv.proc.pid)
    r = bench(args + ["-d", f"{duration}s", url], cores, duration + 30)
    ticks = tree_cpu_ticks(srv.proc.pid) - before
    r["cpu_us_per_req"] = ticks / CLK_TCK * 1e6 / r["completed"] if r["completed"] else None
    return r


def reloads(tmp, root, n, cores):
    port = free_port()
    path = os.path.join(tmp, "reload.toml")
    with open(path, "w") as f:
        f.write(realistic_toml(port, root, "a"))
    cmd = pinned(0, [WEIR, "--threads", "1", "--config", path], cores)
    out = {"signal_to_line_ms": [], "weir_ms": [], "errors": None}
    with Weir(cmd, port) as srv:
        load = subprocess.Popen(pinned(1, [WEIR, "bench", "--json", "-t", "1", "-c", "64", "-H", "Host: bench.test",
                                           "-d", f"{n * 0.2 + 3:.1f}s", f"http://127.0.0.1:{port}/ping"], cores),
                                stdout=subprocess.PIPE, text=True)
        time.sleep(1)
        for i in range(n):
            with open(path, "w") as f:
                f.write(realistic_toml(port, root, "b" if i % 2 == 0 else "a"))
            seen = len(srv.lines)
            t0 = time.monotonic()
            srv.proc.send_signal(signal.SIGHUP)
            deadline = t0 + 10
            while time.monotonic() < deadline:
                new = [(t, l) for t, l in srv.lines[seen:] if l.startswith("weir: reload")]
                if new:
                    t, line = new[0]
                    if "reloaded" not in line:
                        raise RuntimeError(line)
                    out["signal_to_line_ms"].append((t - t0) * 1e3)
                    out["weir_ms"].append(float(line.split(" in ")[1].split(" ms")[0]))
                    break
                time.sleep(0.001)
            else:
                raise RuntimeError("no reload line within 10 s")
            time.sleep(0.2)
        r = json.loads(load.communicate(timeout=120)[0])
        out["errors"] = r["errors_total"]
        out["completed"] = r["completed"]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--reloads", type=int, default=20)
    opts = ap.parse_args()
    if not os.path.exists(WEIR):
        sys.exit(f"{WEIR} missing: cargo build --release --bin weir")
    cores = os.cpu_count() or 1
    results = {}
    with tempfile.TemporaryDirectory(prefix="weir-config-bench-") as tmp:
        root = os.path.join(tmp, "www")
        os.makedirs(root)
        with open(os.path.join(root, "4k.bin"), "wb") as f:
            f.write(os.urandom(4096))
        for rnd in range(opts.rounds):
            order = ["flags", "config"] if rnd % 2 == 0 else ["config", "flags"]
            for name in order:
                port = free_port()
                if name == "flags":
                    cmd = [WEIR, "--listen", f"127.0.0.1:{port}", "--threads", "1", "--root", root]
                else:
                    conf = os.path.join(tmp, f"realistic-{port}.toml")
                    with open(conf, "w") as f:
                        f.write(realistic_toml(port, root))
                    cmd = [WEIR, "--threads", "1", "--config", conf]
                with Weir(pinned(0, cmd, cores), port) as srv:
                    for wl, path in (("plaintext", "/ping"), ("static-4k", "/4k.bin")):
                        r = measure(srv, path, opts.duration, cores)
                        results.setdefault(wl, {}).setdefault(name, []).append(r)
                        log(f"round {rnd + 1}/{opts.rounds}  {name:<6} {wl:<9} {r['rate']:>10.0f}/s  "
                            f"errors {r['errors_total']}  {r['cpu_us_per_req']:.3f} µs CPU/req")
        rl = reloads(tmp, root, opts.reloads, cores)

    print(f"\n{'workload':<10} {'server':<7} {'req/s (median, min-max)':<28} {'CPU µs/req (median, min-max)':<30}")
    summary = {}
    for wl, by in results.items():
        for name, runs in by.items():
            rates = [r["rate"] for r in runs]
            cpus = [r["cpu_us_per_req"] for r in runs]
            summary.setdefault(wl, {})[name] = {"rate": statistics.median(rates), "cpu": statistics.median(cpus)}
            print(f"{wl:<10} {name:<7} {statistics.median(rates):>10.0f} ({min(rates):.0f}-{max(rates):.0f}){'':<4}"
                  f"{statistics.median(cpus):>8.3f} ({min(cpus):.3f}-{max(cpus):.3f})")
        f, c = summary[wl]["flags"], summary[wl]["config"]
        print(f"{wl:<10} config/flags: CPU per request {c['cpu'] / f['cpu']:.3f}, rate {c['rate'] / f['rate']:.3f}")
    ms = rl["signal_to_line_ms"]
    print(f"\nreloads: {len(ms)}, SIGHUP to 'reloaded' line: median {statistics.median(ms):.1f} ms "
          f"(min {min(ms):.1f}, max {max(ms):.1f}); weir's own figure: median {statistics.median(rl['weir_ms']):.0f} ms; "
          f"64 requests in flight throughout; {rl['completed']} completed, {rl['errors']} errors")
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "config.json"), "w") as f:
        json.dump({"runs": results, "summary": summary, "reloads": rl}, f, indent=1)


if __name__ == "__main__":
    main()
