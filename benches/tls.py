#!/usr/bin/env python3
"""TLS side by side: weir and nginx, one core each, the same certificate.

usage: benches/tls.py [--duration S] [--idle N] [--skip-build]

Both servers get the same ECDSA P-256 certificate, TLS 1.3, and one
worker (weir: one shard); nginx has `ssl_session_cache shared` and tickets
on. The server is pinned to core 0 and the load to core 1. Workloads:

  keepalive   wrk -t1 -c64: GET /ping over TLS keep-alive connections
  full        `openssl s_time -new` x4: a full handshake per connection
  resumed     `openssl s_time -reuse` x4: resumed handshakes (TLS 1.3 tickets)
  file-1m     wrk -t1 -c16: GET /1m.bin (1 MiB) over TLS
  idle        N TLS keep-alive connections held idle: RSS per connection

Server CPU is utime+stime of the server's process tree from /proc over the
run, divided by the operations done (requests, handshakes, MiB). Reuses the
measuring helpers of benches/suite.py. Writes benches/results/tls.json and
prints a table.
"""
import argparse, json, os, re, socket, ssl, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import suite  # noqa: E402

REPO = suite.REPO
WEIR = os.path.join(suite.TARGET, "release", "weir")

NGINX_TLS = """
worker_processes 1;
daemon off;
master_process on;
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
  keepalive_timeout 300s;
  client_body_temp_path {tmp}/nginx-body;
  proxy_temp_path {tmp}/nginx-proxy;
  fastcgi_temp_path {tmp}/nginx-fastcgi;
  uwsgi_temp_path {tmp}/nginx-uwsgi;
  scgi_temp_path {tmp}/nginx-scgi;
  types {{ application/octet-stream bin; }}
  server {{
    listen 127.0.0.1:{port} ssl backlog=4096;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:10m;
    ssl_session_tickets on;
    root {root};
    location = /ping {{ default_type text/plain; return 200 "pong"; }}
  }}
}}
"""


def wait_tls(port):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                with ctx.wrap_socket(s):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"no TLS server on {port}")



def wrk(port, path, conns, secs):
    out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", f"-c{conns}", f"-d{secs}s",
                          f"https://127.0.0.1:{port}{path}"], capture_output=True, text=True,
                         timeout=secs + 60, check=True).stdout
    reqs = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors or "Socket errors" in out:
        suite.log(out)
    return reqs


def s_time(port, mode, secs, procs=4):
    cmd = ["taskset", "-c", "1", "openssl", "s_time", "-connect", f"127.0.0.1:{port}", mode,
           "-tls1_3", "-time", str(secs), "-www", "/ping"]
    ps = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) for _ in range(procs)]
    total = 0
    for p in ps:
        out, _ = p.communicate(timeout=secs + 60)
        m = re.findall(r"(\d+) connections in [\d.]+s", out)
        total += int(m[-1]) if m else 0
    return total


def idle(srv, n):
    """RSS per idle TLS keep-alive connection (one request done on each)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    def one():
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", srv.port)))
        s.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        got = b""
        while b"pong" not in got:
            got += s.recv(4096)
        return s
    return suite.rss_per_connection(srv.pid, one, n)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--idle", type=int, default=10000)
    ap.add_argument("--skip-build", action="store_true")
    a = ap.parse_args()
    suite.ensure_tools(False)
    if not a.skip_build:
        subprocess.run(["cargo", "build", "--release"], cwd=REPO, check=True, timeout=1800,
                       env=dict(os.environ, CARGO_TARGET_DIR=suite.TARGET))
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    tmp = tempfile.mkdtemp(prefix="weir-tls-bench-")
    os.chmod(tmp, 0o755)  # nginx's worker runs as another user and must read the files
    cert, key, root = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem"), os.path.join(tmp, "www")
    os.makedirs(root)
    with open(os.path.join(root, "1m.bin"), "wb") as f:
        f.write(os.urandom(1 << 20))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "30", "-subj", "/CN=bench.test",
                    "-addext", "subjectAltName=DNS:bench.test"], check=True, capture_output=True)

    def start(name):
        port = suite.free_port()
        if name == "weir":
            cmd = ["taskset", "-c", "0", WEIR, "--tls", f"127.0.0.1:{port}", "--cert", f"{cert},{key}",
                   "--threads", "1", "--root", root]
            return suite.Running(name, cmd, port, ready=wait_tls)
        conf = os.path.join(tmp, f"nginx-{port}.conf")
        with open(conf, "w") as f:
            f.write(NGINX_TLS.format(tmp=tmp, port=port, root=root, cert=cert, key=key))
        cmd = ["taskset", "-c", "0", "nginx", "-e", os.path.join(tmp, "nginx-error.log"), "-c", conf]
        return suite.Running(name, cmd, port, ready=wait_tls, worker_pid=suite.nginx_worker)

    d = a.duration
    workloads = [
        ("keepalive", "req", lambda s: wrk(s.port, "/ping", 64, d)),
        ("full", "handshake", lambda s: s_time(s.port, "-new", d)),
        ("resumed", "handshake", lambda s: s_time(s.port, "-reuse", d)),
        ("file-1m", "MiB", lambda s: wrk(s.port, "/1m.bin", 16, d)),
    ]
    results = {}
    for wl, unit, fn in workloads:
        for name in ("weir", "nginx"):
            srv = start(name)
            try:
                ops, cpu = suite.cpu_during(srv, lambda: fn(srv))
            finally:
                srv.stop()
            results.setdefault(wl, {})[name] = {"ops": ops, "per_s": ops / d, "cpu_us_per_op": cpu / max(ops, 1),
                                                "unit": unit}
            suite.log(f"{wl:10} {name:6} {ops / d:10.0f} {unit}/s  {cpu / max(ops, 1):8.1f} µs CPU per {unit}")
    for name in ("weir", "nginx"):
        srv = start(name)
        try:
            per = idle(srv, a.idle)
        finally:
            srv.stop()
        results.setdefault("idle", {})[name] = {"bytes_per_conn": per, "connections": a.idle}
        suite.log(f"idle       {name:6} {per:10.0f} bytes per idle TLS connection ({a.idle})")
    print(f"\n{'workload':10} {'weir/s':>10} {'nginx/s':>10} {'weir CPU':>10} {'nginx CPU':>10} {'ratio':>6}")
    for wl, unit, _ in workloads:
        w, n = results[wl]["weir"], results[wl]["nginx"]
        print(f"{wl:10} {w['per_s']:10.0f} {n['per_s']:10.0f} {w['cpu_us_per_op']:9.1f}µ {n['cpu_us_per_op']:9.1f}µ"
              f" {w['cpu_us_per_op'] / n['cpu_us_per_op']:6.2f}   (per {unit})")
    w, n = results["idle"]["weir"], results["idle"]["nginx"]
    print(f"{'idle':10} {w['bytes_per_conn']:10.0f}B {n['bytes_per_conn']:9.0f}B {'':21} "
          f"{w['bytes_per_conn'] / n['bytes_per_conn']:6.2f}   (RSS per idle TLS connection)")
    os.makedirs(os.path.join(REPO, "benches", "results"), exist_ok=True)
    with open(os.path.join(REPO, "benches", "results", "tls.json"), "w") as f:
        json.dump({"machine": suite.machine(), "duration_s": d, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
