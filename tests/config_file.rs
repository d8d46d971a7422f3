//! The configuration file end to end: a site served by the real server,
//! a rate limit over sockets, `weir check`, and reloads under load.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use common::{TestServer, READ_TIMEOUT};
use weir::site::{load_str, SiteCell};
use weir::{App, Response, Server};

/// A fresh directory for this test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("weir-config-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("www")).unwrap();
    std::fs::write(dir.join("www/index.html"), "home\n").unwrap();
    dir
}

/// A server running the site of `toml` (with its app's routes `app`).
fn serve(toml: &str, dir: &Path, app: App) -> TestServer {
    let cfg = match load_str(toml, "test.toml", dir) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    let server = Server::builder(app)
        .shards(2)
        .listen("127.0.0.1:0".parse().unwrap())
        .site(Arc::new(SiteCell::new(cfg.site)))
        .start()
        .unwrap();
    let addr = server.local_addrs()[0];
    TestServer { server: Some(server), addr }
}

fn get(srv: &TestServer, host: &str, path: &str) -> common::Resp {
    let mut c = srv.connect();
    c.send(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes());
    c.read(false)
}

#[test]
fn a_site_answers_by_host_and_location_over_sockets() {
    let dir = scratch("site");
    let srv = serve(
        r#"
[server]
server_header = "weir-test"
[[listener]]
address = "127.0.0.1:0"
[[host]]
names = ["files.test"]
root = "www"
headers = { hsts = 60, remove = ["X-Drop"] }
[[host.location]]
regex = '^/go/(\w+)$'
return = { status = 307, location = "https://$host/to/$1" }
[[host.location]]
exact = "/hello"
app = true
[[host]]
names = ["*.api.test"]
[[host.location]]
prefix = "/v1/"
rewrite = [{ from = "^/v1/(.*)$", to = "/hello?from=$1" }]
"#,
        &dir,
        App::new().get("/hello", |req| {
            Response::text(format!("hello {}", req.query().unwrap_or(""))).with_header("X-Drop", "secret")
        }),
    );
    let r = get(&srv, "files.test", "/");
    assert_eq!((r.status, r.text().as_str()), (200, "home\n"));
    assert_eq!(r.header("server"), Some("weir-test"));
    assert_eq!(r.header("strict-transport-security"), Some("max-age=60"));
    let r = get(&srv, "files.test", "/go/x1");
    assert_eq!((r.status, r.header("location")), (307, Some("https://files.test/to/x1")));
    let r = get(&srv, "files.test", "/hello");
    assert_eq!(r.text(), "hello ");
    assert_eq!(r.header("x-drop"), None, "removed by the host's rules");
    // An internal rewrite with a capture, through the app, on a wildcard host.
    let r = get(&srv, "eu.api.test", "/v1/abc");
    assert_eq!((r.status, r.text().as_str()), (200, "hello from=abc"));
    assert_eq!(r.header("x-drop"), Some("secret"), "another host, other rules");
    assert_eq!(get(&srv, "nobody.test", "/").status, 421);
}

#[test]
fn a_rate_limit_over_sockets_answers_429_with_retry_after_across_shards() {
    let dir = scratch("rate");
    let srv = serve(
        r#"
[[rate_limit]]
name = "tight"
rate = "1/m"
burst = 3
[[listener]]
address = "127.0.0.1:0"
[[host]]
default = true
root = "www"
rate_limit = "tight"
"#,
        &dir,
        App::new(),
    );
    // Separate connections, spread by the kernel over both shards: together
    // they get the burst of 3, then 429 with a minute to wait.
    let statuses: Vec<u16> = (0..6).map(|_| get(&srv, "x", "/").status).collect();
    assert_eq!(statuses, [200, 200, 200, 429, 429, 429]);
    let r = get(&srv, "x", "/");
    assert_eq!(r.header("retry-after"), Some("60"));
}

#[test]
fn weir_check_reports_every_error_and_exits_non_zero() {
    let dir = scratch("check");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[server]\nthreads = \"x\"\n[[listener]]\naddress = \"nowhere\"\n[[host]]\ndefault = true\nroot = \"www\"\nrot = 1\n").unwrap();
    let out =
        Command::new(env!("CARGO_BIN_EXE_weir")).args(["check", "--config"]).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let b = bad.display();
    assert_eq!(
        err,
        format!(
            "weir: {b} has 3 errors:\n\
             {b}:2:11: server.threads: expected an integer from 1 to 1024, found a string\n\
             {b}:4:11: listener[0].address: expected an address and port such as 127.0.0.1:8080, [::1]:8080, :8080 or localhost:8080, found \"nowhere\"\n\
             {b}:8:1: host[0].rot: unknown key; expected one of: names, default, root, index, listing, hidden, precompressed, gzip, cache_control, headers, rewrite, rate_limit, max_body, location\n"
        )
    );
    let good = dir.join("good.toml");
    std::fs::write(
        &good,
        "[[listener]]\naddress = \"127.0.0.1:0\"\n[[host]]\nnames = [\"a.test\"]\nroot = \"www\"\n",
    )
    .unwrap();
    let out =
        Command::new(env!("CARGO_BIN_EXE_weir")).args(["check", "--config"]).arg(&good).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{}: ok: 1 listener, 1 host (a.test)\n", good.display())
    );
}

/// The binary on a configuration file, its stderr lines on a channel.
struct Weir {
    child: Child,
    addr: std::net::SocketAddr,
    lines: mpsc::Receiver<String>,
}

impl Weir {
    fn start(config: &Path) -> Weir {
        let mut child = Command::new(env!("CARGO_BIN_EXE_weir"))
            .args(["--threads", "2", "--config"])
            .arg(config)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        out.read_line(&mut first).unwrap();
        let addr = first
            .trim()
            .trim_start_matches("weir listening on http://")
            .trim_end_matches('/')
            .parse()
            .unwrap();
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        let (tx, lines) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Weir { child, addr, lines }
    }

    /// Sends SIGHUP and waits for the line saying how the reload went.
    fn reload(&self) -> String {
        let pid = i32::try_from(self.child.id()).unwrap();
        weir::reactor::sys::signal::send_signal(pid, weir::reactor::sys::signal::SIGHUP).unwrap();
        loop {
            let line = self.lines.recv_timeout(READ_TIMEOUT).expect("a line about the reload");
            if line.starts_with("weir: reload") {
                return line;
            }
        }
    }
}

impl Drop for Weir {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn site_file(version: &str) -> String {
    format!(
        r#"
[builtins]
enable = ["ping", "ws-echo"]
[[listener]]
address = "127.0.0.1:0"
[[host]]
default = true
[[host.location]]
exact = "/version"
return = {{ status = 200, body = "{version}" }}
[[host.location]]
exact = "/only-{version}"
return = {{ status = 200, body = "new route of {version}" }}
[[host.location]]
prefix = "/"
app = true
"#
    )
}

/// Reads one response off a keep-alive connection: status and body.
fn exchange(s: &mut BufReader<TcpStream>, path: &str) -> std::io::Result<(u16, String)> {
    s.get_mut().write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())?;
    let mut line = String::new();
    s.read_line(&mut line)?;
    let status: u16 = line.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let mut len = 0;
    loop {
        let mut h = String::new();
        s.read_line(&mut h)?;
        if h == "\r\n" || h.is_empty() {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; len];
    s.read_exact(&mut body)?;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// Clients on keep-alive connections and a WebSocket while the file is
/// reloaded 20 times, alternating two valid versions and an invalid one:
/// no request fails, the WebSocket still echoes, each valid version's new
/// route answers after its reload, and an invalid file changes nothing.
#[test]
fn reloads_under_load_fail_no_request_and_keep_websockets() {
    let dir = scratch("reload");
    let path = dir.join("weir.toml");
    std::fs::write(&path, site_file("a")).unwrap();
    let weir = Weir::start(&path);
    let addr = weir.addr;

    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicU64::new(0));
    let clients: Vec<_> = (0..4)
        .map(|i| {
            let (stop, served) = (stop.clone(), served.clone());
            std::thread::spawn(move || -> Result<(), String> {
                let s = TcpStream::connect(addr).map_err(|e| e.to_string())?;
                s.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
                let mut s = BufReader::new(s);
                while !stop.load(Ordering::Relaxed) {
                    let path = if i % 2 == 0 { "/version" } else { "/ping" };
                    match exchange(&mut s, path) {
                        Ok((200, body)) if ["a", "b", "pong"].contains(&body.as_str()) => {
                            served.fetch_add(1, Ordering::Relaxed);
                        }
                        other => return Err(format!("client {i}: {path}: {other:?}")),
                    }
                }
                Ok(())
            })
        })
        .collect();

    let ws_stream = TcpStream::connect(addr).unwrap();
    ws_stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    let (mut ws, _) = tungstenite::client(format!("ws://{addr}/ws/echo"), ws_stream).unwrap();

    let fresh = |path: &str| {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        exchange(&mut BufReader::new(s), path).unwrap()
    };
    let mut current = "a";
    for round in 0..20 {
        let before = served.load(Ordering::Relaxed);
        let line = match round % 3 {
            0 | 2 => {
                let next = if current == "a" { "b" } else { "a" };
                std::fs::write(&path, site_file(next)).unwrap();
                let line = weir.reload();
                assert!(line.contains("reloaded"), "round {round}: {line}");
                current = next;
                line
            }
            _ => {
                std::fs::write(&path, "[[listener]]\naddress = 1\n").unwrap();
                let line = weir.reload();
                assert!(line.contains("reload refused"), "round {round}: {line}");
                line
            }
        };
        // The version served now, and its new route; the other's is gone.
        assert_eq!(fresh("/version"), (200, current.to_string()), "round {round}: {line}");
        assert_eq!(fresh(&format!("/only-{current}")), (200, format!("new route of {current}")));
        let other = if current == "a" { "b" } else { "a" };
        assert_eq!(fresh(&format!("/only-{other}")).0, 404);
        // The WebSocket opened before the first reload still echoes.
        let msg = format!("round {round}");
        ws.send(tungstenite::Message::text(msg.clone())).unwrap();
        assert_eq!(common::ws_next_text(&mut ws), msg);
        // The clients kept being served across this reload.
        let deadline = std::time::Instant::now() + READ_TIMEOUT;
        while served.load(Ordering::Relaxed) < before + 8 {
            assert!(std::time::Instant::now() < deadline, "clients stalled in round {round}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap().unwrap();
    }
    assert!(served.load(Ordering::Relaxed) > 160);
}

#[test]
fn an_unknown_log_level_is_refused_naming_the_levels() {
    let out = Command::new(env!("CARGO_BIN_EXE_weir")).args(["--log-level", "verbose"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "invalid value 'verbose' for '--log-level <LEVEL>': expected one of error, warn, info, debug"
        ),
        "{err}"
    );
}

/// Started where there is no ./public and without --root, weir says that
/// no files are served; on SIGTERM it says it stops, and that it stopped.
#[test]
fn the_binary_says_when_no_files_are_served_and_when_it_stops() {
    let dir = scratch("nofiles");
    let mut child = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["--listen", "localhost:0", "--threads", "1"])
        .current_dir(dir.join("www"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert!(first.starts_with("weir listening on http://127.0.0.1:"), "{first}");
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert_eq!(
        line,
        "weir: no files are served: there is no ./public here and no --root was given (the built-in endpoints answer)\n"
    );
    let pid = i32::try_from(child.id()).unwrap();
    weir::reactor::sys::signal::send_signal(pid, weir::reactor::sys::signal::SIGTERM).unwrap();
    let mut rest = String::new();
    err.read_to_string(&mut rest).unwrap();
    assert_eq!(
        rest,
        "weir: SIGTERM: stopping; requests in flight have 10 s to finish (a second signal exits at once)\nweir: stopped\n"
    );
    assert!(child.wait().unwrap().success());
}
