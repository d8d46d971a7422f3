//! `/metrics` on the admin listener, read by an independent parser of the
//! Prometheus text format (`prometheus-parse`) after a known workload: the
//! counts must be exact, the histogram cumulative, and the admin endpoints
//! absent from the public site.

#![allow(clippy::unwrap_used)]

mod common;
mod support;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use prometheus_parse::{Scrape, Value};
use weir::{App, Response, Server, StatsRegistry};

fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(common::READ_TIMEOUT)).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out[9..12].parse().unwrap();
    let body = out.split_once("\r\n\r\n").unwrap().1.to_owned();
    (status, body)
}

fn scrape(addr: SocketAddr) -> Scrape {
    let (status, body) = get(addr, "/metrics");
    assert_eq!(status, 200);
    Scrape::parse(body.lines().map(|l| Ok(l.to_owned()))).unwrap()
}

fn value(s: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    let want: HashMap<&str, &str> = labels.iter().copied().collect();
    let found: Vec<f64> = s
        .samples
        .iter()
        .filter(|x| x.metric == name && want.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .map(|x| match x.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
            _ => panic!("{name} is not a single value"),
        })
        .collect();
    assert_eq!(found.len(), 1, "{name} {labels:?}: {found:?}");
    found[0]
}

fn start() -> (Server, SocketAddr, SocketAddr) {
    let stats = Arc::new(StatsRegistry::new(2));
    let app = App::new().get("/hello", |_| Response::text("hi"));
    let server = Server::builder(app)
        .shards(2)
        .stats(stats)
        .listen("127.0.0.1:0".parse().unwrap())
        .admin("127.0.0.1:0".parse().unwrap())
        .start()
        .unwrap();
    let (site, admin) = (server.local_addrs()[0], server.local_addrs()[1]);
    (server, site, admin)
}

#[test]
fn counts_are_exact_after_a_known_workload() {
    let (server, site, admin) = start();
    for _ in 0..7 {
        assert_eq!(get(site, "/hello").0, 200);
    }
    for _ in 0..3 {
        assert_eq!(get(site, "/missing").0, 404);
    }
    let s = scrape(admin);
    assert_eq!(value(&s, "weir_http_responses_total", &[("class", "2xx")]), 7.0);
    assert_eq!(value(&s, "weir_http_responses_total", &[("class", "4xx")]), 3.0);
    assert_eq!(value(&s, "weir_http_responses_total", &[("class", "5xx")]), 0.0);
    // Ten site connections and this scrape's own.
    assert_eq!(value(&s, "weir_connections_accepted_total", &[]), 11.0);
    assert_eq!(value(&s, "weir_connections_refused_total", &[("reason", "cap")]), 0.0);
    assert!(value(&s, "weir_received_bytes_total", &[]) > 0.0);
    assert!(value(&s, "weir_process_open_fds", &[]) > 0.0);
    assert!(value(&s, "weir_process_resident_memory_bytes", &[]) > 1e6);
    assert_eq!(value(&s, "weir_ready", &[]), 1.0);
    // Every family has HELP and TYPE lines, and names follow the conventions.
    for sample in &s.samples {
        assert!(sample.metric.starts_with("weir_"), "{}", sample.metric);
        assert!(s.docs.contains_key(&sample.metric), "no HELP for {}", sample.metric);
    }
    // The first scrape is counted by the second.
    let s2 = scrape(admin);
    assert_eq!(value(&s2, "weir_http_responses_total", &[("class", "2xx")]), 8.0);
    server.stop();
    server.join().unwrap();
}

#[test]
fn admin_endpoints_live_only_on_the_admin_listener() {
    let (server, site, admin) = start();
    assert_eq!(get(site, "/metrics").0, 404);
    assert_eq!(get(site, "/readyz").0, 404);
    assert_eq!(get(admin, "/hello").0, 404);
    assert_eq!(get(admin, "/healthz"), (200, "ok\n".to_owned()));
    assert_eq!(get(admin, "/readyz"), (200, "ready\n".to_owned()));
    let stats = server.stats();
    assert!(stats.ready());
    server.stop();
    assert!(!stats.ready(), "a stopping server must report itself not ready");
    server.join().unwrap();
}

#[test]
fn tls_handshakes_and_certificate_expiry_are_exported() {
    use weir_reactor::tls::{CertPair, TlsAcceptor, TlsSettings};
    let dir = std::env::temp_dir().join(format!("weir-metrics-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("c.pem"), dir.join("k.pem"));
    let ok = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "10",
        ])
        .args(["-subj", "/CN=m.test", "-addext", "subjectAltName=DNS:m.test", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(ok.status.success());
    let tls = Arc::new(TlsAcceptor::new(TlsSettings::new(vec![CertPair::new(&cert, &key)])).unwrap());
    let server = Server::builder(App::new().get("/hello", |_| Response::text("hi")))
        .shards(1)
        .listen_tls("127.0.0.1:0".parse().unwrap(), tls)
        .admin("127.0.0.1:0".parse().unwrap())
        .start()
        .unwrap();
    let (site, admin) = (server.local_addrs()[0], server.local_addrs()[1]);
    for _ in 0..3 {
        let out = std::process::Command::new("openssl")
            .args(["s_client", "-connect", &site.to_string(), "-servername", "m.test"])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&out.stdout).contains("m.test"));
    }
    let mut garbage = TcpStream::connect(site).unwrap();
    garbage.write_all(&[0x16, 3, 1, 0, 4, 9, 9, 9, 9, 9, 9, 9, 9]).unwrap();
    let _ = garbage.read(&mut [0u8; 64]);
    support::wait_until("the TLS counters", || {
        let s = scrape(admin);
        value(&s, "weir_tls_handshakes_total", &[("kind", "full")]) == 3.0
            && value(&s, "weir_tls_handshake_failures_total", &[("reason", "protocol")]) == 1.0
    });
    let s = scrape(admin);
    let days = value(&s, "weir_tls_certificate_expiry_seconds", &[("name", "m.test")]) / 86_400.0;
    assert!((9.0..=10.0).contains(&days), "{days}");
    // The histogram: cumulative buckets ending with +Inf = count.
    let hist = s.samples.iter().find(|x| x.metric == "weir_tls_handshake_duration_seconds").unwrap();
    let Value::Histogram(buckets) = &hist.value else { panic!("not a histogram: {:?}", hist.value) };
    assert!(buckets.windows(2).all(|w| w[0].count <= w[1].count && w[0].less_than < w[1].less_than));
    assert_eq!(buckets.last().unwrap().count, 3.0);
    server.stop();
    server.join().unwrap();
    let _ = std::fs::remove_dir_all(dir);
}
