//! `weir bench`: a load generator for HTTP/1.1 and WebSocket servers, built
//! on the same reactor as the server.
//!
//! ```text
//! weir bench http://127.0.0.1:8080/plaintext -c 64 -d 10s            keep-alive
//! weir bench http://127.0.0.1:8080/plaintext -c 64 --pipeline 16     pipelined
//! weir bench http://127.0.0.1:8080/ --close -c 16                    a connection per request
//! weir bench http://127.0.0.1:8080/ -n 100000 --json                 a fixed count, for machines
//! weir bench http://127.0.0.1:8080/ -R 20000 -c 32                   rate mode: latency from the schedule
//! weir bench ws://127.0.0.1:8080/ws/echo --size 64 --in-flight 4     WebSocket echo
//! weir bench ws://127.0.0.1:8080/ws/pubsub/t --subscribers 10000 --publish-rate 100
//!                                                                    WebSocket broadcast
//! weir bench http://127.0.0.1:8080/ --hold 10000 -d 20s              hold idle connections (memory)
//! weir bench https://127.0.0.1:8443/plaintext -c 64 -d 10s           the same over TLS (any mode)
//! weir bench https://127.0.0.1:8443/ --close --tls-resume -c 16      resumed handshakes per second
//! ```
//!
//! # How it works
//!
//! ```text
//!   main thread: parse URL, refuse non-loopback, build the request bytes once
//!      │ a weir-reactor Runtime without listeners: -t shards, each with its
//!      │ share of -c connections and -n requests (driver.rs)
//!      v
//!   shard ── epoll(ET) ── connections ── 1 ms timer wheel (rate mode) ── 100 ms tick
//!      │ load.rs: the request/response protocol (broadcast.rs: pub/sub)
//!      │ framing.rs delimits responses; histogram.rs records latencies
//!      v
//!   main thread: Go once every connection is open, a progress line every
//!   second (terminals only), Runtime::stop, then merges the shards'
//!   histograms and counters into one report (report.rs)
//! ```
//!
//! * **Request bytes are built once.** A run sends the same request over and
//!   over; each connection copies it (times the pipeline depth) into its
//!   output and writes it with one `write(2)`.
//! * **Responses are delimited, not parsed.** `Content-Length`, chunked and
//!   close-delimited framing are followed exactly, bodies are skipped as they
//!   stream past (see [`framing`]). Statuses are classified (4xx, 5xx count
//!   as errors *and* as responses, as in wrk).
//! * **WebSocket** messages are masked binary frames of `--size` bytes,
//!   encoded once per thread with random masking keys and then reused: the
//!   server's unmasking work is the same, but keys repeat (RFC 6455 asks a
//!   client for a fresh key per frame; this matters to proxies, not to a
//!   benchmark on loopback).
//! * **Latency** goes into a log-linear histogram with three significant
//!   digits ([`histogram`]), one per thread, merged at the end.
//! * **Connections open before the clock starts**: every connection is
//!   connected (and upgraded, for WebSocket) before the main thread says Go.
//! * **TLS** (`https://`, `wss://`, see [`tls`]): each load thread puts a
//!   TLS transport under its connections as they connect; the workloads
//!   read and write plaintext as over TCP, so every mode works over TLS.
//!   A keep-alive connection completes its handshake (and one untimed
//!   request) before the clock starts; with `--close` each request pays
//!   for its connection's handshake, which is what it measures.
//!
//! # What the latency means (coordinated omission)
//!
//! Without `-R` the generator is a *closed loop*: each connection sends its
//! next request only when a response frees a slot, so when the server stalls
//! the generator stops asking, and the requests it would have sent during the
//! stall are never measured. Closed-loop percentiles therefore understate
//! tail latency under stalls; they are right for comparing throughput and
//! typical service time (which is what wrk reports too). With `-R RATE` each
//! connection follows a fixed schedule and latency runs from the *intended*
//! send time (as in wrk2): a late request is charged for its wait. Use rate
//! mode, below saturation, for honest tail latency.
//!
//! The broadcast workload is open-loop by nature (the publisher never waits
//! for subscribers): see [`broadcast`].

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;

pub mod broadcast;
pub mod driver;
pub mod framing;
pub mod histogram;
mod hold;
pub mod load;
pub mod report;
pub mod target;
pub mod tls;
pub mod ws_client;

use report::{BroadcastSummary, Summary};
use target::{Scheme, Target};
use tls::{ClientTls, TlsOptions};

/// The options of `weir bench`.
#[derive(Debug, Args)]
// The field docs are also clap's --help text, where `[:PORT]` is plain text.
#[allow(rustdoc::broken_intra_doc_links)]
#[command(after_help = "Examples:\n  \
    weir bench http://127.0.0.1:8080/plaintext -c 64 -d 10s\n  \
    weir bench http://127.0.0.1:8080/plaintext -c 64 --pipeline 16 --json\n  \
    weir bench http://127.0.0.1:8080/ --close -c 16 -n 50000\n  \
    weir bench http://127.0.0.1:8080/plaintext -R 20000 -c 32 -d 30s\n  \
    weir bench ws://127.0.0.1:8080/ws/echo --size 64 --in-flight 4\n  \
    weir bench ws://127.0.0.1:8080/ws/pubsub/t --subscribers 10000 --publish-rate 100\n  \
    weir bench https://127.0.0.1:8443/plaintext -c 64 -d 10s\n  \
    weir bench https://127.0.0.1:8443/ --close --tls-resume -c 16 -d 5s\n\n\
    Latency is measured from the send time (closed loop) unless -R is given,\n\
    in which case it runs from each request's intended send time.")]
pub struct BenchArgs {
    /// Target: http://, https://, ws:// or wss://HOST[:PORT]/PATH (loopback only unless --allow-remote).
    pub url: String,
    /// Connections, across all threads.
    #[arg(short = 'c', long, default_value_t = 64)]
    pub connections: usize,
    /// How long to run (e.g. 10s, 500ms, 2m). Default 10s; with -n, an upper bound.
    #[arg(short = 'd', long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Stop after this many requests (messages) in total.
    #[arg(short = 'n', long)]
    pub requests: Option<u64>,
    /// Load threads, each with its own event loop.
    #[arg(short = 't', long, default_value_t = 1)]
    pub threads: usize,
    /// Requests in flight per connection (HTTP pipelining; WebSocket: messages in flight).
    #[arg(long, visible_alias = "in-flight", default_value_t = 1, value_name = "N")]
    pub pipeline: usize,
    /// A new connection for every request (sends `Connection: close`).
    #[arg(long)]
    pub close: bool,
    /// Extra request header, e.g. -H 'Accept: text/plain' (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Request method.
    #[arg(long, default_value = "GET")]
    pub method: String,
    /// Request body (sent with Content-Length).
    #[arg(long)]
    pub body: Option<String>,
    /// Rate mode: requests per second in total, latency from the intended send time.
    #[arg(short = 'R', long, value_name = "REQ_PER_S")]
    pub rate: Option<f64>,
    /// Give up on a request (and its connection) after this long.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// WebSocket message size in bytes.
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// Print one JSON object instead of the text report.
    #[arg(long)]
    pub json: bool,
    /// Allow targets that are not loopback addresses.
    #[arg(long)]
    pub allow_remote: bool,
    /// Open N connections, complete one request (ws://: the upgrade) on each, hold them idle for -d, exit.
    #[arg(long, value_name = "N")]
    pub hold: Option<usize>,
    /// Broadcast (ws:// pub/sub endpoint): N subscribers and one publisher; latency from publish to delivery.
    #[arg(long, value_name = "N", conflicts_with_all = ["connections", "requests", "pipeline", "close", "rate", "hold"])]
    pub subscribers: Option<usize>,
    /// Broadcast: messages the publisher sends per second.
    #[arg(long, value_name = "MSG_PER_S", default_value_t = 100.0, requires = "subscribers")]
    pub publish_rate: f64,
    /// https:// and wss://: verify the server's certificate against this CA (default: no verification).
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<std::path::PathBuf>,
    /// https:// and wss://: resume TLS sessions (each new connection offers the last session);
    /// without it every connection does a full handshake.
    #[arg(long)]
    pub tls_resume: bool,
}

/// Parses `10s`, `500ms`, `2m`, `1h`, `1.5s` or plain seconds.
///
/// # Errors
///
/// A number that does not parse or an unknown unit.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let value: f64 = num.parse().map_err(|_| format!("{s:?}: expected a duration like 10s or 500ms"))?;
    let secs = match unit {
        "" | "s" => value,
        "ms" => value / 1e3,
        "us" | "µs" => value / 1e6,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (use ms, s, m or h)")),
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("{s:?}: out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.into())
}

/// Builds one HTTP request (or the WebSocket upgrade head, which ends
/// before `Sec-WebSocket-Key` and the blank line).
fn build_request(args: &BenchArgs, target: &Target) -> io::Result<String> {
    let method = if target.scheme == Scheme::Ws { "GET" } else { args.method.as_str() };
    if method.is_empty()
        || !method.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.!#$%&'*+^`|~".contains(&b))
    {
        return Err(invalid(format!("--method {method:?}: not a token")));
    }
    // A `-H 'Host: ...'` replaces the URL's host (one Host field only:
    // servers answer two with 400, RFC 9112 §3.2).
    let host_given = args
        .headers
        .iter()
        .any(|h| h.split_once(':').is_some_and(|(n, _)| n.trim().eq_ignore_ascii_case("host")));
    let mut req = format!("{method} {} HTTP/1.1\r\n", target.path);
    if !host_given {
        req.push_str(&format!("Host: {}\r\n", target.host_header()));
    }
    for h in &args.headers {
        let (name, value) =
            h.split_once(':').ok_or_else(|| invalid(format!("-H {h:?}: expected NAME: VALUE")))?;
        if name.trim().is_empty() || h.contains(['\r', '\n']) {
            return Err(invalid(format!("-H {h:?}: bad header")));
        }
        req.push_str(&format!("{}: {}\r\n", name.trim(), value.trim()));
    }
    match target.scheme {
        Scheme::Ws => {
            req.push_str("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n");
        }
        Scheme::Http => {
            if args.close {
                req.push_str("Connection: close\r\n");
            }
            if let Some(body) = &args.body {
                req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
            } else {
                req.push_str("\r\n");
            }
        }
    }
    Ok(req)
}

/// Runs `weir bench`: prints the report and returns.
///
/// # Errors
///
/// Bad options, a refused or unreachable target.
pub fn run(args: BenchArgs) -> io::Result<()> {
    let target = Target::parse(&args.url).map_err(|e| invalid(e.0))?;
    let addrs = target.resolve()?;
    target::check_loopback(&addrs, args.allow_remote).map_err(|e| invalid(e.0))?;
    let addr = addrs[0];
    let request = build_request(&args, &target)?;
    if !target.tls && (args.tls_ca.is_some() || args.tls_resume) {
        return Err(invalid("--tls-ca and --tls-resume are for https:// and wss:// targets"));
    }
    let tls_options = target.tls.then(|| TlsOptions { ca: args.tls_ca.clone(), resume: args.tls_resume });
    if let Some(n) = args.hold {
        let hold_for = args.duration.unwrap_or(Duration::from_secs(10));
        let ws = target.scheme == Scheme::Ws;
        let tls = tls_options.map(|o| ClientTls::new(o, &target.host, 1)).transpose()?;
        return hold::hold(addr, request.as_bytes(), ws, n, hold_for, args.timeout, tls.as_ref());
    }
    if args.threads == 0 {
        return Err(invalid("-t must be at least 1"));
    }
    let _ = weir_reactor::sys::rlimit::raise_nofile_limit();
    if let Some(subscribers) = args.subscribers {
        let threads = args.threads.min(subscribers.max(1));
        let tls = tls_options.map(|o| ClientTls::new(o, &target.host, threads)).transpose()?;
        return run_broadcast(&args, &target, addr, request, subscribers, tls);
    }
    if args.connections == 0 || args.pipeline == 0 {
        return Err(invalid("-c and --pipeline must be at least 1"));
    }
    if args.close && args.pipeline > 1 {
        return Err(invalid("--close sends one request per connection: drop --pipeline"));
    }
    if args.rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
        return Err(invalid("-R must be a positive rate"));
    }
    let threads = args.threads.min(args.connections);
    let duration = match (args.duration, args.requests) {
        (d, Some(_)) => d,
        (Some(d), None) => Some(d),
        (None, None) => Some(Duration::from_secs(10)),
    };
    let depth = if args.close { 1 } else { args.pipeline };
    let http_batch = (target.scheme == Scheme::Http).then(|| request.repeat(depth).into_bytes());
    let tls = tls_options.map(|o| ClientTls::new(o, &target.host, threads)).transpose()?;
    let tls_report = tls.as_ref().map(|t| t.options.clone());
    let plan = Arc::new(load::Plan {
        addr,
        http_batch,
        ws: (target.scheme == Scheme::Ws).then(|| (request.clone(), args.size)),
        depth,
        head_method: args.method.eq_ignore_ascii_case("HEAD"),
        close_each: args.close,
        interval_ns: args.rate.map(|r| (1e9 * args.connections as f64 / r).max(1.0) as u64),
        timeout: args.timeout,
        duration,
        tls,
    });
    // Spread connections and requests evenly; the first shards take the remainders.
    let conns =
        (0..threads).map(|i| args.connections / threads + usize::from(i < args.connections % threads));
    let quotas = (0..threads)
        .map(|i| args.requests.map(|n| n / threads as u64 + u64::from((i as u64) < n % threads as u64)));
    let tallies = load::run(plan, conns.collect(), quotas.collect(), args.json)?;
    let (elapsed, completed, bytes_read, errors, latency) = Summary::merge(tallies);
    let summary = Summary {
        url: args.url.clone(),
        mode: if target.scheme == Scheme::Ws { "ws" } else { "http" },
        threads,
        connections: args.connections,
        depth,
        close: args.close,
        rate: args.rate,
        tls: tls_report,
        elapsed,
        completed,
        bytes_read,
        errors,
        latency,
    };
    if args.json {
        println!("{}", summary.to_json());
    } else {
        print!("{}", summary.to_text());
    }
    Ok(())
}

/// The broadcast workload (`--subscribers`).
fn run_broadcast(
    args: &BenchArgs,
    target: &Target,
    addr: std::net::SocketAddr,
    head: String,
    subscribers: usize,
    tls: Option<ClientTls>,
) -> io::Result<()> {
    if target.scheme != Scheme::Ws {
        return Err(invalid("--subscribers needs a ws:// pub/sub endpoint"));
    }
    if subscribers == 0 {
        return Err(invalid("--subscribers must be at least 1"));
    }
    if !(args.publish_rate > 0.0 && args.publish_rate.is_finite()) {
        return Err(invalid("--publish-rate must be a positive rate"));
    }
    if args.size < broadcast::STAMP_LEN {
        return Err(invalid(format!("--size: at least {} bytes (the stamp)", broadcast::STAMP_LEN)));
    }
    let threads = args.threads.min(subscribers);
    let plan = Arc::new(broadcast::Plan {
        addr,
        head,
        subscribers,
        rate: args.publish_rate,
        size: args.size,
        duration: args.duration.unwrap_or(Duration::from_secs(10)),
        timeout: args.timeout,
        epoch: Instant::now(),
        tls,
    });
    let tallies = broadcast::run(plan.clone(), threads, args.json)?;
    let summary = BroadcastSummary::merge(args.url.clone(), threads, &plan, tallies);
    if args.json {
        println!("{}", summary.to_json());
    } else {
        print!("{}", summary.to_text());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cmd {
        #[command(flatten)]
        args: BenchArgs,
    }

    fn args(argv: &[&str]) -> BenchArgs {
        Cmd::parse_from(std::iter::once("bench").chain(argv.iter().copied())).args
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("10 parsecs").is_err());
        assert!(parse_duration("s").is_err());
    }

    #[test]
    fn requests_are_built_once() {
        let a = args(&["http://127.0.0.1:9/x?y", "-H", "Accept: */*", "--close"]);
        let t = Target::parse(&a.url).unwrap();
        assert_eq!(
            build_request(&a, &t).unwrap(),
            "GET /x?y HTTP/1.1\r\nHost: 127.0.0.1:9\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
        let a = args(&["http://localhost/", "--method", "POST", "--body", "hi"]);
        let t = Target::parse(&a.url).unwrap();
        assert_eq!(
            build_request(&a, &t).unwrap(),
            "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\nhi"
        );
        // A Host given with -H replaces the URL's: one Host field only.
        let a = args(&["http://127.0.0.1:9/", "-H", "host: bench.test"]);
        let t = Target::parse(&a.url).unwrap();
        assert_eq!(build_request(&a, &t).unwrap(), "GET / HTTP/1.1\r\nhost: bench.test\r\n\r\n");
        let a = args(&["http://localhost/", "--method", "GE T"]);
        assert!(build_request(&a, &Target::parse(&a.url).unwrap()).is_err());
        let a = args(&["http://localhost/", "-H", "no colon"]);
        assert!(build_request(&a, &Target::parse(&a.url).unwrap()).is_err());
    }

    #[test]
    fn tls_options_need_a_tls_target() {
        for flag in [["--tls-resume", ""], ["--tls-ca", "ca.pem"]] {
            let argv: Vec<&str> = ["http://127.0.0.1:9/", "-d", "1s"]
                .into_iter()
                .chain(flag)
                .filter(|s| !s.is_empty())
                .collect();
            let err = run(args(&argv)).unwrap_err();
            assert!(err.to_string().contains("https://"), "{argv:?}: {err}");
        }
        let a = args(&["https://localhost:8443/", "--tls-resume"]);
        let t = Target::parse(&a.url).unwrap();
        assert!(t.tls && a.tls_resume);
        assert_eq!(build_request(&a, &t).unwrap(), "GET / HTTP/1.1\r\nHost: localhost:8443\r\n\r\n");
    }

    #[test]
    fn remote_targets_are_refused() {
        let err = run(args(&["http://192.0.2.1:80/", "-d", "1s"])).unwrap_err();
        assert!(err.to_string().contains("--allow-remote"), "{err}");
    }
}
