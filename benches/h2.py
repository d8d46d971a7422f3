#!/usr/bin/env python3
"""HTTP/2 side by side: weir, nginx and h2o, one core each, the same certificate.

usage: benches/h2.py [--duration S] [--idle N] [--skip-build] [--only NAME,...]

Needs h2load (Debian: nghttp2-client), nginx and h2o (`apt-get install
nghttp2-client nginx h2o`). Every server gets the same ECDSA P-256
certificate and one worker (weir: one shard, `--http2`; nginx: one worker,
`http2` on the TLS listener; h2o: `num-threads: 1`). The server is pinned
to core 0 and h2load to core 1. Workloads (TLS unless marked h2c; nginx
serves HTTP/2 over TLS only, so it sits out the h2c rows):

  small       h2load -c64 -m10: GET /ping (64 connections x 10 streams)
  one-conn    h2load -c1 -m100: GET /ping, 100 streams on one connection
  file-1m     h2load -c16 -m1: GET /1m.bin (1 MiB static file)
  small-h2c   as small, h2c with prior knowledge (weir, h2o)
  file-1m-h2c as file-1m, h2c (weir, h2o)
  idle        N HTTP/2 connections over TLS held idle after their SETTINGS: RSS per connection

/ping is weir's built-in, nginx's `return 200 "pong"`, and a 4-byte static
file for h2o (it has no inline responses). Server CPU is utime+stime of the
server's process tree over the run (benches/suite.py's helpers), divided
by requests (or MiB). Writes benches/results/h2.json and prints a table.
"""
import argparse, json, os, re, socket, ssl, struct, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import suite  # noqa: E402

REPO = suite.REPO
WEIR = os.path.join(suite.TARGET, "release", "weir")
SERVERS = ("weir", "nginx", "h2o")

NGINX_H2 = """
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
  tcp_nodelay on;
  keepalive_requests 1000000000;
  keepalive_timeout 300s;
  http2_max_concurrent_streams 128;
  client_body_temp_path {tmp}/nginx-body;
  proxy_temp_path {tmp}/nginx-proxy;
  fastcgi_temp_path {tmp}/nginx-fastcgi;
  uwsgi_temp_path {tmp}/nginx-uwsgi;
  scgi_temp_path {tmp}/nginx-scgi;
  types {{ application/octet-stream bin; }}
  server {{
    listen 127.0.0.1:{port} ssl http2 backlog=4096;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.3;
    root {root};
    location = /ping {{ default_type text/plain; return 200 "pong"; }}
  }}
}}
"""

H2O_CONF = """
num-threads: 1
max-connections: 65536
access-log: /dev/null
error-log: {tmp}/h2o-error.log
pid-file: {tmp}/h2o-{port}.pid
http2-max-concurrent-requests-per-connection: 128
listen:
  host: 127.0.0.1
  port: {port}
  ssl:
    certificate-file: {cert}
    key-file: {key}
    minimum-version: TLSv1.3
listen:
  host: 127.0.0.1
  port: {plain}
hosts:
  default:
    paths:
      /:
        file.dir: {root}
"""



def h2load(url, conns, streams, secs):
    """Requests that succeeded in `secs` seconds of h2load, pinned to core 1."""
    cmd = ["taskset", "-c", "1", "h2load", "-t1", f"-c{conns}", f"-m{streams}", "-D", str(secs), url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=secs + 60, check=True).stdout
    m = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed", out)
    if not m or int(m.group(2)) > 0:
        suite.log(out)
    return int(m.group(1)) if m else 0


def idle(srv, n):
    """RSS per idle HTTP/2 connection over TLS (ALPN h2, preface, SETTINGS exchanged)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2"])
    hello = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + struct.pack(">I", 0)[1:] + bytes([4, 0]) + struct.pack(">I", 0)
    def one():
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", srv.port)))
        assert s.selected_alpn_protocol() == "h2", srv.name
        s.sendall(hello)
        s.recv(4096)  # the server's SETTINGS
        return s
    return suite.rss_per_connection(srv.pid, one, n)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--idle", type=int, default=10000)
    ap.add_argument("--skip-build", action="store_true")
    ap.add_argument("--only", default=",".join(SERVERS), help="servers to run, comma-separated")
    a = ap.parse_args()
    names = [n for n in a.only.split(",") if n in SERVERS]
    for tool in ["h2load", "taskset"] + [n for n in names if n != "weir"]:
        if subprocess.run(["which", tool], capture_output=True).returncode != 0:
            sys.exit(f"{tool} not found: apt-get install nghttp2-client nginx h2o")
    if "weir" in names and not a.skip_build:
        subprocess.run(["cargo", "build", "--release"], cwd=REPO, check=True, timeout=1800,
                       env=dict(os.environ, CARGO_TARGET_DIR=suite.TARGET))
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    tmp = tempfile.mkdtemp(prefix="weir-h2-bench-")
    # nginx's and h2o's workers drop to another user: they must read the
    # files, and h2o writes its pid file here.
    os.chmod(tmp, 0o777)
    cert, key, root = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem"), os.path.join(tmp, "www")
    os.makedirs(root)
    with open(os.path.join(root, "1m.bin"), "wb") as f:
        f.write(os.urandom(1 << 20))
    with open(os.path.join(root, "ping"), "w") as f:
        f.write("pong")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "30", "-subj", "/CN=bench.test",
                    "-addext", "subjectAltName=DNS:bench.test"], check=True, capture_output=True)

    def start(name):
        port, plain = suite.free_port(), suite.free_port()
        if name == "weir":
            cmd = ["taskset", "-c", "0", WEIR, "--http2", "--tls", f"127.0.0.1:{port}", "--listen",
                   f"127.0.0.1:{plain}", "--cert", f"{cert},{key}", "--threads", "1", "--root", root]
            return suite.Running(name, cmd, port, plain=plain)
        if name == "nginx":
            conf = os.path.join(tmp, f"nginx-{port}.conf")
            with open(conf, "w") as f:
                f.write(NGINX_H2.format(tmp=tmp, port=port, root=root, cert=cert, key=key))
            cmd = ["taskset", "-c", "0", "nginx", "-e", os.path.join(tmp, "nginx-error.log"), "-c", conf]
            return suite.Running(name, cmd, port, worker_pid=suite.nginx_worker, plain=None)
        conf = os.path.join(tmp, f"h2o-{port}.conf")
        with open(conf, "w") as f:
            f.write(H2O_CONF.format(tmp=tmp, port=port, plain=plain, root=root, cert=cert, key=key))
        return suite.Running(name, ["taskset", "-c", "0", "h2o", "-c", conf], port, plain=plain)

    d = a.duration
    tls = lambda s, p: f"https://127.0.0.1:{s.port}{p}"  # noqa: E731
    h2c = lambda s, p: f"http://127.0.0.1:{s.plain}{p}"  # noqa: E731
    workloads = [
        ("small", "req", False, lambda s: h2load(tls(s, "/ping"), 64, 10, d)),
        ("one-conn", "req", False, lambda s: h2load(tls(s, "/ping"), 1, 100, d)),
        ("file-1m", "MiB", False, lambda s: h2load(tls(s, "/1m.bin"), 16, 1, d)),
        ("small-h2c", "req", True, lambda s: h2load(h2c(s, "/ping"), 64, 10, d)),
        ("file-1m-h2c", "MiB", True, lambda s: h2load(h2c(s, "/1m.bin"), 16, 1, d)),
    ]
    results = {}
    for wl, unit, plain_only, fn in workloads:
        for name in names:
            if plain_only and name == "nginx":
                continue
            srv = start(name)
            try:
                ops, cpu = suite.cpu_during(srv, lambda: fn(srv))
            finally:
                srv.stop()
            results.setdefault(wl, {})[name] = {"ops": ops, "per_s": ops / d, "cpu_us_per_op": cpu / max(ops, 1),
                                                "unit": unit}
            suite.log(f"{wl:12} {name:6} {ops / d:10.0f} {unit}/s  {cpu / max(ops, 1):8.1f} µs CPU per {unit}")
    for name in names:
        srv = start(name)
        try:
            per = idle(srv, a.idle)
        finally:
            srv.stop()
        results.setdefault("idle", {})[name] = {"bytes_per_conn": per, "connections": a.idle}
        suite.log(f"idle         {name:6} {per:10.0f} bytes per idle HTTP/2 connection ({a.idle})")
    print(f"\n{'workload':12} " + " ".join(f"{n + '/s':>10} {n + ' CPU':>10}" for n in names))
    for wl, unit, _, _ in workloads:
        row = results.get(wl, {})
        cells = []
        for n in names:
            r = row.get(n)
            cells.append(f"{r['per_s']:10.0f} {r['cpu_us_per_op']:9.1f}µ" if r else f"{'-':>10} {'-':>10}")
        print(f"{wl:12} " + " ".join(cells) + f"   (per {unit})")
    print(f"{'idle':12} " + " ".join(f"{results['idle'][n]['bytes_per_conn']:9.0f}B {'':>10}" for n in names)
          + "   (RSS per idle HTTP/2 connection)")
    os.makedirs(os.path.join(REPO, "benches", "results"), exist_ok=True)
    with open(os.path.join(REPO, "benches", "results", "h2.json"), "w") as f:
        json.dump({"machine": suite.machine(), "duration_s": d, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
