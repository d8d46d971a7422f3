//! TLS end to end: weir's HTTPS listeners checked from outside, with
//! `openssl s_client` (an independent client whose verdicts — "Reused",
//! the certificate's subject, the ALPN protocol — are what an operator
//! would look at) and with the `openssl` crate's client for the data-heavy
//! cases (a 100 MiB file, keep-alive across a reload, `wss://`).
//!
//! Certificates are made by each test with the `openssl` crate: a CA, and
//! leaf certificates for the names under test, written as PEM files.

#![allow(clippy::unwrap_used)]

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::ssl::{SslConnector, SslMethod, SslStream, SslVerifyMode};
use openssl::x509::extension::{BasicConstraints, SubjectAlternativeName};
use openssl::x509::{X509Builder, X509NameBuilder, X509};
use weir::{App, Builtins, Response, Server, ServerConfig, StatsRegistry};
use weir_reactor::tls::{CertPair, Failure, TicketSecret, TlsAcceptor, TlsSettings};

use support::{drain_until_closed, expect_closed, patient, wait_until};

// ------------------------------------------------------------ certificates

/// A directory of PEM files for one test.
struct Pki {
    dir: PathBuf,
    ca: (X509, PKey<Private>),
}

fn ec_key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

fn rsa_key() -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap()
}

fn cert(names: &[&str], key: &PKey<Private>, issuer: Option<&(X509, PKey<Private>)>, ca: bool) -> X509 {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_nid(Nid::COMMONNAME, names[0]).unwrap();
    let name = name.build();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    let mut serial = BigNum::new().unwrap();
    serial.rand(64, MsbOption::MAYBE_ZERO, false).unwrap();
    b.set_serial_number(&serial.to_asn1_integer().unwrap()).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(issuer.map_or(&name, |(c, _)| c.subject_name())).unwrap();
    b.set_pubkey(key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
    b.set_not_after(&Asn1Time::days_from_now(30).unwrap()).unwrap();
    if ca {
        b.append_extension(BasicConstraints::new().critical().ca().build().unwrap()).unwrap();
    } else {
        let mut san = SubjectAlternativeName::new();
        for n in names {
            san.dns(n);
        }
        let ext = san.build(&b.x509v3_context(issuer.map(|(c, _)| c.as_ref()), None)).unwrap();
        b.append_extension(ext).unwrap();
    }
    b.sign(issuer.map_or(key, |(_, k)| k), MessageDigest::sha256()).unwrap();
    b.build()
}

impl Pki {
    fn new() -> Pki {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "weir-tls-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let key = ec_key();
        let ca = (cert(&["weir test CA"], &key, None, true), key);
        std::fs::write(dir.join("ca.pem"), ca.0.to_pem().unwrap()).unwrap();
        Pki { dir, ca }
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// A leaf for `names`, signed by the CA, written as `{file}.pem` (with
    /// the CA as its chain) and `{file}.key`.
    fn leaf(&self, file: &str, names: &[&str], rsa: bool) -> CertPair {
        let key = if rsa { rsa_key() } else { ec_key() };
        let leaf = cert(names, &key, Some(&self.ca), false);
        let mut pem = leaf.to_pem().unwrap();
        pem.extend(self.ca.0.to_pem().unwrap());
        let (c, k) = (self.path(&format!("{file}.pem")), self.path(&format!("{file}.key")));
        std::fs::write(&c, pem).unwrap();
        std::fs::write(&k, key.private_key_to_pem_pkcs8().unwrap()).unwrap();
        CertPair::new(c, k)
    }

    /// A ticket secret file.
    fn ticket_key(&self) -> PathBuf {
        let p = self.path("ticket.key");
        if !p.exists() {
            let mut secret = [0u8; 48];
            openssl::rand::rand_bytes(&mut secret).unwrap();
            std::fs::write(&p, secret).unwrap();
        }
        p
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ----------------------------------------------------------------- servers

struct Tls {
    server: Option<Server>,
    addr: SocketAddr,
    plain: SocketAddr,
    acceptor: Arc<TlsAcceptor>,
}

impl Drop for Tls {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            s.stop();
            let _ = s.join();
        }
    }
}

fn app() -> App {
    App::new()
        .get("/ping", |_| Response::text("pong"))
        .get("/big/:n", |req| Response::text("x".repeat(req.param("n").unwrap().parse().unwrap())))
}

fn serve(settings: TlsSettings, config: ServerConfig, shards: usize, app: App) -> Tls {
    let acceptor = Arc::new(TlsAcceptor::new(settings).unwrap());
    let server = Server::builder(app)
        .shards(shards)
        .config(config)
        .listen("127.0.0.1:0".parse().unwrap())
        .listen_tls("127.0.0.1:0".parse().unwrap(), acceptor.clone())
        .start()
        .unwrap();
    let (plain, addr) = (server.local_addrs()[0], server.local_addrs()[1]);
    Tls { server: Some(server), addr, plain, acceptor }
}

fn serve_certs(certs: Vec<CertPair>) -> Tls {
    serve(TlsSettings::new(certs), ServerConfig::default(), 1, app())
}

// ----------------------------------------------------------------- clients

/// What `openssl s_client` reported for one connection.
#[derive(Debug)]
struct SClient {
    out: String,
}

impl SClient {
    fn reused(&self) -> bool {
        self.out.contains("\nReused, ")
    }
    fn new_session(&self) -> bool {
        self.out.contains("\nNew, ")
    }
    fn subject_cn(&self) -> Option<&str> {
        let line = self.out.lines().find(|l| l.starts_with("subject="))?;
        line.rsplit("CN = ").next()
    }
    fn answered(&self) -> bool {
        self.out.contains("HTTP/1.1 200 OK")
    }
}

/// Runs `openssl s_client` with `args`, sends one request with
/// `Connection: close`, and collects everything it printed.
fn s_client(addr: SocketAddr, args: &[&str]) -> SClient {
    let mut child = Command::new("openssl")
        .args(["s_client", "-connect", &addr.to_string(), "-ign_eof"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl s_client runs (Debian package openssl)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"GET /ping HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    SClient { out: text }
}

/// A TLS client from the `openssl` crate, certificate not verified.
fn connect(addr: SocketAddr, sni: Option<&str>) -> SslStream<TcpStream> {
    let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
    b.set_verify(SslVerifyMode::NONE);
    let c = b.build();
    let tcp = TcpStream::connect(addr).unwrap();
    patient(&tcp);
    let mut cfg = c.configure().unwrap();
    cfg.set_verify_hostname(false);
    cfg.set_use_server_name_indication(sni.is_some());
    cfg.connect(sni.unwrap_or("unused"), tcp).unwrap()
}

/// One keep-alive request on `s`; the body.
fn get(s: &mut SslStream<TcpStream>, path: &str) -> String {
    write!(s, "GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).unwrap(), 1, "connection ended inside a response head");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase().strip_prefix("content-length: ").map(|v| v.trim().parse().unwrap())
        })
        .unwrap();
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap();
    String::from_utf8(body).unwrap()
}

fn peer_cn(s: &SslStream<TcpStream>) -> String {
    let cert = s.ssl().peer_certificate().unwrap();
    let cn = cert.subject_name().entries_by_nid(Nid::COMMONNAME).next().unwrap();
    cn.data().to_string().unwrap()
}

// ------------------------------------------------------------------- tests

#[test]
fn certificate_by_sni_exact_wildcard_and_default() {
    let pki = Pki::new();
    let tls = serve_certs(vec![
        pki.leaf("default", &["default.test"], false),
        pki.leaf("a", &["a.test"], false),
        pki.leaf("star", &["*.wild.test"], false),
    ]);
    for (sni, cn) in [
        (Some("a.test"), "a.test"),
        (Some("A.Test"), "a.test"),
        (Some("x.wild.test"), "*.wild.test"),
        (Some("deeper.x.wild.test"), "default.test"),
        (Some("wild.test"), "default.test"),
        (Some("unknown.test"), "default.test"),
        (None, "default.test"),
    ] {
        let mut s = connect(tls.addr, sni);
        assert_eq!(peer_cn(&s), cn, "SNI {sni:?}");
        assert_eq!(get(&mut s, "/ping"), "pong");
    }
    // The same through s_client.
    assert_eq!(s_client(tls.addr, &["-servername", "a.test"]).subject_cn(), Some("a.test"));
}

#[test]
fn ecdsa_and_rsa_for_the_same_names_each_to_its_client() {
    let pki = Pki::new();
    let tls = serve_certs(vec![pki.leaf("ec", &["both.test"], false), pki.leaf("rsa", &["both.test"], true)]);
    let key_of = |args: &[&str]| {
        let out = s_client(tls.addr, args).out;
        assert!(out.contains("HTTP/1.1 200 OK"), "{out}");
        out.lines().find(|l| l.starts_with("Server public key is")).unwrap().to_owned()
    };
    assert_eq!(key_of(&["-servername", "both.test"]), "Server public key is 256 bit");
    assert_eq!(
        key_of(&["-servername", "both.test", "-sigalgs", "RSA-PSS+SHA256:RSA+SHA256"]),
        "Server public key is 2048 bit"
    );
    assert_eq!(
        key_of(&["-servername", "both.test", "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"]),
        "Server public key is 2048 bit"
    );
}

#[test]
fn old_protocol_versions_are_refused_and_counted() {
    let pki = Pki::new();
    let tls = serve_certs(vec![pki.leaf("a", &["a.test"], false)]);
    for version in ["-tls1", "-tls1_1"] {
        let r = s_client(tls.addr, &[version, "-cipher", "DEFAULT:@SECLEVEL=0"]);
        assert!(!r.answered(), "{version} was served: {}", r.out);
    }
    wait_until("version failures counted", || tls.acceptor.stats().failed(Failure::Version) == 2);
    assert!(s_client(tls.addr, &["-tls1_2"]).answered());
    assert!(s_client(tls.addr, &["-tls1_3"]).answered());
}

#[test]
fn alpn_picks_http1_and_refuses_a_client_without_it() {
    let pki = Pki::new();
    let tls = serve_certs(vec![pki.leaf("a", &["a.test"], false)]);
    let r = s_client(tls.addr, &["-alpn", "h2,http/1.1"]);
    assert!(r.out.contains("ALPN protocol: http/1.1"), "{}", r.out);
    assert!(r.answered());
    let r = s_client(tls.addr, &["-alpn", "h2"]);
    assert!(!r.answered(), "{}", r.out);
    assert!(r.out.contains("no application protocol"), "{}", r.out);
    wait_until("alpn failure counted", || tls.acceptor.stats().failed(Failure::Alpn) == 1);
    // No ALPN at all: HTTP/1.1 by default.
    assert!(s_client(tls.addr, &[]).answered());
}

/// Gets a session with `first`, then offers it with `then`.
fn resume(addr: SocketAddr, dir: &Path, first: &[&str], then: &[&str]) -> (SClient, SClient) {
    let file = dir.join("session.pem");
    let _ = std::fs::remove_file(&file);
    let f = file.to_str().unwrap();
    let a = s_client(addr, &[first, &["-sess_out", f]].concat());
    assert!(a.new_session() && a.answered(), "{}", a.out);
    let b = s_client(addr, &[then, &["-sess_in", f]].concat());
    assert!(b.answered(), "{}", b.out);
    (a, b)
}

#[test]
fn resumption_by_ticket_and_session_id_but_never_across_names() {
    let pki = Pki::new();
    let tls = serve_certs(vec![pki.leaf("a", &["a.test"], false), pki.leaf("b", &["b.test"], false)]);
    let kinds: [&[&str]; 3] = [&["-tls1_3"], &["-tls1_2"], &["-tls1_2", "-no_ticket"]];
    for kind in kinds {
        let a = [kind, &["-servername", "a.test"]].concat();
        let b = [kind, &["-servername", "b.test"]].concat();
        let (_, same) = resume(tls.addr, &pki.dir, &a, &a);
        assert!(same.reused(), "{kind:?}: not resumed under the same name: {}", same.out);
        let (_, other) = resume(tls.addr, &pki.dir, &a, &b);
        assert!(!other.reused(), "{kind:?}: a session for a.test resumed as b.test");
        assert_eq!(other.subject_cn(), Some("b.test"));
    }
    let s = tls.acceptor.stats();
    assert_eq!(s.handshakes_resumed, 3);
    assert_eq!(s.handshakes_full, 9);
}

#[test]
fn tickets_survive_a_restart_and_span_shards_with_a_ticket_key() {
    let pki = Pki::new();
    let cert = pki.leaf("a", &["a.test"], false);
    let settings = || {
        let mut s = TlsSettings::new(vec![cert.clone()]);
        s.ticket_secret = TicketSecret::File(pki.ticket_key());
        s
    };
    let file = pki.path("s.pem");
    let f = file.to_str().unwrap();
    let first = serve(settings(), ServerConfig::default(), 2, app());
    for version in ["-tls1_3", "-tls1_2"] {
        let a = s_client(first.addr, &[version, "-servername", "a.test", "-sess_out", f]);
        assert!(a.new_session(), "{}", a.out);
        // Two shards: the kernel spreads these connections over both.
        for _ in 0..6 {
            let r = s_client(first.addr, &[version, "-servername", "a.test", "-sess_in", f]);
            assert!(r.reused(), "{version}: {}", r.out);
        }
    }
    // A ticket from the first process resumes on a second one (a restart).
    let a = s_client(first.addr, &["-tls1_3", "-servername", "a.test", "-sess_out", f]);
    assert!(a.new_session());
    drop(first);
    let second = serve(settings(), ServerConfig::default(), 1, app());
    let r = s_client(second.addr, &["-tls1_3", "-servername", "a.test", "-sess_in", f]);
    assert!(r.reused(), "not resumed after a restart: {}", r.out);
    // Without the key file, a new process has other keys.
    let third = serve(TlsSettings::new(vec![cert.clone()]), ServerConfig::default(), 1, app());
    let r = s_client(third.addr, &["-tls1_3", "-servername", "a.test", "-sess_in", f]);
    assert!(!r.reused());
}

#[test]
fn stalled_handshake_is_closed_at_the_timeout_while_others_are_served() {
    let pki = Pki::new();
    let config =
        ServerConfig { tls_handshake_timeout: Duration::from_millis(300), ..ServerConfig::default() };
    let tls = serve(TlsSettings::new(vec![pki.leaf("a", &["a.test"], false)]), config, 1, app());
    // Half a ClientHello: a record header announcing 512 bytes, then 40.
    let mut stalled = TcpStream::connect(tls.addr).unwrap();
    patient(&stalled);
    let mut half = vec![0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03];
    half.resize(45, 7);
    stalled.write_all(&half).unwrap();
    let mut other = connect(tls.addr, Some("a.test"));
    assert_eq!(get(&mut other, "/ping"), "pong");
    expect_closed(&mut stalled, "half a ClientHello");
    wait_until("abandoned handshake counted", || tls.acceptor.stats().failed(Failure::Abandoned) == 1);
    // The one served meanwhile is still fine.
    assert_eq!(get(&mut other, "/ping"), "pong");
}

#[test]
fn garbage_is_closed_and_plain_http_gets_a_400() {
    let pki = Pki::new();
    let tls = serve_certs(vec![pki.leaf("a", &["a.test"], false)]);
    let mut g = TcpStream::connect(tls.addr).unwrap();
    patient(&g);
    g.write_all(&(0..=255u8).cycle().take(600).collect::<Vec<_>>()).unwrap();
    drain_until_closed(&mut g, "garbage");
    let mut h = TcpStream::connect(tls.addr).unwrap();
    patient(&h);
    h.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    let mut answer = String::new();
    h.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{answer}");
    assert!(answer.contains("use https://"));
    let s = tls.acceptor.stats();
    assert_eq!((s.failed(Failure::Protocol), s.failed(Failure::PlainHttp)), (1, 1));
}

#[test]
fn a_100_mib_file_arrives_byte_exact() {
    let pki = Pki::new();
    let site = pki.path("site");
    std::fs::create_dir_all(&site).unwrap();
    let len = 100 * 1024 * 1024;
    // A pattern no two 16 KiB pieces share, so a piece sent twice or out of
    // order changes the digest.
    let data: Vec<u8> =
        (0..len as u32 / 4).flat_map(|i| i.wrapping_mul(2_654_435_761).to_le_bytes()).collect();
    std::fs::write(site.join("big.bin"), &data).unwrap();
    let want = openssl::sha::sha256(&data);
    drop(data);
    let app = App::new().static_dir("/", &site);
    let tls =
        serve(TlsSettings::new(vec![pki.leaf("a", &["a.test"], false)]), ServerConfig::default(), 1, app);
    assert!(!weir_reactor::tls::kernel_tls_available() || std::env::var("WEIR_EXPECT_KTLS").is_ok());
    let mut s = connect(tls.addr, Some("a.test"));
    s.write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").unwrap();
    let mut all = Vec::with_capacity(len + 512);
    s.read_to_end(&mut all).unwrap();
    let split = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(all.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert_eq!(all.len() - split, len);
    assert_eq!(openssl::sha::sha256(&all[split..]), want);
}

#[test]
fn kernel_tls_probe_agrees_with_the_kernel() {
    // Where the kernel lists no `tls` upper layer protocol, the probe must
    // say so (and file ranges then go in pieces: the 100 MiB test).
    let listed = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_available_ulp").unwrap_or_default();
    if !listed.split_whitespace().any(|u| u == "tls") {
        assert!(!weir_reactor::tls::kernel_tls_available());
    }
}

#[test]
fn wss_echo() {
    let pki = Pki::new();
    let stats = Arc::new(StatsRegistry::new(1));
    let app = Builtins::default().install(App::new(), stats.clone());
    let acceptor =
        Arc::new(TlsAcceptor::new(TlsSettings::new(vec![pki.leaf("a", &["a.test"], false)])).unwrap());
    let server = Server::builder(app)
        .shards(1)
        .stats(stats)
        .listen_tls("127.0.0.1:0".parse().unwrap(), acceptor)
        .start()
        .unwrap();
    let addr = server.local_addrs()[0];
    let tls = connect(addr, Some("a.test"));
    let (mut ws, resp) = tungstenite::client(format!("wss://a.test:{}/ws/echo", addr.port()), tls).unwrap();
    assert_eq!(resp.status(), 101);
    for msg in ["hello", &"y".repeat(70_000)] {
        ws.send(tungstenite::Message::text(msg)).unwrap();
        assert_eq!(ws.read().unwrap().into_text().unwrap().as_str(), msg);
    }
    ws.close(None).unwrap();
    server.stop();
    server.join().unwrap();
}

#[test]
fn reload_swaps_the_certificate_and_keeps_connections_a_bad_key_is_refused() {
    let pki = Pki::new();
    let pair = pki.leaf("site", &["old.test"], false);
    let tls = serve_certs(vec![pair.clone()]);
    let mut kept = connect(tls.addr, None);
    assert_eq!(peer_cn(&kept), "old.test");
    assert_eq!(get(&mut kept, "/ping"), "pong");

    // New certificate in the same files, then reload.
    pki.leaf("site", &["new.test"], false);
    let lines = tls.server.as_ref().unwrap().reload_tls();
    assert!(lines[0].is_ok(), "{lines:?}");
    assert_eq!(get(&mut kept, "/ping"), "pong", "the open connection keeps working");
    assert_eq!(peer_cn(&connect(tls.addr, None)), "new.test");

    // A key that does not match: refused, the current certificate stays.
    let other = pki.leaf("other", &["other.test"], false);
    std::fs::copy(&other.key, &pair.key).unwrap();
    let lines = tls.server.as_ref().unwrap().reload_tls();
    let err = lines[0].as_ref().unwrap_err();
    assert!(err.contains("does not match"), "{err}");
    assert_eq!(peer_cn(&connect(tls.addr, None)), "new.test");
    assert_eq!(get(&mut kept, "/ping"), "pong");
}

#[test]
fn bad_certificates_are_refused_with_the_reason() {
    let pki = Pki::new();
    let a = pki.leaf("a", &["a.test"], false);
    let b = pki.leaf("b", &["b.test"], false);
    let err = |pairs: Vec<CertPair>| TlsAcceptor::new(TlsSettings::new(pairs)).unwrap_err().to_string();
    assert!(err(vec![CertPair::new(&a.cert, &b.key)]).contains("does not match"));
    assert!(err(vec![CertPair::new(pki.path("missing.pem"), &a.key)]).contains("cannot read"));
    assert!(err(vec![CertPair::new(&a.key, &a.key)]).contains("no certificate in the file"));
    // A chain whose second certificate did not issue the first.
    let mut broken = std::fs::read(&a.cert).unwrap();
    let b_leaf = X509::stack_from_pem(&std::fs::read(&b.cert).unwrap()).unwrap().remove(0);
    let first_end = String::from_utf8_lossy(&broken).find("-----END CERTIFICATE-----").unwrap() + 26;
    broken.truncate(first_end);
    broken.extend(b_leaf.to_pem().unwrap());
    std::fs::write(pki.path("broken.pem"), broken).unwrap();
    assert!(err(vec![CertPair::new(pki.path("broken.pem"), &a.key)]).contains("chain does not build"));
    assert!(err(vec![]).contains("no certificate"));
}

#[test]
fn mutual_tls_accepts_a_good_client_certificate_and_refuses_none() {
    let pki = Pki::new();
    let mut settings = TlsSettings::new(vec![pki.leaf("a", &["a.test"], false)]);
    settings.client_ca = Some(pki.path("ca.pem"));
    let tls = serve(settings, ServerConfig::default(), 1, app());
    let client = pki.leaf("client", &["client.test"], false);
    let good = s_client(
        tls.addr,
        &[
            "-cert",
            client.cert.to_str().unwrap(),
            "-key",
            client.key.to_str().unwrap(),
            "-servername",
            "a.test",
        ],
    );
    assert!(good.answered(), "{}", good.out);
    let none = s_client(tls.addr, &["-servername", "a.test"]);
    assert!(!none.answered(), "{}", none.out);
    // A certificate from another CA.
    let other_ca = Pki::new();
    let stranger = other_ca.leaf("stranger", &["client.test"], false);
    let bad = s_client(
        tls.addr,
        &[
            "-cert",
            stranger.cert.to_str().unwrap(),
            "-key",
            stranger.key.to_str().unwrap(),
            "-servername",
            "a.test",
        ],
    );
    assert!(!bad.answered(), "{}", bad.out);
    wait_until("client certificate failures", || {
        tls.acceptor.stats().failed(Failure::ClientCertificate) == 2
    });
}

#[test]
fn over_the_handshake_bound_full_handshakes_are_refused_resumptions_admitted() {
    let pki = Pki::new();
    let cert = pki.leaf("a", &["a.test"], false);
    let settings = |max| {
        let mut s = TlsSettings::new(vec![cert.clone()]);
        s.ticket_secret = TicketSecret::File(pki.ticket_key());
        s.max_handshakes = max;
        s
    };
    let open = serve(settings(1024), ServerConfig::default(), 1, app());
    let full = serve(settings(0), ServerConfig::default(), 1, app());
    let f = pki.path("s.pem");
    let f = f.to_str().unwrap();
    assert!(s_client(open.addr, &["-servername", "a.test", "-sess_out", f]).new_session());
    let r = s_client(full.addr, &["-servername", "a.test", "-sess_in", f]);
    assert!(r.reused(), "a resumption was turned away: {}", r.out);
    assert!(!s_client(full.addr, &["-servername", "a.test"]).answered());
    wait_until("overload counted", || full.acceptor.stats().failed(Failure::Overload) == 1);
}

#[test]
fn redirect_to_https_and_hsts() {
    let pki = Pki::new();
    let config = ServerConfig {
        redirect_https: Some(8443),
        hsts: Some("max-age=31536000".into()),
        ..ServerConfig::default()
    };
    let tls = serve(TlsSettings::new(vec![pki.leaf("a", &["a.test"], false)]), config, 1, app());
    let mut p = TcpStream::connect(tls.plain).unwrap();
    patient(&p);
    p.write_all(
        b"POST /a/b?c=d HTTP/1.1\r\nHost: a.test:8080\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut answer = String::new();
    p.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 308 "), "{answer}");
    assert!(answer.contains("\r\nLocation: https://a.test:8443/a/b?c=d\r\n"), "{answer}");
    assert!(!answer.contains("Strict-Transport-Security"));
    let mut s = connect(tls.addr, Some("a.test"));
    s.write_all(b"GET /ping HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.contains("\r\nStrict-Transport-Security: max-age=31536000\r\n"), "{answer}");
    // A Host that is not a host name is not echoed into a Location.
    let mut p = TcpStream::connect(tls.plain).unwrap();
    patient(&p);
    p.write_all(b"GET / HTTP/1.1\r\nHost: evil.test/x\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    p.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
}

#[test]
fn pipelined_requests_and_a_large_body_over_tls() {
    let pki = Pki::new();
    let tls = serve_certs(vec![pki.leaf("a", &["a.test"], false)]);
    let mut s = connect(tls.addr, Some("a.test"));
    // Ten pipelined requests in one write, then their answers in order.
    let many: String = (0..10).map(|_| "GET /ping HTTP/1.1\r\nHost: t\r\n\r\n").collect();
    s.write_all(many.as_bytes()).unwrap();
    let mut got = Vec::new();
    let want = 10 * "HTTP/1.1 200 OK".len();
    let mut buf = [0u8; 4096];
    while got.windows(15).filter(|w| w == b"HTTP/1.1 200 OK").count() < 10 {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    assert!(got.len() > want);
    assert_eq!(get(&mut s, "/big/300000").len(), 300_000);
}

/// A TLS listener from a configuration file (the binary), and a reload
/// that changes its certificate: new connections get the new one, a
/// keep-alive connection made before goes on.
#[test]
fn a_config_file_serves_tls_and_a_reload_switches_its_certificate() {
    use std::io::BufRead;
    let pki = Pki::new();
    pki.leaf("one", &["one.test"], false);
    pki.leaf("two", &["two.test"], false);
    let conf = pki.path("weir.toml");
    let write = |leaf: &str| {
        let text = format!(
            "[builtins]\nenable = [\"ping\"]\n[[listener]]\naddress = \"127.0.0.1:0\"\ntls = true\n\
             certificates = [{{ cert = \"{leaf}.pem\", key = \"{leaf}.key\" }}]\n\
             [[host]]\ndefault = true\n[[host.location]]\nprefix = \"/\"\napp = true\n"
        );
        std::fs::write(&conf, text).unwrap();
    };
    write("one");
    let mut child = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["--threads", "2", "--config"])
        .arg(&conf)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let addr: SocketAddr =
        first.trim().trim_start_matches("weir listening on https://").trim_end_matches('/').parse().unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });

    let mut keep = connect(addr, Some("one.test"));
    assert_eq!(peer_cn(&keep), "one.test");
    assert_eq!(get(&mut keep, "/ping"), "pong");

    write("two");
    let pid = i32::try_from(child.id()).unwrap();
    weir_reactor::sys::signal::send_signal(pid, weir_reactor::sys::signal::SIGHUP).unwrap();
    let line = loop {
        let l = lines.recv_timeout(Duration::from_secs(10)).expect("a reload line");
        if l.starts_with("weir: reload") {
            break l;
        }
    };
    assert!(line.starts_with("weir: reloaded"), "{line}");
    let mut fresh = connect(addr, Some("two.test"));
    assert_eq!(peer_cn(&fresh), "two.test");
    assert_eq!(get(&mut fresh, "/ping"), "pong");
    assert_eq!(get(&mut keep, "/ping"), "pong", "the connection made before the reload goes on");

    // A certificate that does not load refuses the whole reload.
    std::fs::write(pki.path("bad.pem"), "not a certificate").unwrap();
    std::fs::write(pki.path("bad.key"), "not a key").unwrap();
    write("bad");
    weir_reactor::sys::signal::send_signal(pid, weir_reactor::sys::signal::SIGHUP).unwrap();
    let line = loop {
        let l = lines.recv_timeout(Duration::from_secs(10)).expect("a reload line");
        if l.starts_with("weir: reload") {
            break l;
        }
    };
    assert!(line.starts_with("weir: reload refused"), "{line}");
    assert_eq!(peer_cn(&connect(addr, Some("two.test"))), "two.test");
    let _ = child.kill();
    let _ = child.wait();
}
