"""User-space instructions per keep-alive request, one connection.

usage: python3 benches/tools/icount_one.py [BIN] [N] [DEPTH | close]

Runs BIN (default target/release/examples/techempower) on 127.0.0.1 with
one shard under `valgrind --tool=callgrind`, warms it up with 2,000
requests on one keep-alive connection, zeroes the counters
(`callgrind_control -z`), sends exactly N requests (default 20,000),
DEPTH at a time (default 1: strictly sequential; 16: pipelined), dumps,
and prints the dump's total divided by N. With `close` instead of a depth,
each request goes on a new connection with `Connection: close` (the
suite's conn-per-request workload; accepting and closing are counted too). Extra callgrind options (for a
profile, e.g. `CALLGRIND_ARGS=--dump-instr=yes`) come from CALLGRIND_ARGS;
the dump is then kept and its path printed.
"""
import glob, os, socket, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release/examples/techempower")
N = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
CLOSE = len(sys.argv) > 3 and sys.argv[3] == "close"
DEPTH = int(sys.argv[3]) if len(sys.argv) > 3 and not CLOSE else 1
PORT = 19790
REQ = b"GET /plaintext HTTP/1.1\r\nHost: localhost\r\n\r\n"
REQ_CLOSE = b"GET /plaintext HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"


def load_close(n):
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", PORT))
        s.sendall(REQ_CLOSE)
        while s.recv(1 << 16):
            pass
        s.close()


def load(n, depth):
    s = socket.create_connection(("127.0.0.1", PORT))
    buf, done = b"", 0
    while done < n:
        k = min(depth, n - done)
        s.sendall(REQ * k)
        got = 0
        while got < k:
            data = s.recv(1 << 20)
            if not data:
                raise SystemExit("server closed the connection")
            buf += data
            while True:
                i = buf.find(b"\r\n\r\n")
                if i < 0:
                    break
                length = 0
                for line in buf[:i].split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                if len(buf) < i + 4 + length:
                    break
                buf, got = buf[i + 4 + length:], got + 1
        done += k
    s.close()


out = tempfile.mkdtemp(prefix="weir-icount-")
extra = os.environ.get("CALLGRIND_ARGS", "").split()
proc = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/cg.%p", *extra,
                         BIN, "--listen", f"127.0.0.1:{PORT}", "--threads", "1"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", PORT)).close()
            break
        except OSError:
            time.sleep(0.2)
    run_load = (lambda n: load_close(n)) if CLOSE else (lambda n: load(n, DEPTH))
    run_load(2000)
    subprocess.run(["callgrind_control", "-z", str(proc.pid)], check=True, capture_output=True)
    run_load(N)
    subprocess.run(["callgrind_control", "-d", str(proc.pid)], check=True, capture_output=True)
    time.sleep(0.5)
    dump = sorted(glob.glob(f"{out}/cg.{proc.pid}.*"))[-1]
    total = next(int(l.split()[1]) for l in open(dump) if l.startswith("totals:"))
    how = "a connection each" if CLOSE else f"depth {DEPTH}, one connection"
    print(f"{total / N:.0f} instructions per request ({N} requests, {how})")
    if extra:
        print(f"profile: {dump}")
finally:
    proc.terminate()
    proc.wait(timeout=30)
