//! HTTP/2 end to end: the real server on loopback, checked by independent
//! clients — h2spec (the conformance suite, strict mode, h2c and TLS),
//! curl (`--http2-prior-knowledge`, and `--http2` negotiated by ALPN), and
//! Python's `h2` package (concurrent streams) — and by raw frames for the
//! attack families, each asserting its bound.

#![allow(clippy::unwrap_used)]

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use openssl::asn1::Asn1Time;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::x509::extension::SubjectAlternativeName;
use openssl::x509::{X509Builder, X509NameBuilder};
use weir::h2::frame::{self, flag, kind, FrameHeader, FRAME_HEADER_LEN};
use weir::h2::hpack::{Encoder, IndexMode};
use weir::{App, Response, Server, ServerConfig};
use weir_reactor::tls::{CertPair, TlsAcceptor, TlsSettings, ALPN_H2_HTTP1};

use support::{patient, PATIENCE};

/// A 1 MiB body with a pattern, to check what arrives.
fn big() -> Vec<u8> {
    (0..1 << 20).map(|i: u32| (i % 251) as u8).collect()
}

struct H2Server {
    server: Option<Server>,
    plain: SocketAddr,
    tls: SocketAddr,
    dir: PathBuf,
}

impl Drop for H2Server {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            s.stop();
            let _ = s.join();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn scratch_dir() -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "weir-h2-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn self_signed(dir: &std::path::Path) -> CertPair {
    let key = PKey::from_ec_key(
        EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap(),
    )
    .unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_nid(Nid::COMMONNAME, "localhost").unwrap();
    let name = name.build();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
    b.set_not_after(&Asn1Time::days_from_now(2).unwrap()).unwrap();
    let san = SubjectAlternativeName::new().dns("localhost").build(&b.x509v3_context(None, None)).unwrap();
    b.append_extension(san).unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&c, b.build().to_pem().unwrap()).unwrap();
    std::fs::write(&k, key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    CertPair::new(c, k)
}

fn serve() -> H2Server {
    let dir = scratch_dir();
    let site = dir.join("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("big.bin"), big()).unwrap();
    let page: String = "weir speaks HTTP/2\n".repeat(100);
    let app = App::new()
        .get("/", move |_| Response::text(page.clone()))
        .post("/", |r| Response::text(r.body().to_vec()))
        .post("/echo", |r| Response::text(r.body().to_vec()))
        .get("/fast", |_| Response::text("fast"))
        .route(
            "GET",
            "/slow",
            weir::workers(|_| {
                std::thread::sleep(Duration::from_millis(400));
                Response::text("slow")
            }),
        )
        .route(
            "GET",
            "/work",
            weir::workers(|_| {
                std::thread::sleep(Duration::from_millis(2));
                Response::text("work")
            }),
        )
        .get("/cookie", |r| Response::text(r.header_str("cookie").unwrap_or("").to_owned()))
        // Every other way of answering, each served over HTTP/2 too.
        .route(
            "GET",
            "/deferred",
            weir::deferred(|_, responder| {
                std::thread::spawn(move || responder.respond(Response::text("later")));
            }),
        )
        .route(
            "GET",
            "/async",
            weir::async_handler(|_| async {
                weir::task::sleep(Duration::from_millis(5)).await;
                Response::text("awaited")
            }),
        )
        .get("/stream", |_| {
            Response::stream("text/plain", |mut sink| {
                for i in 0..50 {
                    let _ = sink.send(format!("chunk {i}\n"));
                }
            })
        })
        .static_dir("/files", &site);
    let stats = Arc::new(weir::StatsRegistry::new(1));
    let app = weir::Builtins { stats: true, ..weir::Builtins::none() }.install(app, stats.clone());
    let mut settings = TlsSettings::new(vec![self_signed(&dir)]);
    settings.alpn = ALPN_H2_HTTP1;
    let acceptor = Arc::new(TlsAcceptor::new(settings).unwrap());
    let config = ServerConfig { http2: Some(weir::h2::Config::default()), ..ServerConfig::default() };
    let server = Server::builder(app)
        .shards(1)
        .stats(stats)
        .config(config)
        .listen("127.0.0.1:0".parse().unwrap())
        .listen_tls("127.0.0.1:0".parse().unwrap(), acceptor)
        .start()
        .unwrap();
    let (plain, tls) = (server.local_addrs()[0], server.local_addrs()[1]);
    H2Server { server: Some(server), plain, tls, dir }
}

// ------------------------------------------------------------------ h2spec

fn h2spec() -> PathBuf {
    let beside = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/bin/h2spec");
    if beside.exists() {
        return beside;
    }
    PathBuf::from("/work/shared/bin/h2spec")
}

/// Runs h2spec in strict mode; returns (passed, failed, the failed cases' lines).
fn run_h2spec(addr: SocketAddr, tls: bool) -> (u32, u32, String) {
    let mut cmd = Command::new(h2spec());
    cmd.args(["-h", "127.0.0.1", "-p", &addr.port().to_string(), "--strict", "-o", "5"]);
    if tls {
        cmd.args(["-t", "-k"]);
    }
    let out = cmd.output().expect("h2spec runs (../shared/bin/h2spec)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let summary =
        text.lines().rev().find(|l| l.contains(" tests, ")).unwrap_or_else(|| panic!("no summary:\n{text}"));
    let num = |word: &str| -> u32 {
        let words: Vec<&str> = summary.split([' ', ',']).filter(|w| !w.is_empty()).collect();
        let i = words.iter().position(|w| *w == word).unwrap();
        words[i - 1].parse().unwrap()
    };
    let failed_lines: String = text.lines().filter(|l| l.contains('×')).collect::<Vec<_>>().join("\n");
    (num("passed"), num("failed"), failed_lines)
}

#[test]
fn h2spec_strict_over_tls_passes_every_case() {
    let s = serve();
    let (passed, failed, lines) = run_h2spec(s.tls, true);
    assert_eq!(failed, 0, "h2spec --strict -t failures:\n{lines}");
    assert_eq!(passed, 147);
}

#[test]
fn h2spec_strict_over_h2c_passes_all_but_the_shared_port_case() {
    // A plaintext port that serves HTTP/1.1 and h2c cannot tell an invalid
    // HTTP/2 preface from an HTTP/1 request (3.5/2 sends "INVALID
    // CONNECTION PREFACE"): it is answered as HTTP/1.1, 400. Every other case passes.
    let s = serve();
    let (passed, failed, lines) = run_h2spec(s.plain, false);
    assert_eq!((passed, failed), (146, 1), "h2spec --strict failures:\n{lines}");
    assert!(lines.contains("Sends invalid connection preface"), "{lines}");
}

// -------------------------------------------------------------------- curl

fn curl(args: &[&str]) -> (String, Vec<u8>) {
    let out = Command::new("curl")
        .args(["-s", "-k", "--max-time", "10", "-w", "\n%{http_version} %{http_code}"])
        .args(args)
        .output()
        .expect("curl runs");
    let mut body = out.stdout;
    let at = body.iter().rposition(|&b| b == b'\n').unwrap();
    let meta = String::from_utf8_lossy(&body[at + 1..]).into_owned();
    body.truncate(at);
    (meta, body)
}

#[test]
fn curl_speaks_h2c_with_prior_knowledge_and_h2_by_alpn() {
    let s = serve();
    let plain = format!("http://{}", s.plain);
    let tls = format!("https://localhost:{}", s.tls.port());
    let resolve = format!("localhost:{}:127.0.0.1", s.tls.port());
    let (meta, body) = curl(&["--http2-prior-knowledge", &format!("{plain}/fast")]);
    assert_eq!((meta.as_str(), &body[..]), ("2 200", &b"fast"[..]));
    let (meta, body) = curl(&["--http2", "--resolve", &resolve, &format!("{tls}/fast")]);
    assert_eq!((meta.as_str(), &body[..]), ("2 200", &b"fast"[..]));
    // HTTP/1.1 on the same ports is untouched.
    let (meta, _) = curl(&["--http1.1", &format!("{plain}/fast")]);
    assert_eq!(meta, "1.1 200");
    let (meta, _) = curl(&["--http1.1", "--resolve", &resolve, &format!("{tls}/fast")]);
    assert_eq!(meta, "1.1 200");
    // A request body, a 404, cookies joined, HEAD.
    let (meta, body) =
        curl(&["--http2-prior-knowledge", "--data-binary", "hello h2", &format!("{plain}/echo")]);
    assert_eq!((meta.as_str(), &body[..]), ("2 200", &b"hello h2"[..]));
    let (meta, _) = curl(&["--http2-prior-knowledge", &format!("{plain}/nope")]);
    assert_eq!(meta, "2 404");
    let (_, body) = curl(&[
        "--http2-prior-knowledge",
        "-H",
        "cookie: a=1",
        "-H",
        "cookie: b=2",
        &format!("{plain}/cookie"),
    ]);
    assert_eq!(body, b"a=1; b=2");
    let (meta, body) = curl(&["--http2-prior-knowledge", "-I", &format!("{plain}/files/big.bin")]);
    assert_eq!(meta, "2 200");
    assert!(
        String::from_utf8_lossy(&body).contains("content-length: 1048576"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    // A 1 MiB static file, read in bounded pieces, over both transports.
    let file_plain = format!("{plain}/files/big.bin");
    let file_tls = format!("{tls}/files/big.bin");
    for (mode, url) in [("--http2-prior-knowledge", &file_plain), ("--http2", &file_tls)] {
        let (meta, body) = curl(&[mode, "--resolve", &resolve, url]);
        assert_eq!(meta, "2 200", "{url}");
        assert!(body == big(), "{url}: {} bytes, content differs", body.len());
    }
    // A request body larger than the stream window (64 KiB): flow control
    // reopens it as the server stores the bytes.
    let upload = s.dir.join("upload.bin");
    std::fs::write(&upload, &big()[..300_000]).unwrap();
    let arg = format!("@{}", upload.display());
    let (meta, body) = curl(&["--http2-prior-knowledge", "--data-binary", &arg, &format!("{plain}/echo")]);
    assert_eq!(meta, "2 200");
    assert!(body == big()[..300_000], "{} bytes echoed", body.len());
}

#[test]
fn python_h2_streams_are_answered_as_they_finish() {
    // Python's `h2` package as the client: /slow (worker pool, 400 ms) on
    // stream 1, then /fast (inline) on stream 3, on one connection; the
    // fast answer must not wait behind the slow one.
    let s = serve();
    let script = r#"
import socket, sys, h2.connection, h2.events, h2.config
sock = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
c.initiate_connection()
for path in ("/slow", "/fast"):
    sid = c.get_next_available_stream_id()
    c.send_headers(sid, [(":method", "GET"), (":path", path), (":scheme", "http"), (":authority", "x")], end_stream=True)
sock.sendall(c.data_to_send())
order, bodies = [], {}
while len(order) < 2:
    data = sock.recv(65536)
    if not data:
        break
    for ev in c.receive_data(data):
        if isinstance(ev, h2.events.DataReceived):
            bodies[ev.stream_id] = bodies.get(ev.stream_id, b"") + ev.data
            c.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        if isinstance(ev, h2.events.StreamEnded):
            order.append(ev.stream_id)
    sock.sendall(c.data_to_send())
print(order, bodies.get(1), bodies.get(3))
"#;
    let out = Command::new("python3").arg("-c").arg(script).arg(s.plain.port().to_string()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "python h2 client: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout.trim(), "[3, 1] b'slow' b'fast'");
}

// ------------------------------------------------------- attack families

/// A raw HTTP/2 client: frames built with weir-h2's encoders.
struct Raw {
    sock: TcpStream,
    enc: Encoder,
    buf: Vec<u8>,
}

impl Raw {
    fn connect(addr: SocketAddr) -> Raw {
        let sock = TcpStream::connect(addr).unwrap();
        patient(&sock);
        let mut hello = frame::PREFACE.to_vec();
        frame::encode_settings(&mut hello, &[]);
        let mut r = Raw { sock, enc: Encoder::new(IndexMode::Stateless), buf: Vec::new() };
        r.send(&hello);
        r
    }

    fn send(&mut self, b: &[u8]) {
        // The server may close mid-flood: a failed write ends the flood.
        let _ = self.sock.write_all(b);
    }

    fn get(&mut self, out: &mut Vec<u8>, stream: u32, path: &str, flags: u8) {
        let mut block = Vec::new();
        for (n, v) in [(":method", "GET"), (":scheme", "http"), (":path", path), (":authority", "x")] {
            self.enc.encode_field(n.as_bytes(), v.as_bytes(), &mut block);
        }
        FrameHeader { len: block.len() as u32, kind: kind::HEADERS, flags, stream }.encode(out);
        out.extend_from_slice(&block);
    }

    /// Reads frames until the connection ends; returns them as (kind, flags, stream, payload).
    fn frames_until_closed(&mut self) -> Vec<(u8, u8, u32, Vec<u8>)> {
        let mut chunk = vec![0u8; 65536];
        let deadline = std::time::Instant::now() + PATIENCE;
        loop {
            match self.sock.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if support::is_reset(&e) => break,
                Err(e) => panic!("still open after {PATIENCE:?}: {e}"),
            }
            assert!(std::time::Instant::now() < deadline, "still open");
        }
        let mut v = Vec::new();
        let mut b = &self.buf[..];
        while let Some(h) = FrameHeader::parse(b) {
            let end = FRAME_HEADER_LEN + h.len as usize;
            if b.len() < end {
                break;
            }
            v.push((h.kind, h.flags, h.stream, b[FRAME_HEADER_LEN..end].to_vec()));
            b = &b[end..];
        }
        v
    }
}

fn goaway_code(frames: &[(u8, u8, u32, Vec<u8>)]) -> Option<u32> {
    frames
        .iter()
        .rev()
        .find(|f| f.0 == kind::GOAWAY)
        .map(|f| u32::from_be_bytes(f.3[4..8].try_into().unwrap()))
}

const ENHANCE_YOUR_CALM: u32 = 0xb;

/// Sends `units` of a flood built by `unit`, then expects GOAWAY
/// ENHANCE_YOUR_CALM and the connection closed.
fn flood(
    addr: SocketAddr,
    units: u32,
    mut unit: impl FnMut(&mut Raw, &mut Vec<u8>, u32),
) -> Vec<(u8, u8, u32, Vec<u8>)> {
    let mut c = Raw::connect(addr);
    let mut out = Vec::new();
    for i in 0..units {
        unit(&mut c, &mut out, i);
    }
    c.send(&out);
    let frames = c.frames_until_closed();
    assert_eq!(goaway_code(&frames), Some(ENHANCE_YOUR_CALM), "{} frames back", frames.len());
    frames
}

#[test]
fn rapid_reset_gets_enhance_your_calm() {
    let s = serve();
    // HEADERS + RST_STREAM on a worker-pool route: each stream is opened
    // and abandoned before its answer. The server dispatches at most the
    // budget's worth before GOAWAY.
    let frames = flood(s.plain, 2000, |c, out, i| {
        c.get(out, 1 + 2 * i, "/work", flag::END_STREAM | flag::END_HEADERS);
        frame::encode_rst_stream(out, 1 + 2 * i, weir::h2::ErrorCode::Cancel);
    });
    let last = frames
        .iter()
        .rev()
        .find(|f| f.0 == kind::GOAWAY)
        .map(|f| u32::from_be_bytes(f.3[..4].try_into().unwrap()));
    assert!(last.unwrap() <= 2 * 300, "last stream processed: {last:?}");
    // The server still serves others.
    let (meta, _) = curl(&["--http2-prior-knowledge", &format!("http://{}/fast", s.plain)]);
    assert_eq!(meta, "2 200");
}

#[test]
fn made_you_reset_gets_enhance_your_calm() {
    let s = serve();
    // Each stream is made invalid by the client (a WINDOW_UPDATE that
    // overflows the stream's window), so the server resets it itself.
    flood(s.plain, 2000, |c, out, i| {
        c.get(out, 1 + 2 * i, "/work", flag::END_STREAM | flag::END_HEADERS);
        frame::encode_window_update(out, 1 + 2 * i, frame::MAX_WINDOW);
    });
}

#[test]
fn continuation_flood_gets_enhance_your_calm() {
    let s = serve();
    let mut first = true;
    flood(s.plain, 20_000, |c, out, _| {
        if std::mem::take(&mut first) {
            c.get(out, 1, "/", flag::END_STREAM); // no END_HEADERS
        }
        FrameHeader { len: 1, kind: kind::CONTINUATION, flags: 0, stream: 1 }.encode(out);
        out.push(0x82);
    });
}

#[test]
fn control_frame_floods_get_enhance_your_calm() {
    let s = serve();
    flood(s.plain, 20_000, |_, out, _| frame::encode_settings(out, &[]));
    flood(s.plain, 20_000, |_, out, _| frame::encode_ping(out, false, *b"flooding"));
    flood(s.plain, 20_000, |_, out, _| frame::encode_window_update(out, 0, 1));
    flood(s.plain, 20_000, |_, out, i| {
        FrameHeader { len: 5, kind: kind::PRIORITY, flags: 0, stream: 1 + 2 * i }.encode(out);
        out.extend_from_slice(&[0, 0, 0, 0, 16]);
    });
    let mut first = true;
    flood(s.plain, 20_000, |c, out, _| {
        if std::mem::take(&mut first) {
            let mut b = Vec::new();
            c.get(&mut b, 1, "/echo", flag::END_HEADERS);
            out.extend(b);
        }
        frame::encode_data(out, 1, &[], false);
    });
}

#[test]
fn a_ping_flood_from_a_client_that_never_reads_is_bounded() {
    // The client writes PINGs and never reads: the server stops reading
    // once its output queue is full, and the budget ends it long before.
    let s = serve();
    let mut c = Raw::connect(s.plain);
    let mut out = Vec::new();
    for _ in 0..200_000 {
        frame::encode_ping(&mut out, false, *b"12345678");
    }
    c.sock.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
    let written = {
        let mut at = 0;
        while at < out.len() {
            match c.sock.write(&out[at..]) {
                Ok(n) => at += n,
                Err(_) => break,
            }
        }
        at
    };
    let frames = c.frames_until_closed();
    let acks = frames.iter().filter(|f| f.0 == kind::PING).count();
    assert!(acks <= 300, "{acks} PING ACKs queued for a client that never read ({written} bytes written)");
    assert_eq!(goaway_code(&frames), Some(ENHANCE_YOUR_CALM));
}

#[test]
fn hpack_bomb_and_too_many_streams_are_bounded() {
    let s = serve();
    // One 4 KB literal added to the table, then header blocks of 1-byte
    // references to it: answered 431 (never expanded), then GOAWAY.
    let mut big = vec![0x40, 0x01, b'x', 0x7f, 0xa1, 0x1e];
    big.extend([b'a'; 4000]);
    flood(s.plain, 200, |c, out, i| {
        let mut block = Vec::new();
        for (n, v) in [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "x")] {
            c.enc.encode_field(n.as_bytes(), v.as_bytes(), &mut block);
        }
        if i == 0 {
            block.extend_from_slice(&big);
        } else {
            block.extend([0xbe; 200]);
        }
        FrameHeader {
            len: block.len() as u32,
            kind: kind::HEADERS,
            flags: flag::END_STREAM | flag::END_HEADERS,
            stream: 1 + 2 * i,
        }
        .encode(out);
        out.extend(block);
    });
    // More streams than SETTINGS_MAX_CONCURRENT_STREAMS: the extra ones are refused.
    let mut c = Raw::connect(s.plain);
    let mut out = Vec::new();
    for i in 0..129 {
        c.get(&mut out, 1 + 2 * i, "/work", flag::END_STREAM | flag::END_HEADERS);
    }
    c.send(&out);
    c.sock.shutdown(std::net::Shutdown::Write).unwrap();
    let frames = c.frames_until_closed();
    let refused = frames.iter().filter(|f| f.0 == kind::RST_STREAM && f.3 == [0, 0, 0, 7]).count();
    assert_eq!(refused, 1, "stream 257 refused");
}

#[test]
fn shutdown_sends_goaway_in_two_phases_and_open_streams_finish() {
    let mut s = serve();
    let mut c = Raw::connect(s.plain);
    let mut out = Vec::new();
    c.get(&mut out, 1, "/slow", flag::END_STREAM | flag::END_HEADERS);
    c.send(&out);
    // Wait for the server's SETTINGS so that the stream is in before the stop.
    let mut buf = vec![0u8; 4096];
    let n = c.sock.read(&mut buf).unwrap();
    assert!(n >= FRAME_HEADER_LEN);
    std::thread::sleep(Duration::from_millis(50));
    let server = s.server.take().unwrap();
    server.stop();
    // Phase one: GOAWAY(2^31-1) and a PING; answered with the PING's ACK.
    let mut got = Vec::new();
    let ping = loop {
        let n = c.sock.read(&mut buf).unwrap();
        assert!(n > 0, "closed before the PING");
        got.extend_from_slice(&buf[..n]);
        let mut b = &got[..];
        let mut found = None;
        while let Some(h) = FrameHeader::parse(b) {
            let end = FRAME_HEADER_LEN + h.len as usize;
            if b.len() < end {
                break;
            }
            if h.kind == kind::PING {
                found = Some(b[FRAME_HEADER_LEN..end].to_vec());
            }
            b = &b[end..];
        }
        if let Some(p) = found {
            break p;
        }
    };
    let mut ack = Vec::new();
    frame::encode_ping(&mut ack, true, ping.try_into().unwrap());
    c.send(&ack);
    c.buf = got;
    let frames = c.frames_until_closed();
    let goaways: Vec<u32> = frames
        .iter()
        .filter(|f| f.0 == kind::GOAWAY)
        .map(|f| u32::from_be_bytes(f.3[..4].try_into().unwrap()))
        .collect();
    assert_eq!(goaways, [frame::MAX_WINDOW, 1], "phase one names 2^31-1, phase two the last stream");
    let body: Vec<u8> =
        frames.iter().filter(|f| f.0 == kind::DATA && f.2 == 1).flat_map(|f| f.3.clone()).collect();
    assert_eq!(body, b"slow", "the open stream finished");
    let _ = server.join();
}

#[test]
fn deferred_async_streamed_and_multi_range_answers_over_h2() {
    let s = serve();
    let h2c = format!("http://{}", s.plain);
    let h2 = format!("https://{}", s.tls);
    for (base, flag) in [(&h2c, "--http2-prior-knowledge"), (&h2, "--http2")] {
        let (meta, body) = curl(&[flag, &format!("{base}/deferred")]);
        assert_eq!((meta.as_str(), body.as_slice()), ("2 200", &b"later"[..]));
        let (meta, body) = curl(&[flag, &format!("{base}/async")]);
        assert_eq!((meta.as_str(), body.as_slice()), ("2 200", &b"awaited"[..]));
        let (meta, body) = curl(&[flag, &format!("{base}/stream")]);
        assert_eq!(meta, "2 200");
        let want: String = (0..50).map(|i| format!("chunk {i}\n")).collect();
        assert_eq!(String::from_utf8(body).unwrap(), want);
        // Two ranges: a multipart/byteranges body (parts) over HTTP/2.
        let (meta, body) = curl(&[flag, "-r", "0-9,100-109", &format!("{base}/files/big.bin")]);
        assert_eq!(meta, "2 206");
        let text = String::from_utf8_lossy(&body);
        assert!(
            text.contains("Content-Range: bytes 0-9/") && text.contains("Content-Range: bytes 100-109/"),
            "{text}"
        );
    }
    // /stats shows the TLS listener and HTTP/2 counters.
    let (meta, body) = curl(&["--http2", &format!("{h2}/stats")]);
    assert_eq!(meta, "2 200");
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(v["tls"][0]["handshakes"]["full"].as_u64().unwrap() >= 5, "{v}");
    assert!(v.get("http2").is_some(), "{v}");
}
