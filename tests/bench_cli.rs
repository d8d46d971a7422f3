//! `weir bench` end to end: the binary loads a real server on loopback in
//! every mode and its JSON report must add up.

#![cfg(feature = "cli")]

mod common;

use std::process::Command;

use common::TestServer;
use weir::ws::{Echo, WsRoute};
use weir::{App, Response, ServerConfig, TopicRelay};

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
