//! End-to-end tests of the static file server: the real server on an
//! ephemeral loopback port, raw `TcpStream` requests (byte-exact), and
//! `ureq` / `flate2` as independent clients.
//!
//! Each test builds its own directory under the system temp dir:
//!
//! ```text
//! <tmp>/weir-static-<pid>-<n>/
//!   secret.txt                 outside the root: must never be served
//!   outside/                   a directory outside the root
//!   root/                      the served root
//!     index.html  small.txt  empty.txt  large.bin  big.txt
//!     style.css  style.css.gz  style.css.br  logo.svg
//!     sub/index.html   nodir/<b>&.txt   .hidden   .git/config
//!     link_in -> small.txt   link_out -> ../secret.txt   dir_out -> ../outside
//! ```

// Test code: a failed unwrap is a failed test (the workspace denies unwrap in library code).
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use weir::{App, Server, StaticFiles};

const SECRET: &str = "TOP-SECRET-MARKER";

// ------------------------------------------------------------------ fixture

struct Site {
    base: PathBuf,
    root: PathBuf,
}

impl Site {
    fn new() -> Site {
        static N: AtomicUsize = AtomicUsize::new(0);
        let base = std::env::temp_dir().join(format!(
            "weir-static-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&base);
        let root = base.join("root");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::create_dir_all(root.join("nodir")).unwrap();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::create_dir_all(base.join("outside")).unwrap();
        std::fs::write(base.join("secret.txt"), SECRET).unwrap();
        std::fs::write(base.join("outside/secret.txt"), SECRET).unwrap();
        let site = Site { base, root };
        site.write("index.html", b"<!doctype html><title>home</title>");
        site.write("sub/index.html", b"<p>sub</p>");
        site.write("nodir/<b>&.txt", b"x");
        site.write(".hidden", SECRET.as_bytes());
        site.write(".git/config", SECRET.as_bytes());
        site.write("small.txt", &small_text());
        site.write("empty.txt", b"");
        site.write("large.bin", &noise(3 << 20));
        site.write("big.txt", &"All work and no play makes weir a dull server.\n".repeat(4096).into_bytes());
        let css = b"body { color: #333; margin: 0 auto; max-width: 40em; }\n".repeat(40);
        site.write("style.css", &css);
        site.write("style.css.gz", &gzip(&css));
        site.write("style.css.br", b"pretend-brotli-bytes");
        site.write("logo.svg", b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>");
        std::os::unix::fs::symlink("small.txt", site.root.join("link_in")).unwrap();
        std::os::unix::fs::symlink("../secret.txt", site.root.join("link_out")).unwrap();
        std::os::unix::fs::symlink("../outside", site.root.join("dir_out")).unwrap();
        site
    }

    fn write(&self, rel: &str, data: &[u8]) {
        std::fs::write(self.root.join(rel), data).unwrap();
    }

    fn read(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.root.join(rel)).unwrap()
    }

    fn files(&self) -> StaticFiles {
        StaticFiles::new(&self.root)
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

fn small_text() -> Vec<u8> {
    (0..100).map(|i| format!("line {i:03}: the quick brown fox\n")).collect::<String>().into_bytes()
}

/// Deterministic incompressible bytes (xorshift64).
fn noise(n: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data).read_to_end(&mut out).expect("valid gzip");
    out
}

struct Running {
    server: Option<Server>,
    addr: SocketAddr,
}

impl Running {
    fn start(files: StaticFiles) -> Running {
        Running::app(App::new().static_files("/", files))
    }

    fn app(app: App) -> Running {
        let server = Server::builder(app).shards(1).listen("127.0.0.1:0".parse().unwrap()).start().unwrap();
        let addr = server.local_addrs()[0];
        Running { server: Some(server), addr }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            s.stop();
            if !std::thread::panicking() {
                s.join().unwrap();
            }
        }
    }
}

// ------------------------------------------------------------------ client

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn has(&self, name: &str) -> bool {
        self.header(name).is_some()
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `method path` with `headers` and `Connection: close`, reads to EOF:
/// whatever follows the head is the body, so a 304 or HEAD that leaked
/// bytes would show them.
fn request(addr: SocketAddr, method: &str, target: &str, headers: &[(&str, &str)]) -> Resp {
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let resp = parse_response(&raw);
    if let Some(cl) = resp.header("content-length") {
        if method != "HEAD" && resp.status != 304 {
            assert_eq!(cl.parse::<usize>().unwrap(), resp.body.len(), "Content-Length vs body for {target}");
        }
    }
    resp
}

fn get(addr: SocketAddr, target: &str, headers: &[(&str, &str)]) -> Resp {
    request(addr, "GET", target, headers)
}

fn parse_response(raw: &[u8]) -> Resp {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("complete head");
    let head = std::str::from_utf8(&raw[..end]).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.to_string(), v.trim().to_string())
        })
        .collect();
    Resp { status, headers, body: raw[end + 4..].to_vec() }
}

/// Splits a `multipart/byteranges` body into `(Content-Range, bytes)` parts.
fn parse_multipart(resp: &Resp) -> Vec<(String, Vec<u8>)> {
    let ct = resp.header("content-type").unwrap();
    let boundary = ct.strip_prefix("multipart/byteranges; boundary=").expect("multipart type");
    let delim = format!("--{boundary}");
    let body = &resp.body[..];
    let mut parts = Vec::new();
    let mut pos = find(body, delim.as_bytes(), 0).expect("first boundary");
    loop {
        let after = pos + delim.len();
        if body[after..].starts_with(b"--") {
            assert_eq!(&body[after..], b"--\r\n", "epilogue");
            break;
        }
        assert!(body[after..].starts_with(b"\r\n"));
        let head_end = find(body, b"\r\n\r\n", after).unwrap();
        let head = std::str::from_utf8(&body[after + 2..head_end]).unwrap();
        let range = head
            .split("\r\n")
            .find_map(|l| l.strip_prefix("Content-Range: "))
            .expect("part Content-Range")
            .to_string();
        assert!(head.contains("Content-Type: "), "part Content-Type");
        // The data length comes from Content-Range, not from searching: the
        // data may contain anything.
        let (a, b) =
            range.strip_prefix("bytes ").unwrap().split('/').next().unwrap().split_once('-').unwrap();
        let n = (b.parse::<usize>().unwrap() - a.parse::<usize>().unwrap()) + 1;
        let data = body[head_end + 4..head_end + 4 + n].to_vec();
        let next = head_end + 4 + n;
        assert!(body[next..].starts_with(format!("\r\n{delim}").as_bytes()), "CRLF + delimiter after a part");
        parts.push((range, data));
        pos = next + 2;
    }
    parts
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay[from..].windows(needle.len()).position(|w| w == needle).map(|p| p + from)
}

// ------------------------------------------------------------------ bodies

#[test]
fn small_large_and_empty_files_are_byte_exact() {
    let site = Site::new();
    let srv = Running::start(site.files());
    for name in ["small.txt", "large.bin", "empty.txt", "big.txt", "style.css"] {
        for _ in 0..2 {
            // The second request is served from the open-file cache.
            let r = get(srv.addr, &format!("/{name}"), &[]);
            assert_eq!(r.status, 200, "{name}");
            assert_eq!(r.body, site.read(name), "{name}");
            assert_eq!(r.header("content-length").unwrap(), site.read(name).len().to_string());
        }
    }
}

#[test]
fn keep_alive_pipelined_responses_stay_framed() {
    let site = Site::new();
    let srv = Running::start(site.files());
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let req = "GET /small.txt HTTP/1.1\r\nHost: t\r\n\r\n\
               GET /large.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=0-9,-10\r\n\r\n\
               HEAD /large.bin HTTP/1.1\r\nHost: t\r\n\r\n\
               GET /empty.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let small = site.read("small.txt");
    let mut rest = &raw[..];
    let mut statuses = Vec::new();
    for (i, is_head) in [(0, false), (1, false), (2, true), (3, false)] {
        let end = find(rest, b"\r\n\r\n", 0).unwrap();
        let head = parse_response(&rest[..end + 4]);
        let len: usize = head.header("content-length").unwrap().parse().unwrap();
        let body_len = if is_head { 0 } else { len };
        let body = &rest[end + 4..end + 4 + body_len];
        if i == 0 {
            assert_eq!(body, &small[..]);
        }
        if i == 1 {
            let resp = Resp { body: body.to_vec(), ..head };
            assert_eq!(parse_multipart(&resp).len(), 2);
            statuses.push(resp.status);
        } else {
            statuses.push(head.status);
        }
        rest = &rest[end + 4 + body_len..];
    }
    assert_eq!(statuses, [200, 206, 200, 200]);
    assert!(rest.is_empty());
}

#[test]
fn independent_client_reads_the_large_file() {
    let site = Site::new();
    let srv = Running::start(site.files());
    let resp = ureq::get(&format!("http://{}/large.bin", srv.addr)).call().unwrap();
    let mut body = Vec::new();
    resp.into_reader().read_to_end(&mut body).unwrap();
    assert_eq!(body, site.read("large.bin"));
    let resp =
        ureq::get(&format!("http://{}/large.bin", srv.addr)).set("Range", "bytes=1000-1999").call().unwrap();
    assert_eq!(resp.status(), 206);
    let mut body = Vec::new();
    resp.into_reader().read_to_end(&mut body).unwrap();
    assert_eq!(body, site.read("large.bin")[1000..2000]);
}

#[test]
fn head_equals_get_minus_the_body() {
    let site = Site::new();
    let srv = Running::start(site.files().cache_control(".txt", "public, max-age=60"));
    for (target, hdrs) in [
        ("/small.txt", &[][..]),
        ("/large.bin", &[][..]),
        ("/empty.txt", &[][..]),
        ("/style.css", &[("Accept-Encoding", "gzip")][..]),
        ("/sub/", &[][..]),
        ("/missing", &[][..]),
    ] {
        let g = get(srv.addr, target, hdrs);
        let h = request(srv.addr, "HEAD", target, hdrs);
        assert_eq!(g.status, h.status, "{target}");
        let strip = |r: &Resp| r.headers.iter().filter(|(n, _)| n != "Date").cloned().collect::<Vec<_>>();
        assert_eq!(strip(&g), strip(&h), "{target}");
        assert!(h.body.is_empty(), "{target}");
    }
}

// ------------------------------------------------------------------ headers

#[test]
fn content_types_nosniff_and_cache_control() {
    let site = Site::new();
    let srv = Running::start(
        site.files().cache_control(".css", "public, max-age=86400").cache_control("/sub/", "no-store"),
    );
    for (path, ct, cc) in [
        ("/", "text/html; charset=utf-8", None),
        ("/small.txt", "text/plain; charset=utf-8", None),
        ("/style.css", "text/css; charset=utf-8", Some("public, max-age=86400")),
        ("/logo.svg", "image/svg+xml", None),
        ("/large.bin", "application/octet-stream", None),
        ("/sub/", "text/html; charset=utf-8", Some("no-store")),
    ] {
        let r = get(srv.addr, path, &[]);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-type"), Some(ct), "{path}");
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"), "{path}");
        assert_eq!(r.header("accept-ranges"), Some("bytes"), "{path}");
        assert_eq!(r.header("cache-control"), cc, "{path}");
        assert!(r.header("etag").unwrap().starts_with('"'), "strong ETag for {path}");
        assert!(r.header("last-modified").unwrap().ends_with(" GMT"));
    }
}

#[test]
fn other_methods_get_405_with_allow() {
    let site = Site::new();
    let srv = Running::start(site.files());
    for m in ["POST", "PUT", "DELETE", "PATCH"] {
        let r = request(srv.addr, m, "/small.txt", &[("Content-Length", "0")]);
        assert_eq!(r.status, 405, "{m}");
        let allow = r.header("allow").unwrap();
        assert!(allow.contains("GET") && allow.contains("HEAD"), "{allow}");
    }
}

// ------------------------------------------------------------------ conditionals

#[test]
fn conditional_requests_follow_rfc_9110_section_13() {
    let site = Site::new();
    // A Last-Modified well in the past, so that it is a strong validator.
    let past = SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    std::fs::File::options()
        .write(true)
        .open(site.root.join("small.txt"))
        .unwrap()
        .set_modified(past)
        .unwrap();
    let srv = Running::start(site.files().cache_control(".txt", "max-age=5"));
    let first = get(srv.addr, "/small.txt", &[]);
    let etag = first.header("etag").unwrap().to_string();
    let lm = first.header("last-modified").unwrap().to_string();
    assert_eq!(lm, "Sun, 13 Sep 2020 12:26:40 GMT");
    let weak = format!("W/{etag}");
    let list = format!("\"nope\", {etag}");
    let (old, new) = ("Sat, 12 Sep 2020 12:26:40 GMT", "Mon, 14 Sep 2020 12:26:40 GMT");
    let cases: &[(&[(&str, &str)], u16)] = &[
        (&[("If-None-Match", &etag)], 304),
        (&[("If-None-Match", &list)], 304),
        (&[("If-None-Match", &weak)], 304),
        (&[("If-None-Match", "*")], 304),
        (&[("If-None-Match", "\"nope\"")], 200),
        (&[("If-Modified-Since", &lm)], 304),
        (&[("If-Modified-Since", new)], 304),
        (&[("If-Modified-Since", old)], 200),
        (&[("If-Modified-Since", "Sunday, 13-Sep-20 12:26:40 GMT")], 304),
        (&[("If-Modified-Since", "Sun Sep 13 12:26:40 2020")], 304),
        (&[("If-Modified-Since", "not a date")], 200),
        // If-None-Match present: If-Modified-Since is ignored.
        (&[("If-None-Match", "\"nope\""), ("If-Modified-Since", new)], 200),
        (&[("If-Match", &etag)], 200),
        (&[("If-Match", &list)], 200),
        (&[("If-Match", "*")], 200),
        (&[("If-Match", "\"nope\"")], 412),
        (&[("If-Match", &weak)], 412),
        (&[("If-Unmodified-Since", old)], 412),
        (&[("If-Unmodified-Since", &lm)], 200),
        (&[("If-Unmodified-Since", new)], 200),
        // If-Match present: If-Unmodified-Since is not evaluated.
        (&[("If-Match", &etag), ("If-Unmodified-Since", old)], 200),
        // 412 is decided before 304.
        (&[("If-Match", "\"nope\""), ("If-None-Match", &etag)], 412),
        (&[("If-Unmodified-Since", old), ("If-None-Match", &etag)], 412),
    ];
    for (headers, want) in cases {
        for method in ["GET", "HEAD"] {
            let r = request(srv.addr, method, "/small.txt", headers);
            assert_eq!(r.status, *want, "{method} {headers:?}");
            match want {
                304 => {
                    assert!(r.body.is_empty(), "304 has no body");
                    assert_eq!(r.header("etag"), Some(etag.as_str()));
                    assert_eq!(r.header("last-modified"), Some(lm.as_str()));
                    assert_eq!(r.header("cache-control"), Some("max-age=5"));
                    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
                    assert!(!r.has("content-type") && !r.has("content-range"));
                    // §8.6 would allow the 200's length; clients then wait for a body.
                    assert!(!r.has("content-length") && !r.has("transfer-encoding"));
                }
                412 => {
                    assert!(!r.has("etag"));
                    if method == "GET" {
                        assert_eq!(r.body, b"Precondition Failed\n");
                    }
                }
                _ => {
                    if method == "GET" {
                        assert_eq!(r.body, site.read("small.txt"));
                    }
                }
            }
        }
    }
}

#[test]
fn a_304_carries_no_content_length_and_the_next_response_follows_it() {
    // RFC 9110 §8.6 allows a 304 the Content-Length a 200 would carry, but
    // common clients then wait for that many body bytes (nginx and h2o
    // send none). Raw bytes on one keep-alive connection: the 304 head,
    // then the next response's status line right after its blank line.
    let site = Site::new();
    let srv = Running::start(site.files());
    for file in ["small.txt", "large.bin"] {
        let etag = get(srv.addr, &format!("/{file}"), &[]).header("etag").unwrap().to_string();
        let mut s = TcpStream::connect(srv.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let req = format!(
            "GET /{file} HTTP/1.1\r\nHost: t\r\nIf-None-Match: {etag}\r\n\r\n\
             GET /empty.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        );
        s.write_all(req.as_bytes()).unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let raw = String::from_utf8(raw).unwrap();
        let (head, rest) = raw.split_once("\r\n\r\n").expect("a complete 304 head");
        assert!(head.starts_with("HTTP/1.1 304 "), "{head}");
        let lower = head.to_ascii_lowercase();
        assert!(!lower.contains("\r\ncontent-length:"), "{head}");
        assert!(!lower.contains("\r\ntransfer-encoding:"), "{head}");
        assert!(rest.starts_with("HTTP/1.1 200 OK\r\n"), "{rest:?}");
    }
}

// ------------------------------------------------------------------ ranges

#[test]
fn single_ranges() {
    let site = Site::new();
    let srv = Running::start(site.files());
    let large = site.read("large.bin");
    let small = site.read("small.txt");
    let n = large.len();
    for (file, data, spec, first, last) in [
        ("large.bin", &large, "bytes=0-0", 0, 0),
        ("large.bin", &large, "bytes=100-199", 100, 199),
        ("large.bin", &large, "bytes=1000000-", 1_000_000, n - 1),
        ("large.bin", &large, "bytes=-500", n - 500, n - 1),
        ("large.bin", &large, "bytes=-99999999", 0, n - 1),
        ("large.bin", &large, "bytes=3145000-99999999", 3_145_000, n - 1),
        ("large.bin", &large, "bytes=0-99,50-150", 0, 150),
        ("large.bin", &large, "bytes=0-,0-,0-,0-,0-", 0, n - 1),
        ("small.txt", &small, "bytes=10-19", 10, 19),
        ("small.txt", &small, "bytes=-5", small.len() - 5, small.len() - 1),
    ] {
        let r = get(srv.addr, &format!("/{file}"), &[("Range", spec)]);
        assert_eq!(r.status, 206, "{spec}");
        assert_eq!(r.header("content-range").unwrap(), format!("bytes {first}-{last}/{}", data.len()));
        assert_eq!(r.body, data[first..=last], "{spec}");
        assert!(r.header("content-type").unwrap().starts_with(if file == "small.txt" {
            "text/plain"
        } else {
            "application/"
        }));
        assert!(r.has("etag"));
    }
}

#[test]
fn multiple_ranges_are_multipart_byteranges() {
    let site = Site::new();
    let srv = Running::start(site.files());
    let large = site.read("large.bin");
    let n = large.len();
    let r = get(srv.addr, "/large.bin", &[("Range", "bytes=-10, 0-9,1000-1999 ,500000-")]);
    assert_eq!(r.status, 206);
    assert!(!r.has("content-range"), "no top-level Content-Range on multipart");
    let parts = parse_multipart(&r);
    // Sorted by position; each part carries its own Content-Range.
    let want = [(0, 9), (1000, 1999), (500_000, n - 1)];
    assert_eq!(parts.len(), want.len());
    for ((range, data), (a, b)) in parts.iter().zip(want) {
        assert_eq!(range, &format!("bytes {a}-{b}/{n}"));
        assert_eq!(data[..], large[a..=b]);
    }
    // Small files (served from memory otherwise) give the same framing.
    let small = site.read("small.txt");
    let r = get(srv.addr, "/small.txt", &[("Range", "bytes=0-4,200-209")]);
    let parts = parse_multipart(&r);
    assert_eq!(parts[0].1, small[0..5]);
    assert_eq!(parts[1].1, small[200..210]);
    assert!(r.text().contains("Content-Type: text/plain; charset=utf-8\r\n"));
}

#[test]
fn range_limits_prevent_amplification() {
    let site = Site::new();
    let srv = Running::start(site.files().max_ranges(8));
    let large = site.read("large.bin");
    // Overlapping ranges are coalesced: never more bytes than the file.
    let r = get(srv.addr, "/large.bin", &[("Range", "bytes=0-,1-,2-,3-,4-,5-,6-,7-")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.body.len(), large.len());
    assert_eq!(r.body, large);
    // Too many ranges: the header is ignored, a plain 200.
    let many = (0..9).map(|i| format!("{}-{}", i * 1000, i * 1000 + 1)).collect::<Vec<_>>().join(",");
    let r = get(srv.addr, "/large.bin", &[("Range", &format!("bytes={many}"))]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), large.len());
    // Nearby small ranges merge into one part.
    let r = get(srv.addr, "/large.bin", &[("Range", "bytes=0-9,20-29,40-49")]);
    assert_eq!(r.header("content-range"), Some(&*format!("bytes 0-49/{}", large.len())));
}

#[test]
fn unsatisfiable_and_ignored_ranges() {
    let site = Site::new();
    let srv = Running::start(site.files());
    let n = site.read("small.txt").len();
    for spec in ["bytes=99999-", "bytes=-0", &format!("bytes={n}-{}", n + 10)] {
        let r = get(srv.addr, "/small.txt", &[("Range", spec)]);
        assert_eq!(r.status, 416, "{spec}");
        assert_eq!(r.header("content-range"), Some(&*format!("bytes */{n}")));
        assert_eq!(r.body, b"Range Not Satisfiable\n");
    }
    for spec in ["bytes=5-1", "items=0-1", "bytes=x-y", "bytes 0-1", "bytes="] {
        let r = get(srv.addr, "/small.txt", &[("Range", spec)]);
        assert_eq!(r.status, 200, "{spec}");
        assert_eq!(r.body.len(), n);
    }
    // An empty file has no satisfiable range: 200, empty.
    let r = get(srv.addr, "/empty.txt", &[("Range", "bytes=0-")]);
    assert_eq!((r.status, r.body.len()), (200, 0));
    // Range is defined for GET only: HEAD describes the whole file.
    let r = request(srv.addr, "HEAD", "/small.txt", &[("Range", "bytes=0-1")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some(&*n.to_string()));
}

#[test]
fn if_range_with_etag_or_date() {
    let site = Site::new();
    let past = SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    std::fs::File::options()
        .write(true)
        .open(site.root.join("large.bin"))
        .unwrap()
        .set_modified(past)
        .unwrap();
    let srv = Running::start(site.files());
    let first = get(srv.addr, "/large.bin", &[("Range", "bytes=0-0")]);
    let etag = first.header("etag").unwrap().to_string();
    let lm = first.header("last-modified").unwrap().to_string();
    let weak = format!("W/{etag}");
    for (if_range, want) in [
        (etag.as_str(), 206),
        (lm.as_str(), 206),
        ("\"stale\"", 200),
        (weak.as_str(), 200),
        ("Mon, 14 Sep 2020 12:26:40 GMT", 200),
        ("garbage", 200),
    ] {
        let r = get(srv.addr, "/large.bin", &[("Range", "bytes=5-9"), ("If-Range", if_range)]);
        assert_eq!(r.status, want, "If-Range: {if_range}");
        assert_eq!(r.body.len(), if want == 206 { 5 } else { site.read("large.bin").len() });
    }
}

#[test]
fn files_larger_than_4_gib_are_served_exactly() {
    let site = Site::new();
    // A sparse 5 GiB file with markers past the 32-bit boundary.
    let len: u64 = 5 << 30;
    let f = std::fs::File::create(site.root.join("huge.bin")).unwrap();
    f.set_len(len).unwrap();
    use std::os::unix::fs::FileExt;
    f.write_all_at(b"MARKER-AT-4GiB", 1 << 32).unwrap();
    f.write_all_at(b"THE-END", len - 7).unwrap();
    let srv = Running::start(site.files());
    let h = request(srv.addr, "HEAD", "/huge.bin", &[]);
    assert_eq!(h.header("content-length"), Some("5368709120"));
    let r = get(srv.addr, "/huge.bin", &[("Range", "bytes=4294967296-4294967309")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-range"), Some("bytes 4294967296-4294967309/5368709120"));
    assert_eq!(r.body, b"MARKER-AT-4GiB");
    let r = get(srv.addr, "/huge.bin", &[("Range", "bytes=-7,4294967296-4294967301")]);
    let parts = parse_multipart(&r);
    assert_eq!(parts[0], ("bytes 4294967296-4294967301/5368709120".to_string(), b"MARKER".to_vec()));
    assert_eq!(parts[1], ("bytes 5368709113-5368709119/5368709120".to_string(), b"THE-END".to_vec()));
}

// ------------------------------------------------------------------ safety

#[test]
fn traversal_attempts_are_all_refused() {
    let site = Site::new();
    let srv = Running::start(site.files());
    let attempts = [
        "/../secret.txt",
        "/../../secret.txt",
        "/sub/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/.%2e/secret.txt",
        "/%2e./secret.txt",
        "/sub/%2e%2e/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/..%2Fsecret.txt",
        "/%2e%2e%2fsecret.txt",
        "/sub%2f..%2f..%2fsecret.txt",
        "/..%5csecret.txt",
        "/%5c..%5csecret.txt",
        "/..\\secret.txt",
        "/%252e%252e/secret.txt",
        "/%c0%ae%c0%ae/secret.txt",
        "/....//secret.txt",
        "/..;/secret.txt",
        "//../secret.txt",
        "/./../secret.txt",
        "/small.txt%00.html",
        "/%00../secret.txt",
        "/link_out",
        "/dir_out/secret.txt",
        "/dir_out/",
        "/.hidden",
        "/%2ehidden",
        "/.git/config",
        "/%2egit/config",
        "/sub/../.git/config",
        "/root/../secret.txt",
        "/%2e%2e%5csecret.txt",
    ];
    assert!(attempts.len() >= 20);
    for target in attempts {
        let r = get(srv.addr, target, &[]);
        assert!(matches!(r.status, 400 | 403 | 404), "{target}: {}", r.status);
        assert!(!r.text().contains(SECRET), "{target} leaked the secret");
    }
}

#[test]
fn a_path_is_percent_decoded_once() {
    // Dispatch decodes the path (what `Request::path` returns); decoding
    // it again would make `%25` a new escape: `100%.txt` would be a 400,
    // and `/a%2520b.txt` would name `a b.txt`.
    let site = Site::new();
    site.write("100%.txt", b"percent");
    site.write("a%20b.txt", b"literal escape");
    site.write("a b.txt", b"space");
    let srv = Running::start(site.files());
    for (target, body) in [
        ("/100%25.txt", "percent"),
        ("/a%2520b.txt", "literal escape"),
        ("/a%20b.txt", "space"),
        ("/sub/../100%25.txt", "percent"),
    ] {
        let r = get(srv.addr, target, &[]);
        assert_eq!((r.status, r.text().as_str()), (200, body), "{target}");
    }
}

#[test]
fn symlinks_out_of_the_root_only_when_allowed() {
    let site = Site::new();
    let srv = Running::start(site.files());
    assert_eq!(get(srv.addr, "/link_out", &[]).status, 404);
    assert_eq!(get(srv.addr, "/link_in", &[]).body, site.read("small.txt"));
    drop(srv);
    let srv = Running::start(site.files().allow_symlinks_out(true));
    assert_eq!(get(srv.addr, "/link_out", &[]).text(), SECRET);
    assert_eq!(get(srv.addr, "/dir_out/secret.txt", &[]).text(), SECRET);
}

#[test]
fn hidden_files_only_when_allowed() {
    let site = Site::new();
    let srv = Running::start(site.files().allow_hidden(true));
    assert_eq!(get(srv.addr, "/.hidden", &[]).status, 200);
    assert_eq!(get(srv.addr, "/.git/config", &[]).status, 200);
}

#[test]
fn special_files_are_not_served() {
    let site = Site::new();
    // A FIFO would block a reader; it must be refused without blocking.
    let status = std::process::Command::new("mkfifo").arg(site.root.join("fifo")).status();
    if !status.is_ok_and(|s| s.success()) {
        return;
    }
    let srv = Running::start(site.files());
    assert_eq!(get(srv.addr, "/fifo", &[]).status, 404);
    assert_eq!(get(srv.addr, "/small.txt", &[]).status, 200);
}

// ------------------------------------------------------------------ directories

#[test]
fn directories_redirect_and_serve_their_index() {
    let site = Site::new();
    let srv = Running::start(site.files());
    let r = get(srv.addr, "/sub", &[]);
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/sub/"));
    let r = get(srv.addr, "/sub?x=1&y=2", &[]);
    assert_eq!(r.header("location"), Some("/sub/?x=1&y=2"));
    assert_eq!(get(srv.addr, "/sub/", &[]).body, b"<p>sub</p>");
    assert_eq!(get(srv.addr, "/", &[]).body, site.read("index.html"));
    assert_eq!(get(srv.addr, "/nodir/", &[]).status, 404, "listing is off by default");
    assert_eq!(get(srv.addr, "/small.txt/", &[]).status, 404);
}

#[test]
fn mounted_under_a_prefix() {
    let site = Site::new();
    let srv = Running::app(App::new().static_files("/static", site.files()));
    assert_eq!(get(srv.addr, "/static/small.txt", &[]).body, site.read("small.txt"));
    assert_eq!(get(srv.addr, "/static", &[]).header("location"), Some("/static/"));
    assert_eq!(get(srv.addr, "/static/", &[]).body, site.read("index.html"));
    assert_eq!(get(srv.addr, "/static/sub", &[]).header("location"), Some("/static/sub/"));
    assert_eq!(get(srv.addr, "/static/../secret.txt", &[]).status, 404);
}

#[test]
fn mounted_inside_nested_scopes() {
    // The mount point includes the enclosing scopes' prefixes: the route
    // matched `/api/v1/files/...`, so that is what is stripped.
    let site = Site::new();
    let files = site.files();
    let srv = Running::app(App::new().scope("/api", |s| s.scope("/v1", |s| s.static_files("/files", files))));
    assert_eq!(get(srv.addr, "/api/v1/files/small.txt", &[]).body, site.read("small.txt"));
    assert_eq!(get(srv.addr, "/api/v1/files", &[]).header("location"), Some("/api/v1/files/"));
    assert_eq!(get(srv.addr, "/api/v1/files/", &[]).body, site.read("index.html"));
    assert_eq!(get(srv.addr, "/api/v1/files/sub", &[]).header("location"), Some("/api/v1/files/sub/"));
}

#[test]
fn optional_listing_is_escaped() {
    let site = Site::new();
    site.write("nodir/.dotfile", b"");
    std::fs::create_dir(site.root.join("nodir/inner")).unwrap();
    let srv = Running::start(site.files().listing(true));
    let r = get(srv.addr, "/nodir/", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let html = r.text();
    assert!(html.contains("<a href=\"./%3Cb%3E%26.txt\">&lt;b&gt;&amp;.txt</a>"), "{html}");
    assert!(html.contains("<a href=\"./inner/\">inner/</a>"), "{html}");
    assert!(!html.contains("<b>") && !html.contains(".dotfile"), "{html}");
    // An index still wins over the listing.
    assert_eq!(get(srv.addr, "/sub/", &[]).body, b"<p>sub</p>");
}

// ------------------------------------------------------------------ compression

#[test]
fn precompressed_siblings_follow_accept_encoding() {
    let site = Site::new();
    let srv = Running::start(site.files());
    let css = site.read("style.css");
    let plain = get(srv.addr, "/style.css", &[]);
    assert_eq!(plain.body, css);
    assert!(!plain.has("content-encoding"));
    assert_eq!(plain.header("vary"), Some("Accept-Encoding"));

    let gz = get(srv.addr, "/style.css", &[("Accept-Encoding", "gzip, deflate")]);
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gz.header("vary"), Some("Accept-Encoding"));
    assert_eq!(gz.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(gz.body, site.read("style.css.gz"));
    assert_eq!(gunzip(&gz.body), css);

    let br = get(srv.addr, "/style.css", &[("Accept-Encoding", "gzip, br")]);
    assert_eq!(br.header("content-encoding"), Some("br"));
    assert_eq!(br.body, b"pretend-brotli-bytes");
    let pick_gzip = get(srv.addr, "/style.css", &[("Accept-Encoding", "br;q=0.5, gzip")]);
    assert_eq!(pick_gzip.header("content-encoding"), Some("gzip"));
    let none = get(srv.addr, "/style.css", &[("Accept-Encoding", "gzip;q=0, br;q=0")]);
    assert_eq!(none.body, css);

    // Each representation has its own ETag, and conditionals use it.
    let tags = [&plain, &gz, &br].map(|r| r.header("etag").unwrap().to_string());
    assert!(tags[0] != tags[1] && tags[1] != tags[2] && tags[0] != tags[2], "{tags:?}");
    let r = get(srv.addr, "/style.css", &[("Accept-Encoding", "gzip"), ("If-None-Match", &tags[1])]);
    assert_eq!(r.status, 304);
    assert_eq!(r.header("etag"), Some(&*tags[1]));
    let r = get(srv.addr, "/style.css", &[("Accept-Encoding", "gzip"), ("If-None-Match", &tags[0])]);
    assert_eq!(r.status, 200);

    // With Range, identity is served.
    let r = get(srv.addr, "/style.css", &[("Accept-Encoding", "gzip"), ("Range", "bytes=0-3")]);
    assert_eq!(r.status, 206);
    assert!(!r.has("content-encoding"));
    assert_eq!(r.body, css[..4]);
}

#[test]
fn on_the_fly_gzip_is_cached_and_decompresses_to_the_original() {
    let site = Site::new();
    let srv = Running::start(site.files());
    // Small: compressed at once, from memory.
    let small = site.read("small.txt");
    let a = get(srv.addr, "/small.txt", &[("Accept-Encoding", "gzip")]);
    assert_eq!(a.header("content-encoding"), Some("gzip"));
    assert_eq!(a.header("vary"), Some("Accept-Encoding"));
    assert_eq!(gunzip(&a.body), small);
    assert!(a.body.len() < small.len());
    let b = get(srv.addr, "/small.txt", &[("Accept-Encoding", "gzip")]);
    assert_eq!(a.body, b.body);
    assert_eq!(a.header("etag"), b.header("etag"));
    assert_ne!(a.header("etag"), get(srv.addr, "/small.txt", &[]).header("etag"));

    // Large: compressed on the worker pool; identity until it is ready.
    let big = site.read("big.txt");
    let mut compressed = None;
    for _ in 0..200 {
        let r = get(srv.addr, "/big.txt", &[("Accept-Encoding", "gzip")]);
        assert_eq!(r.header("vary"), Some("Accept-Encoding"));
        if r.header("content-encoding") == Some("gzip") {
            compressed = Some(r);
            break;
        }
        assert_eq!(r.body, big);
        std::thread::sleep(Duration::from_millis(10));
    }
    let r = compressed.expect("gzip body ready within 2 s");
    assert_eq!(gunzip(&r.body), big);

    // Incompressible types are never compressed.
    let r = get(srv.addr, "/large.bin", &[("Accept-Encoding", "gzip")]);
    assert!(!r.has("content-encoding") && !r.has("vary"));
}

#[test]
fn large_files_are_gzipped_on_the_worker_pool_and_a_full_pool_serves_identity() {
    // One worker, a queue of one: a `workers` route that waits holds the
    // worker, a second one fills the queue. Compression must then wait for
    // the pool (identity meanwhile; no thread of its own), and happen once
    // the pool frees up.
    let site = Site::new();
    let (started_tx, started) = std::sync::mpsc::channel::<()>();
    let (release, wait) = std::sync::mpsc::channel::<()>();
    let (started_tx, wait) = (std::sync::Mutex::new(started_tx), std::sync::Mutex::new(wait));
    let app = App::new()
        .route(
            "GET",
            "/hold",
            weir::workers(move |_| {
                started_tx.lock().unwrap().send(()).unwrap();
                let _ = wait.lock().unwrap().recv();
                weir::Response::text("held")
            }),
        )
        .static_files("/", site.files());
    let config = weir::ServerConfig { worker_threads: 1, worker_queue: 1, ..weir::ServerConfig::default() };
    let server = Server::builder(app).shards(1).config(config).listen("127.0.0.1:0".parse().unwrap()).start();
    let srv = Running { addr: server.as_ref().unwrap().local_addrs()[0], server: server.ok() };
    // Each /hold on its own connection, its status read by its own thread.
    let (status_tx, statuses) = std::sync::mpsc::channel::<u16>();
    let hold = || {
        let (addr, tx) = (srv.addr, status_tx.clone());
        std::thread::spawn(move || tx.send(get(addr, "/hold", &[]).status).unwrap());
    };
    hold();
    started.recv().unwrap();
    // The worker is busy: of the next two, one is queued (the queue is then
    // full) and the other is refused at once.
    hold();
    hold();
    assert_eq!(statuses.recv().unwrap(), 503);

    let big = site.read("big.txt");
    for _ in 0..3 {
        let r = get(srv.addr, "/big.txt", &[("Accept-Encoding", "gzip")]);
        assert_eq!(
            (r.header("content-encoding"), r.body == big),
            (None, true),
            "identity while the pool is full"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Free the pool: a later request starts the compression, and the gzip
    // body follows.
    release.send(()).unwrap();
    release.send(()).unwrap();
    assert_eq!((statuses.recv().unwrap(), statuses.recv().unwrap()), (200, 200));
    let mut compressed = None;
    for _ in 0..500 {
        let r = get(srv.addr, "/big.txt", &[("Accept-Encoding", "gzip")]);
        if r.header("content-encoding") == Some("gzip") {
            compressed = Some(r);
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(gunzip(&compressed.expect("gzip body ready within 5 s").body), big);
}

// ------------------------------------------------------------------ cache

#[test]
fn a_file_changed_on_disk_is_served_fresh_after_revalidation() {
    let site = Site::new();
    let srv = Running::start(site.files().revalidate_after(Duration::from_millis(50)));
    let v1 = get(srv.addr, "/small.txt", &[]);
    assert_eq!(v1.body, site.read("small.txt"));
    let big1 = get(srv.addr, "/large.bin", &[]);
    // Rewrite both: one in place (same inode), one replaced by rename.
    site.write("small.txt", b"version two\n");
    let tmp = site.root.join("large.bin.tmp");
    std::fs::write(&tmp, b"replaced").unwrap();
    std::fs::rename(&tmp, site.root.join("large.bin")).unwrap();
    std::thread::sleep(Duration::from_millis(120));
    let v2 = get(srv.addr, "/small.txt", &[]);
    assert_eq!(v2.body, b"version two\n");
    assert_ne!(v1.header("etag"), v2.header("etag"));
    let big2 = get(srv.addr, "/large.bin", &[]);
    assert_eq!(big2.body, b"replaced");
    assert_ne!(big1.header("etag"), big2.header("etag"));
    // The old ETag no longer validates.
    let r = get(srv.addr, "/small.txt", &[("If-None-Match", v1.header("etag").unwrap())]);
    assert_eq!(r.status, 200);
    // A deleted file disappears; a new one appears.
    std::fs::remove_file(site.root.join("small.txt")).unwrap();
    site.write("new.txt", b"new");
    std::thread::sleep(Duration::from_millis(120));
    assert_eq!(get(srv.addr, "/small.txt", &[]).status, 404);
    assert_eq!(get(srv.addr, "/new.txt", &[]).body, b"new");
}

#[test]
fn works_with_the_cache_disabled_and_tiny() {
    let site = Site::new();
    for files in [site.files().open_file_cache(0, 0, 0), site.files().open_file_cache(2, 100, 64)] {
        let srv = Running::start(files);
        for _ in 0..3 {
            for name in ["small.txt", "large.bin", "style.css", "big.txt", "empty.txt"] {
                let r = get(srv.addr, &format!("/{name}"), &[("Range", "bytes=0-9,-10")]);
                let data = site.read(name);
                if data.is_empty() {
                    assert_eq!(r.status, 200);
                    continue;
                }
                let parts = parse_multipart(&r);
                assert_eq!(parts[0].1, data[..10]);
                assert_eq!(parts[1].1, data[data.len() - 10..]);
                assert_eq!(get(srv.addr, &format!("/{name}"), &[]).body, data);
            }
        }
    }
}
