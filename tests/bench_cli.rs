//! `weir bench` end to end: the binary loads a real server on loopback in
//! every mode and its JSON report must add up; over TLS too (`https://`,
//! `wss://`), where the server's TLS counters show the handshakes.

#![cfg(feature = "cli")]
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::TestServer;
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName};
use openssl::x509::{X509Builder, X509Name, X509NameBuilder, X509};
use weir::reactor::tls::{CertPair, TlsAcceptor, TlsSettings};
use weir::ws::{Echo, WsRoute};
use weir::{App, Response, Server, ServerConfig, TopicRelay};

fn server() -> TestServer {
    let app = App::new()
        .get("/ping", |_| Response::text("pong"))
        .get("/missing", |_| Response::error(404))
        .ws("/ws/echo", WsRoute::new(Echo))
        .ws("/ws/pubsub/:topic", WsRoute::new(TopicRelay));
    TestServer::with_config(app, ServerConfig::default(), 2)
}

/// Runs `weir bench ARGS --json` and parses its report.
fn bench(args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .arg("bench")
        .args(args)
        .arg("--json")
        .output()
        .expect("weir runs");
    assert!(out.status.success(), "weir bench {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

#[test]
fn counted_runs_complete_exactly_their_requests_in_every_mode() {
    let srv = server();
    let http = format!("http://{}/ping", srv.addr);
    let ws = format!("ws://{}/ws/echo", srv.addr);
    for (args, n) in [
        (vec![http.as_str(), "-c", "4", "-t", "2", "-n", "2000"], 2000),
        (vec![http.as_str(), "-c", "4", "--pipeline", "8", "-n", "2000"], 2000),
        (vec![http.as_str(), "-c", "2", "--close", "-n", "300"], 300),
        (vec![ws.as_str(), "-c", "2", "--in-flight", "4", "-n", "1000"], 1000),
    ] {
        let r = bench(&args);
        assert_eq!(r["completed"], n, "{args:?}: {r}");
        assert_eq!(r["errors_total"], 0, "{args:?}: {r}");
    }
    let missing = format!("http://{}/missing", srv.addr);
    let r = bench(&[&missing, "-c", "1", "-n", "10"]);
    assert_eq!((r["completed"].as_u64(), r["errors"]["status_4xx"].as_u64()), (Some(10), Some(10)));
}

#[test]
fn rate_mode_keeps_its_schedule() {
    let srv = server();
    let r = bench(&[&format!("http://{}/ping", srv.addr), "-c", "4", "-R", "400", "-d", "1s"]);
    let done = r["completed"].as_u64().unwrap();
    assert!((360..=440).contains(&done), "400 req/s for 1 s: {r}");
    assert_eq!(r["latency_from"], "intended");
}

#[test]
fn broadcast_delivers_every_message_to_every_subscriber() {
    let srv = server();
    let url = format!("ws://{}/ws/pubsub/t", srv.addr);
    let r = bench(&[&url, "--subscribers", "20", "--publish-rate", "100", "-d", "1s", "-t", "2"]);
    assert_eq!(r["published"], 100, "{r}");
    assert_eq!(r["delivered"], 2000, "{r}");
    assert_eq!((r["drops"].as_u64(), r["errors_total"].as_u64()), (Some(0), Some(0)), "{r}");
    // A plain echo endpoint relays nothing to the others: refused, not hung.
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["bench", &format!("ws://{}/ws/echo", srv.addr), "--subscribers", "2", "--timeout", "1s"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("heard nothing"));
}

// ---------------------------------------------------------------- TLS

/// A test CA and a certificate for `localhost` and `127.0.0.1` issued by
/// it, written to a fresh directory (removed on drop).
struct Pki {
    dir: PathBuf,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn ec_key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

fn name(cn: &str) -> X509Name {
    let mut n = X509NameBuilder::new().unwrap();
    n.append_entry_by_text("CN", cn).unwrap();
    n.build()
}

/// A certificate for `subject` with `key`, signed by `issuer` (self-signed
/// when `None`), valid from yesterday for 30 days.
fn certificate(
    subject: &str,
    key: &PKey<Private>,
    issuer: Option<(&X509, &PKey<Private>)>,
    serial: u32,
) -> X509 {
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&BigNum::from_u32(serial).unwrap().to_asn1_integer().unwrap()).unwrap();
    b.set_subject_name(&name(subject)).unwrap();
    b.set_pubkey(key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
    b.set_not_after(&Asn1Time::days_from_now(30).unwrap()).unwrap();
    match issuer {
        None => {
            b.set_issuer_name(&name(subject)).unwrap();
            b.append_extension(BasicConstraints::new().critical().ca().build().unwrap()).unwrap();
            b.append_extension(KeyUsage::new().critical().key_cert_sign().crl_sign().build().unwrap())
                .unwrap();
            b.sign(key, MessageDigest::sha256()).unwrap();
        }
        Some((ca, ca_key)) => {
            b.set_issuer_name(ca.subject_name()).unwrap();
            let san = SubjectAlternativeName::new()
                .dns("localhost")
                .ip("127.0.0.1")
                .build(&b.x509v3_context(Some(ca), None))
                .unwrap();
            b.append_extension(san).unwrap();
            b.append_extension(KeyUsage::new().critical().digital_signature().build().unwrap()).unwrap();
            b.append_extension(ExtendedKeyUsage::new().server_auth().build().unwrap()).unwrap();
            b.sign(ca_key, MessageDigest::sha256()).unwrap();
        }
    }
    b.build()
}

fn pki(tag: &str) -> Pki {
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "weir-bench-tls-{}-{tag}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let (ca_key, leaf_key) = (ec_key(), ec_key());
    let ca = certificate("weir bench test CA", &ca_key, None, 1);
    let leaf = certificate("localhost", &leaf_key, Some((&ca, &ca_key)), 2);
    let pki = Pki { ca: dir.join("ca.pem"), cert: dir.join("cert.pem"), key: dir.join("key.pem"), dir };
    std::fs::write(&pki.ca, ca.to_pem().unwrap()).unwrap();
    std::fs::write(&pki.cert, leaf.to_pem().unwrap()).unwrap();
    std::fs::write(&pki.key, leaf_key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    pki
}

/// The app of [`server`] on a plaintext and a TLS listener; the TLS
/// acceptor's counters tell what the TLS port saw.
struct TlsServer {
    /// Kept for its drop, which stops the server.
    _server: TestServer,
    plain: SocketAddr,
    tls: SocketAddr,
    acceptor: Arc<TlsAcceptor>,
    pki: Pki,
}

impl TlsServer {
    fn start() -> TlsServer {
        let pki = pki("server");
        let settings = TlsSettings::new(vec![CertPair::new(&pki.cert, &pki.key)]);
        let acceptor = Arc::new(TlsAcceptor::new(settings).unwrap());
        let app = App::new()
            .get("/ping", |_| Response::text("pong"))
            .ws("/ws/echo", WsRoute::new(Echo))
            .ws("/ws/pubsub/:topic", WsRoute::new(TopicRelay));
        let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let server = Server::builder(app)
            .shards(2)
            .listen(loopback)
            .listen_tls(loopback, acceptor.clone())
            .start()
            .expect("server starts");
        // Plaintext listeners come first, then TLS ones.
        let (plain, tls) = (server.local_addrs()[0], server.local_addrs()[1]);
        TlsServer { _server: TestServer { server: Some(server), addr: tls }, plain, tls, acceptor, pki }
    }

    fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://{}{path}", self.tls)
    }

    /// Full and resumed handshakes so far.
    fn handshakes(&self) -> (u64, u64) {
        let s = self.acceptor.stats();
        (s.handshakes_full, s.handshakes_resumed)
    }
}

/// Runs `weir bench ARGS --json`, which must fail; returns its stderr.
fn bench_fails(args: &[&str]) -> String {
    let out =
        Command::new(env!("CARGO_BIN_EXE_weir")).arg("bench").args(args).arg("--json").output().unwrap();
    assert!(!out.status.success(), "weir bench {args:?} succeeded: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn https_and_wss_complete_their_requests_in_every_mode() {
    let srv = TlsServer::start();
    let https = srv.url("https", "/ping");
    let wss = srv.url("wss", "/ws/echo");
    for (args, n, handshakes) in [
        // Keep-alive: one handshake per connection.
        (vec![https.as_str(), "-n", "200"], 200, 64),
        (vec![https.as_str(), "-c", "4", "-t", "2", "--pipeline", "8", "-n", "800"], 800, 4),
        // A connection, so a handshake, per request.
        (vec![https.as_str(), "-c", "4", "--close", "-n", "200"], 200, 200),
        (vec![wss.as_str(), "-c", "2", "--in-flight", "4", "-n", "400"], 400, 2),
    ] {
        let before = srv.handshakes().0;
        let r = bench(&args);
        assert_eq!(r["completed"], n, "{args:?}: {r}");
        assert_eq!(r["errors_total"], 0, "{args:?}: {r}");
        assert_eq!(r["tls"]["handshakes"], "full", "{args:?}: {r}");
        assert_eq!(r["tls"]["verify"], false, "{args:?}: {r}");
        let full = srv.handshakes().0 - before;
        assert!(full >= handshakes, "{args:?}: {full} TLS handshakes, expected at least {handshakes}");
    }
    // Rate mode keeps its schedule over TLS too.
    let r = bench(&[&https, "-c", "2", "-R", "200", "-d", "0.5s"]);
    let done = r["completed"].as_u64().unwrap();
    assert!((80..=120).contains(&done) && r["errors_total"] == 0, "200 req/s for 0.5 s: {r}");
    // A plaintext run says nothing of TLS.
    let r = bench(&[&format!("http://{}/ping", srv.plain), "-c", "1", "-n", "5"]);
    assert!(r["tls"].is_null(), "{r}");
}

#[test]
fn tls_resume_resumes_sessions_and_full_handshakes_do_not() {
    let srv = TlsServer::start();
    let https = srv.url("https", "/ping");
    let (full0, resumed0) = srv.handshakes();
    let r = bench(&[&https, "-c", "2", "--close", "-n", "100"]);
    assert_eq!((r["completed"].as_u64(), r["errors_total"].as_u64()), (Some(100), Some(0)), "{r}");
    let (full1, resumed1) = srv.handshakes();
    assert_eq!(resumed1 - resumed0, 0, "no --tls-resume: every handshake full");
    assert!(full1 - full0 >= 100, "{} full handshakes for 100 connections", full1 - full0);

    let r = bench(&[&https, "-c", "2", "--close", "-n", "100", "--tls-resume"]);
    assert_eq!((r["completed"].as_u64(), r["errors_total"].as_u64()), (Some(100), Some(0)), "{r}");
    assert_eq!(r["tls"]["handshakes"], "resumed", "{r}");
    let (full2, resumed2) = srv.handshakes();
    assert!(resumed2 > resumed1, "--tls-resume: no handshake resumed ({} full)", full2 - full1);
    assert!(full2 - full1 + resumed2 - resumed1 >= 100, "a handshake per connection");
}

#[test]
fn tls_targets_fail_against_a_plaintext_port_and_an_unknown_ca() {
    let srv = TlsServer::start();
    // https:// to the plaintext port: the ClientHello gets an HTTP 400,
    // which no TLS client takes for a ServerHello.
    let plain_https = format!("https://{}/ping", srv.plain);
    let err = bench_fails(&[&plain_https, "-c", "2", "-n", "10", "--timeout", "2s"]);
    assert!(err.contains("tls"), "{err}");
    let err =
        bench_fails(&[&format!("wss://{}/ws/echo", srv.plain), "-c", "1", "-n", "10", "--timeout", "2s"]);
    assert!(err.contains("tls"), "{err}");
    // http:// to the TLS port: the server's plaintext 400 ("use https://").
    let r = bench(&[&format!("http://{}/ping", srv.tls), "-c", "1", "-n", "10", "--timeout", "2s"]);
    assert_eq!(r["errors"]["status_4xx"], 10, "{r}");

    // --tls-ca: the right CA verifies, another CA does not.
    let https = srv.url("https", "/ping");
    let ca = srv.pki.ca.to_str().unwrap();
    let r = bench(&[&https, "-c", "2", "-n", "20", "--tls-ca", ca]);
    assert_eq!((r["completed"].as_u64(), r["errors_total"].as_u64()), (Some(20), Some(0)), "{r}");
    assert_eq!(r["tls"]["verify"], true, "{r}");
    let other = pki("other");
    let err = bench_fails(&[&https, "-c", "1", "-n", "5", "--tls-ca", other.ca.to_str().unwrap()]);
    assert!(err.contains("tls"), "{err}");
    // By name (SNI, and the certificate's name checked), where localhost
    // is 127.0.0.1 first, as the server listens there only.
    let localhost = format!("https://localhost:{}/ping", srv.tls.port());
    if ("localhost", 0).to_socket_addrs().unwrap().next().is_some_and(|a| a.ip().is_ipv4()) {
        let r = bench(&[&localhost, "-c", "1", "-n", "5", "--tls-ca", ca]);
        assert_eq!((r["completed"].as_u64(), r["errors_total"].as_u64()), (Some(5), Some(0)), "{r}");
    }
}

#[test]
fn tls_connections_are_held_and_broadcast_over_wss() {
    let srv = TlsServer::start();
    let before = srv.handshakes().0;
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["bench", &srv.url("https", "/ping"), "--hold", "20", "-d", "0.1s"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.starts_with("holding 20 TLS connections"), "{stdout}");
    assert_eq!(srv.handshakes().0 - before, 20);
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["bench", &srv.url("wss", "/ws/echo"), "--hold", "5", "-d", "0.1s"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let url = srv.url("wss", "/ws/pubsub/t");
    let r = bench(&[&url, "--subscribers", "10", "--publish-rate", "50", "-d", "0.5s", "-t", "2"]);
    let published = r["published"].as_u64().unwrap();
    assert!(published > 0, "{r}");
    assert_eq!(r["delivered"].as_u64(), Some(published * 10), "{r}");
    assert_eq!((r["drops"].as_u64(), r["errors_total"].as_u64()), (Some(0), Some(0)), "{r}");
    assert_eq!(r["tls"]["handshakes"], "full", "{r}");
}
