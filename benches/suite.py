#!/usr/bin/env python3
"""weir's side-by-side load benchmark: weir vs nginx (and any peer), same run.

Usage (from the repository root; see BENCHMARKS.md):

    benches/run.sh                 # full suite: 3 interleaved runs of 8 s each (~15 min)
    benches/run.sh --quick         # 1 run of 5 s each (~4 min)
    benches/run.sh --peer 'h2o=h2o -c /etc/h2o.conf'  # add a peer; {port} and {root} are substituted

Method, in short:
  * every server runs alone, pinned to core 0 (taskset), one worker/shard;
    the load generator (`weir bench`, one thread) is pinned to core 1;
    loopback only; every subprocess has a time limit.
  * rounds are interleaved: round 1 runs every server once, then round 2...
    so slow drifts of the machine hit every server alike. Medians are
    reported with the min-max spread and the ratio against nginx.
  * server CPU per request: user + system CPU time of the server's whole
    process tree (e.g. nginx master + worker, all threads) read from
    /proc/PID/stat just before and just after each measured run, divided by
    the requests (messages) that run completed. On a 2-core machine where
    the load generator takes the other core, this is the figure that says
    how much work a request costs, whatever the rate.
  * memory per idle connection: RSS of the serving process before and after
    10,000 keep-alive connections that each completed one request.
  * `--icount`: instructions per request under callgrind and syscalls per
    request under strace (see BENCHMARKS.md, "Instruction counts").
  * `--agreement`: weir bench vs wrk on the same nginx, interleaved.

Results: benches/results/latest.json, benches/results/*.svg, a table on stdout.
"""

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(REPO, "benches", "results")
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
WEIR = os.path.join(TARGET, "release", "weir")
TECHEMPOWER = os.path.join(TARGET, "release", "examples", "techempower")
PORT_BASE = 19600
IDLE_CONNS = 10_000
# Keep-alive connections for the instruction and syscall counts.
ICOUNT_CONNS = 16

# name -> (path or ws URL suffix, weir bench options); "{d}" is the duration.
WORKLOADS = [
    ("plaintext", "/plaintext", ["-c", "64"]),
    ("pipelined-16", "/plaintext", ["-c", "64", "--pipeline", "16"]),
    ("conn-per-request", "/plaintext", ["-c", "16", "--close"]),
    ("static-4k", "/4k.bin", ["-c", "64"]),
    ("static-1m", "/1m.bin", ["-c", "16"]),
    ("ws-echo", "ws:/ws/echo", ["-c", "64", "--size", "64", "--in-flight", "1"]),
]

NGINX_CONF = """
worker_processes 1;
daemon off;
master_process {master};
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
worker_rlimit_nofile 65536;
events {{ worker_connections 32768; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_requests 1000000000;
  keepalive_timeout 120s;
  client_body_temp_path {tmp}/nginx-body;
  proxy_temp_path {tmp}/nginx-proxy;
  fastcgi_temp_path {tmp}/nginx-fastcgi;
  uwsgi_temp_path {tmp}/nginx-uwsgi;
  scgi_temp_path {tmp}/nginx-scgi;
  types {{ application/octet-stream bin; }}
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    root {root};
    location = /plaintext {{ default_type text/plain; return 200 "Hello, World!"; }}
  }}
}}
"""


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def run(cmd, timeout, **kw):
    """Runs a command to completion within `timeout` seconds."""
    return subprocess.run(cmd, timeout=timeout, check=True, capture_output=True, text=True, **kw)


def pinned(core, cmd, cores):
    return (["taskset", "-c", str(core)] + cmd) if cores >= 2 else cmd


def ensure_tools(need_icount):
    wanted = {"nginx": "nginx", "wrk": "wrk"}
    if need_icount:
        wanted.update({"valgrind": "valgrind", "strace": "strace"})
    missing = [pkg for tool, pkg in wanted.items() if not shutil.which(tool) and not os.path.exists("/usr/sbin/" + tool)]
    if missing:
        log("installing", " ".join(missing), "with apt-get")
        subprocess.run(["apt-get", "install", "-y"] + missing, check=True, timeout=600)


def build():
    env = dict(os.environ, CARGO_TARGET_DIR=TARGET)
    for args in (["build", "--release"], ["build", "--release", "--example", "techempower"]):
        log("cargo", " ".join(args))
        subprocess.run(["cargo"] + args, cwd=REPO, env=env, check=True, timeout=1800)


def machine():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = ""
    with open("/proc/meminfo") as f:
        mem = f.readline().split(":")[1].strip()
    return {"nproc": os.cpu_count(), "kernel": platform.release(), "cpu": cpu, "memory": mem,
            "nginx": subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip(),
            "wrk": (subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.splitlines() or ["wrk"])[0].strip()}


_next_port = [PORT_BASE]


def free_port():
    """A loopback port nobody listens on. weir binds with SO_REUSEPORT, so a
    stray server on the same port would silently take half the connections:
    a plain bind (without SO_REUSEPORT) proves the port is really free."""
    import socket
    while _next_port[0] < 20000:
        port = _next_port[0]
        _next_port[0] += 1
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port in 19600-19999")


def wait_port(port, proc, timeout=10.0):
    import socket
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening on {port}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


class Server:
    """One server process, started and stopped by the suite (only its own PID is signalled)."""

    def __init__(self, name, cmd, port, worker_pid=None):
        self.name, self.cmd, self.port, self.worker_pid_fn = name, cmd, port, worker_pid
        self.proc = None

    def __enter__(self):
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, self.proc)
        return self

    def rss_pid(self):
        """The process whose memory serves connections (nginx: the worker)."""
        return self.worker_pid_fn(self.proc.pid) if self.worker_pid_fn else self.proc.pid

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


class Running:
    """A server started for one measurement (benches/tls.py, benches/h2.py):
    started at once, ready when `ready(port)` returns (default: it accepts
    TCP connections), `pid` the process whose CPU and memory count (nginx:
    its worker), stopped by signalling only its own PID. Extra keyword
    arguments become attributes (`plain=` for a second port)."""

    def __init__(self, name, cmd, port, ready=None, worker_pid=None, **extra):
        self.name, self.port = name, port
        self.__dict__.update(extra)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if ready:
            ready(port)
        else:
            wait_port(port, self.proc)
        self.pid = worker_pid(self.proc.pid) if worker_pid else self.proc.pid

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


def cpu_during(srv, fn):
    """Runs fn() (which returns the operations it did) and returns
    (operations, server CPU in µs over the call) for `srv`'s process tree."""
    before = tree_cpu_ticks(srv.proc.pid)
    ops = fn()
    after = tree_cpu_ticks(srv.proc.pid)
    return ops, (after - before) * 1e6 / CLK_TCK


def rss_per_connection(pid, open_one, n):
    """Bytes of `pid`'s RSS per connection: 16 opened first (so lazily
    built state exists), then `n` more, each by `open_one()` (which
    completes one exchange and returns the socket), held while RSS is read."""
    warm = [open_one() for _ in range(16)]
    time.sleep(0.5)
    before = rss_kib(pid) * 1024
    held = [open_one() for _ in range(n)]
    time.sleep(1.0)
    after = rss_kib(pid) * 1024
    for s in held + warm:
        s.close()
    return (after - before) / n


def nginx_worker(master_pid):
    for _ in range(50):
        try:
            kids = open(f"/proc/{master_pid}/task/{master_pid}/children").read().split()
            if kids:
                return int(kids[0])
        except OSError:
            pass
        time.sleep(0.05)
    return master_pid


# /proc/PID/stat counts CPU time in clock ticks of 1/SC_CLK_TCK s (10 ms at
# the usual 100 Hz), and the kernel may charge a tick to user or system time
# by sampling. So the runs must be long: with the load generator keeping the
# server's core mostly busy, a 5 s run (--quick) gathers 300 to 500 ticks
# and an 8 s run (the default) 500 to 800, so whole-tick rounding stays
# well under 1 %. Do not trust CPU µs/req from runs of a second or two
# (--duration); runs under MIN_CPU_TICKS (1 s of CPU) are flagged in the log.
CLK_TCK = os.sysconf("SC_CLK_TCK")
MIN_CPU_TICKS = 100


def proc_stat_fields(pid):
    """Fields 3.. of /proc/PID/stat (field N is at index N - 3). The command
    name (field 2) is in parentheses and may hold spaces, so split after the
    last ')'."""
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    return text[text.rindex(")") + 2:].split()


def tree_cpu_ticks(root_pid):
    """utime + stime (fields 14, 15) of `root_pid` and all its descendants,
    plus cutime + cstime (fields 16, 17): the time of descendants that have
    already exited and been reaped by a process of the tree, which would
    otherwise vanish between two samples. A process's fields already sum
    all its threads."""
    parent, ticks = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            f = proc_stat_fields(entry)
        except (OSError, ValueError):
            continue  # exited while we scanned
        pid = int(entry)
        parent[pid] = int(f[1])
        ticks[pid] = sum(int(f[i]) for i in (11, 12, 13, 14))
    if root_pid not in ticks:
        raise RuntimeError(f"server process {root_pid} is gone")
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += ticks.get(pid, 0)
        stack.extend(p for p, pp in parent.items() if pp == pid)
    return total


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def weir_factories(name, target, root, cores):
    """The weir servers of a build in `target` (a cargo target dir): the
    TechEmpower example for plaintext, the binary for files and WebSocket."""
    te = os.path.join(target, "release", "examples", "techempower")
    binary = os.path.join(target, "release", "weir")
    out = {
        "plain": lambda port: Server(name, pinned(0, [te, "--listen", f"127.0.0.1:{port}", "--threads", "1"], cores), port),
        "static": lambda port: Server(name, pinned(0, [binary, "--listen", f"127.0.0.1:{port}", "--threads", "1", "--root", root], cores), port),
    }
    out["ws"] = out["static"]
    return out


def servers(tmp, root, peers, cores, master="on", baseline=None):
    """name -> {workload kind -> Server factory}; kinds: plain, static, ws.
    `baseline`: a cargo target dir holding an earlier build of weir, run as
    the server "weir-before" (before/after comparisons in one run)."""
    def nginx(port):
        conf = os.path.join(tmp, f"nginx-{port}.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(tmp=tmp, port=port, root=root, master=master))
        return Server("nginx", pinned(0, ["nginx", "-e", os.path.join(tmp, "nginx-error.log"), "-c", conf], cores),
                      port, nginx_worker if master == "on" else None)

    out = {"weir": weir_factories("weir", TARGET, root, cores)}
    if baseline:
        out["weir-before"] = weir_factories("weir-before", baseline, root, cores)
    out["nginx"] = {"plain": nginx, "static": nginx}
    for name, cmd in peers:
        def factory(port, cmd=cmd, name=name):
            return Server(name, pinned(0, ["sh", "-c", "exec " + cmd.format(port=port, root=root)], cores), port)
        out[name] = {"plain": factory, "static": factory}
    return out


def kind_of(workload):
    return "ws" if workload.startswith("ws") else "static" if workload.startswith("static") else "plain"


def bench(args, cores, timeout):
    cmd = pinned(1, [WEIR, "bench", "--json", "-t", "1"] + args, cores)
    return json.loads(run(cmd, timeout).stdout)


def measure_memory(srv, cores, hold_s=12):
    """RSS growth of the serving process for IDLE_CONNS idle keep-alive connections."""
    pid = srv.rss_pid()
    # One request first, so lazily initialised state is not charged to the connections.
    bench(["-n", "100", "-c", "1", f"http://127.0.0.1:{srv.port}/plaintext"], cores, 30)
    before = rss_kib(pid)
    holder = subprocess.Popen(pinned(1, [WEIR, "bench", "--hold", str(IDLE_CONNS), "-d", f"{hold_s}s",
                                         f"http://127.0.0.1:{srv.port}/plaintext"], cores),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = holder.stdout.readline()
        if "holding" not in line:
            raise RuntimeError(f"--hold failed: {line} {holder.stderr.read()}")
        time.sleep(1.0)
        after = rss_kib(pid)
    finally:
        holder.terminate()
        holder.wait(timeout=10)
    return {"rss_before_kib": before, "rss_after_kib": after,
            "bytes_per_conn": (after - before) * 1024 / IDLE_CONNS}


def suite(opts, tmp, root, cores):
    factories = servers(tmp, root, opts.peer, cores, baseline=opts.baseline)
    names = list(factories)
    results = {}  # workload -> server -> [run json]
    memory = {}   # server -> [bytes per conn]
    for rnd in range(opts.runs):
        # Alternate the order each round so neither server always goes first.
        order = names if rnd % 2 == 0 else names[::-1]
        for name in order:
            by_kind = {}
            for wl, path, wargs in WORKLOADS:
                by_kind.setdefault(kind_of(wl), []).append((wl, path, wargs))
            for kind, wls in by_kind.items():
                if kind not in factories[name]:
                    continue
                port = free_port()
                with factories[name][kind](port) as srv:
                    for wl, path, wargs in wls:
                        url = (f"ws://127.0.0.1:{port}{path[3:]}" if path.startswith("ws:")
                               else f"http://127.0.0.1:{port}{path}")
                        # A short warm-up, then the measured run, with the
                        # server's CPU time read just around it.
                        bench(wargs + ["-d", "1s", url], cores, 30)
                        cpu_before = tree_cpu_ticks(srv.proc.pid)
                        r = bench(wargs + ["-d", f"{opts.duration}s", url], cores, opts.duration + 30)
                        ticks = tree_cpu_ticks(srv.proc.pid) - cpu_before
                        r["server_cpu_ticks"] = ticks
                        r["server_cpu_s"] = ticks / CLK_TCK
                        r["cpu_us_per_req"] = ticks / CLK_TCK * 1e6 / r["completed"] if r["completed"] else None
                        results.setdefault(wl, {}).setdefault(name, []).append(r)
                        cpu = f"{r['cpu_us_per_req']:.2f}" if r["cpu_us_per_req"] is not None else "—"
                        short = "  (few CPU ticks: run too short to trust)" if ticks < MIN_CPU_TICKS else ""
                        log(f"round {rnd + 1}/{opts.runs}  {name:<8} {wl:<17} {r['rate']:>12.0f}/s"
                            f"  p99 {r['latency_us']['p99']:.0f} µs  errors {r['errors_total']}"
                            f"  server CPU {r['server_cpu_s']:.2f} s = {cpu} µs/req{short}")
                    if kind == "plain" and not opts.no_memory:
                        m = measure_memory(srv, cores)
                        memory.setdefault(name, []).append(m)
                        log(f"round {rnd + 1}/{opts.runs}  {name:<8} memory            "
                            f"{m['bytes_per_conn']:>10.0f} B per idle connection")
    return results, memory


def cpu_median(runs):
    vals = [r["cpu_us_per_req"] for r in runs if r.get("cpu_us_per_req") is not None]
    return statistics.median(vals) if vals else None


def summarize(results, memory):
    rows = []
    for wl, _, _ in WORKLOADS:
        if wl not in results:
            continue
        base = results[wl].get("nginx")
        base_med = statistics.median(r["rate"] for r in base) if base else None
        base_cpu = cpu_median(base) if base else None
        for name, runs in results[wl].items():
            rates = [r["rate"] for r in runs]
            med = statistics.median(rates)
            cpu = cpu_median(runs)
            rows.append({
                "workload": wl, "server": name, "runs": len(runs),
                "median": med, "min": min(rates), "max": max(rates),
                "vs_nginx": (med / base_med) if base_med else None,
                "p50_us": statistics.median(r["latency_us"]["p50"] for r in runs),
                "p99_us": statistics.median(r["latency_us"]["p99"] for r in runs),
                "errors": sum(r["errors_total"] for r in runs),
                "unit": "msg/s" if wl.startswith("ws") else "req/s",
                "mib_per_s": statistics.median(r["throughput_bytes_per_s"] for r in runs) / 2**20,
                # Server CPU time per request (message): lower is better.
                "cpu_us_per_req": cpu,
                "cpu_vs_nginx": (cpu / base_cpu) if cpu is not None and base_cpu else None,
            })
    mem_rows = []
    base = memory.get("nginx")
    base_med = statistics.median(m["bytes_per_conn"] for m in base) if base else None
    for name, ms in memory.items():
        vals = [m["bytes_per_conn"] for m in ms]
        med = statistics.median(vals)
        mem_rows.append({"server": name, "median": med, "min": min(vals), "max": max(vals),
                         "vs_nginx": med / base_med if base_med else None})
    return rows, mem_rows


def fmt_table(rows, mem_rows):
    out = ["| workload | server | median | min–max | vs nginx | p50 | p99 | MiB/s | CPU µs/req | CPU vs nginx | errors |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        ratio = f"{r['vs_nginx']:.2f}×" if r["vs_nginx"] else "—"
        cpu = f"{r['cpu_us_per_req']:,.2f}" if r.get("cpu_us_per_req") is not None else "—"
        cpu_ratio = f"{r['cpu_vs_nginx']:.2f}×" if r.get("cpu_vs_nginx") else "—"
        out.append(f"| {r['workload']} | {r['server']} | {r['median']:,.0f} {r['unit']} | "
                   f"{r['min']:,.0f}–{r['max']:,.0f} | {ratio} | {r['p50_us']:,.0f} µs | {r['p99_us']:,.0f} µs | "
                   f"{r['mib_per_s']:,.1f} | {cpu} | {cpu_ratio} | {r['errors']} |")
    for m in mem_rows:
        ratio = f"{m['vs_nginx']:.2f}×" if m["vs_nginx"] else "—"
        out.append(f"| idle memory, {IDLE_CONNS:,} conns | {m['server']} | {m['median']:,.0f} B/conn | "
                   f"{m['min']:,.0f}–{m['max']:,.0f} | {ratio} | | | | | | |")
    return "\n".join(out)


# ---------------------------------------------------------------- agreement

WRK_PIPELINE_LUA = """
-- wrk: send `depth` requests per write (HTTP pipelining).
init = function(args)
  local depth = tonumber(args[1]) or 1
  local r = {}
  for i = 1, depth do r[i] = wrk.format() end
  req = table.concat(r)
end
request = function() return req end
"""


def wrk_rate(text):
    """Responses per second from wrk's output ("N requests in 3.00s")."""
    m = re.search(r"(\d+) requests in ([\d.]+)(m?s)", text)
    secs = float(m.group(2)) / (1000 if m.group(3) == "ms" else 1)
    return int(m.group(1)) / secs


def agreement(opts, tmp, root, cores):
    """weir bench vs wrk against the same nginx, for keep-alive and pipeline 16.

    Short runs in ABBA order (wrk, weir bench, weir bench, wrk, ...) so a
    drift of the machine hits both alike; besides the two medians, the
    median of the per-pair ratios is reported (robust to slow drift)."""
    lua = os.path.join(tmp, "pipeline.lua")
    with open(lua, "w") as f:
        f.write(WRK_PIPELINE_LUA)
    factories = servers(tmp, root, [], cores)
    out = []
    secs = opts.agreement_duration
    with factories["nginx"]["plain"](free_port()) as srv:
        url = f"http://127.0.0.1:{srv.port}/plaintext"
        for label, depth in (("keep-alive", 1), ("pipelined-16", 16)):
            def weir_once():
                wargs = ["-c", "64", "-d", f"{secs}s", url] + (["--pipeline", str(depth)] if depth > 1 else [])
                return bench(wargs, cores, secs + 30)["rate"]

            def wrk_once():
                cmd = ["wrk", "-t1", "-c64", f"-d{secs}s", url]
                if depth > 1:
                    # wrk counts responses ("requests") even when a write carries 16.
                    cmd += ["-s", lua, "--", str(depth)]
                return wrk_rate(run(pinned(1, cmd, cores), secs + 30).stdout)

            weir_once()  # warm-up
            weir_rates, wrk_rates = [], []
            for i in range(opts.agreement_runs):
                pair = (wrk_once, weir_once) if i % 2 == 0 else (weir_once, wrk_once)
                a, b = pair[0](), pair[1]()
                k, w = (a, b) if i % 2 == 0 else (b, a)
                wrk_rates.append(k)
                weir_rates.append(w)
                log(f"agreement {label:<13} weir bench {w:>10.0f}/s   wrk {k:>10.0f}/s   ratio {w / k:.3f}")
            w, k = statistics.median(weir_rates), statistics.median(wrk_rates)
            ratio = statistics.median(a / b for a, b in zip(weir_rates, wrk_rates))
            out.append({"workload": label, "runs_s": secs, "weir_bench": weir_rates, "wrk": wrk_rates,
                        "weir_bench_median": w, "wrk_median": k, "diff_pct": 100 * (w - k) / k,
                        "median_pair_ratio": ratio})
    return out


# ---------------------------------------------------------------- instruction and syscall counts

def callgrind_total(path):
    with open(path) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError(f"no totals in {path}")


def icount(opts, tmp, root, cores):
    """Instructions (callgrind) and syscalls (strace) per request, weir vs nginx."""
    n = opts.icount_requests
    cases = [("plaintext", "/plaintext", []), ("pipelined-16", "/plaintext", ["--pipeline", "16"]),
             ("static-4k", "/4k.bin", [])]
    out = []
    for name in ("weir", "nginx"):
        for case, path, extra in cases:
            port = free_port()
            kind = "static" if case.startswith("static") else "plain"
            # nginx under valgrind: a single process (no master), as valgrind
            # follows only one process well.
            fac = servers(tmp, root, [], cores, master="off")[name][kind]
            srv = fac(port)
            cg_out = os.path.join(tmp, f"cg-{name}-{case}.%p")
            srv.cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={cg_out}",
                       "--dump-instr=no"] + (srv.cmd[3:] if srv.cmd[0] == "taskset" else srv.cmd)
            url = f"http://127.0.0.1:{port}{path}"
            with srv:
                pid = srv.proc.pid
                bench(["-n", "2000", "-c", str(ICOUNT_CONNS), url] + extra, cores, 120)
                run(["callgrind_control", "-z", str(pid)], 60)
                bench(["-n", str(n), "-c", str(ICOUNT_CONNS), url] + extra, cores, 600)
                run(["callgrind_control", "-d", str(pid)], 60)
                dumps = sorted(f for f in os.listdir(tmp) if f.startswith(f"cg-{name}-{case}.{pid}."))
                ir = callgrind_total(os.path.join(tmp, dumps[-1]))
            # syscalls: strace on the plain server (no valgrind)
            port = free_port()
            srv = fac(port)
            url = f"http://127.0.0.1:{port}{path}"
            with srv:
                bench(["-n", "2000", "-c", str(ICOUNT_CONNS), url] + extra, cores, 60)
                st_out = os.path.join(tmp, f"strace-{name}-{case}.txt")
                tracer = subprocess.Popen(["strace", "-c", "-f", "-o", st_out, "-p", str(srv.rss_pid())],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(1.0)
                bench(["-n", str(n), "-c", str(ICOUNT_CONNS), url] + extra, cores, 600)
                tracer.send_signal(signal.SIGINT)
                tracer.wait(timeout=30)
                calls = 0
                with open(st_out) as f:
                    for line in f:
                        # "100.00  secs  usecs/call  calls  [errors]  total"
                        if line.strip().endswith("total"):
                            calls = int(line.split()[3])
            row = {"server": name, "case": case, "requests": n, "instructions": ir,
                   "instructions_per_request": ir / n, "syscalls": calls, "syscalls_per_request": calls / n}
            log(f"icount {name:<6} {case:<13} {ir / n:>10.0f} instr/req  {calls / n:.2f} syscalls/req")
            out.append(row)
    return out


# ---------------------------------------------------------------- plots (hand-written SVG)

COLORS = {"weir": "#2b6cb0", "nginx": "#2f855a"}
PALETTE = ["#c05621", "#6b46c1", "#b83280", "#718096"]


def color(name, i):
    return COLORS.get(name, PALETTE[i % len(PALETTE)])


def svg_rates(rows, path):
    workloads = [w for w, _, _ in WORKLOADS if any(r["workload"] == w for r in rows)]
    servers_ = sorted({r["server"] for r in rows}, key=lambda s: (s != "weir", s != "nginx", s))
    bar_h, gap, left, width = 16, 14, 150, 560
    height = 40 + len(workloads) * (len(servers_) * bar_h + gap) + 30
    s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 240}" height="{height}" '
         f'font-family="sans-serif" font-size="12">',
         f'<text x="10" y="20" font-size="14" font-weight="bold">Throughput per workload (median; bars scaled per workload, whiskers min–max)</text>']
    y = 40
    for wl in workloads:
        wr = {r["server"]: r for r in rows if r["workload"] == wl}
        top = max(r["max"] for r in wr.values()) or 1
        s.append(f'<text x="10" y="{y + len(servers_) * bar_h / 2 + 4}">{wl}</text>')
        for i, name in enumerate(servers_):
            if name not in wr:
                continue
            r = wr[name]
            w = width * r["median"] / top
            s.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h - 3}" fill="{color(name, i)}"/>')
            x0, x1 = left + width * r["min"] / top, left + width * r["max"] / top
            mid = y + (bar_h - 3) / 2
            s.append(f'<line x1="{x0:.1f}" y1="{mid}" x2="{x1:.1f}" y2="{mid}" stroke="black"/>')
            # The label starts past the whisker, so no line runs through it.
            s.append(f'<text x="{max(left + w, x1) + 6:.1f}" y="{y + bar_h - 5}">{name} {r["median"]:,.0f} {r["unit"]}</text>')
            y += bar_h
        y += gap
    s.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(s))


def svg_latency(results, workload, path):
    """Latency by percentile (log-log, 'nines' on x), one line per server."""
    runs = results.get(workload, {})
    if not runs:
        return
    W, H, L, B = 720, 380, 70, 50
    import math

    def xpos(p):
        nines = -math.log10(max(1e-5, 1 - p / 100)) if p < 100 else 5
        return L + (W - L - 20) * nines / 5

    all_us = [v for rs in runs.values() for r in rs for _, v in r["latency_curve_us"] if v > 0]
    lo, hi = math.log10(max(1.0, min(all_us))), math.log10(max(all_us) * 1.2)
    hi = max(hi, lo + 1)

    def ypos(v):
        return H - B - (H - B - 30) * (math.log10(max(v, 1.0)) - lo) / (hi - lo)

    s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
         f'<text x="10" y="18" font-size="14" font-weight="bold">Latency by percentile: {workload} (median run per server)</text>']
    for p, label in ((0, "0"), (90, "90"), (99, "99"), (99.9, "99.9"), (99.99, "99.99"), (99.999, "99.999")):
        x = xpos(p)
        s.append(f'<line x1="{x:.1f}" y1="30" x2="{x:.1f}" y2="{H - B}" stroke="#ddd"/>')
        s.append(f'<text x="{x - 10:.1f}" y="{H - B + 16}">{label}</text>')
    for e in range(int(math.floor(lo)), int(math.ceil(hi)) + 1):
        v = 10 ** e
        if lo <= e <= hi:
            y = ypos(v)
            s.append(f'<line x1="{L}" y1="{y:.1f}" x2="{W - 20}" y2="{y:.1f}" stroke="#ddd"/>')
            label = f"{v:g} µs" if v < 1000 else f"{v / 1000:g} ms"
            s.append(f'<text x="4" y="{y + 4:.1f}">{label}</text>')
    s.append(f'<text x="{W / 2 - 40}" y="{H - 12}">percentile</text>')
    for i, (name, rs) in enumerate(sorted(runs.items())):
        r = sorted(rs, key=lambda r: r["rate"])[len(rs) // 2]
        pts = " ".join(f"{xpos(p):.1f},{ypos(v):.1f}" for p, v in r["latency_curve_us"])
        s.append(f'<polyline points="{pts}" fill="none" stroke="{color(name, i)}" stroke-width="2"/>')
        s.append(f'<text x="{L + 10}" y="{50 + 16 * i}" fill="{color(name, i)}">{name}</text>')
    s.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(s))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1 run of 5 s per workload")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=int, default=8, help="seconds per measured run")
    ap.add_argument("--peer", action="append", default=[], metavar="NAME=CMD",
                    help="another server; {port} and {root} are substituted; skipped if CMD is not installed")
    ap.add_argument("--baseline", metavar="TARGET_DIR",
                    help="also run an earlier weir build from this cargo target dir, as 'weir-before'")
    ap.add_argument("--skip-build", action="store_true")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--agreement", action="store_true", help="also compare weir bench with wrk on nginx")
    ap.add_argument("--agreement-runs", type=int, default=10, help="pairs of runs per workload")
    ap.add_argument("--agreement-duration", type=int, default=3, help="seconds per agreement run")
    ap.add_argument("--icount", action="store_true", help="also count instructions and syscalls per request")
    ap.add_argument("--icount-requests", type=int, default=20_000)
    ap.add_argument("--only", choices=["suite", "agreement", "icount"], help="run just one part")
    ap.add_argument("--workloads", metavar="NAME,...",
                    help="run only these workloads of the suite (default: all): "
                         + ", ".join(w for w, _, _ in WORKLOADS))
    opts = ap.parse_args()
    if opts.workloads:
        wanted = opts.workloads.split(",")
        unknown = [w for w in wanted if w not in {w for w, _, _ in WORKLOADS}]
        if unknown:
            ap.error(f"unknown workload(s): {', '.join(unknown)}")
        WORKLOADS[:] = [w for w in WORKLOADS if w[0] in wanted]
    if opts.quick:
        opts.runs, opts.duration, opts.agreement_runs = 1, 5, 2
    peers = []
    for p in opts.peer:
        name, _, cmd = p.partition("=")
        if shutil.which(cmd.split()[0]):
            peers.append((name, cmd))
        else:
            log(f"peer {name}: {cmd.split()[0]} not installed, skipped")
    opts.peer = peers
    do_suite = opts.only in (None, "suite")
    do_agree = opts.only == "agreement" or (opts.only is None and opts.agreement)
    do_icount = opts.only == "icount" or (opts.only is None and opts.icount)

    ensure_tools(do_icount)
    if not opts.skip_build:
        build()
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    except (ValueError, OSError):
        pass
    cores = os.cpu_count() or 1
    os.makedirs(RESULTS, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="weir-bench-")
    os.chmod(tmp, 0o755)  # nginx workers run as an unprivileged user
    root = os.path.join(tmp, "www")
    os.makedirs(root)
    for name, size in (("4k.bin", 4096), ("1m.bin", 1 << 20)):
        with open(os.path.join(root, name), "wb") as f:
            f.write(os.urandom(size))

    latest_path = os.path.join(RESULTS, "latest.json")
    latest = {}
    if os.path.exists(latest_path) and opts.only:
        latest = json.load(open(latest_path))
    latest.update({"machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                   "options": {"runs": opts.runs, "duration_s": opts.duration, "quick": opts.quick}})
    started = time.time()
    try:
        if do_suite:
            results, memory = suite(opts, tmp, root, cores)
            rows, mem_rows = summarize(results, memory)
            latest.update({"suite": rows, "memory": mem_rows, "raw": results, "raw_memory": memory})
            svg_rates(rows, os.path.join(RESULTS, "rates.svg"))
            svg_latency(results, "plaintext", os.path.join(RESULTS, "latency-plaintext.svg"))
            svg_latency(results, "static-4k", os.path.join(RESULTS, "latency-static-4k.svg"))
        if do_agree:
            latest["agreement"] = agreement(opts, tmp, root, cores)
        if do_icount:
            latest["icount"] = icount(opts, tmp, root, cores)
    finally:
        latest["elapsed_s"] = time.time() - started
        with open(latest_path, "w") as f:
            json.dump(latest, f, indent=1)
        shutil.rmtree(tmp, ignore_errors=True)
    m = latest["machine"]
    print(f"\nmachine: {m['cpu']}, {m['nproc']} cores, Linux {m['kernel']}; {m['nginx']}")
    if do_suite:
        print(f"{opts.runs} run(s) of {opts.duration} s each; server on core 0, weir bench on core 1\n")
        print(fmt_table(rows, mem_rows))
    for a in latest.get("agreement", []) if do_agree else []:
        print(f"agreement {a['workload']:<13} weir bench {a['weir_bench_median']:>10,.0f}/s  "
              f"wrk {a['wrk_median']:>10,.0f}/s  ({a['diff_pct']:+.1f} %; median pair ratio "
              f"{a['median_pair_ratio']:.3f})")
    for r in latest.get("icount", []) if do_icount else []:
        print(f"{r['server']:<6} {r['case']:<13} {r['instructions_per_request']:>10,.0f} instructions/request  "
              f"{r['syscalls_per_request']:.2f} syscalls/request")
    print(f"\nresults: {latest_path}  ({latest['elapsed_s']:.0f} s)")


if __name__ == "__main__":
    main()
