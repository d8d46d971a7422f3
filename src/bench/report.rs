//! The results of a run: merged from the shards, printed for people
//! (aligned text) or for machines (`--json`).

use std::fmt::Write as _;
use std::time::Duration;

use super::broadcast::{self, Plan as BroadcastPlan};
use super::driver::{ErrorKind, Errors};
use super::histogram::Histogram;
use super::load::Tally;
use super::tls::TlsOptions;

/// The percentiles every report shows.
pub const PERCENTILES: [f64; 5] = [50.0, 90.0, 99.0, 99.9, 100.0];

/// Everything measured, merged across shards.
#[derive(Debug)]
pub struct Summary {
    /// What was loaded, for the header line.
    pub url: String,
    /// `"http"` or `"ws"`.
    pub mode: &'static str,
    /// Load threads.
    pub threads: usize,
    /// Connections, across all threads.
    pub connections: usize,
    /// Requests (messages) in flight per connection.
    pub depth: usize,
    /// A new connection per request.
    pub close: bool,
    /// Rate mode: target requests per second.
    pub rate: Option<f64>,
    /// `https://`, `wss://`: how connections handshake.
    pub tls: Option<TlsOptions>,
    /// Measured time: the deadline, or the last response of a counted run.
    pub elapsed: Duration,
    /// Responses (messages) completed.
    pub completed: u64,
    /// Bytes read.
    pub bytes_read: u64,
    /// Errors, indexed like [`ErrorKind::ALL`].
    pub errors: [u64; ErrorKind::ALL.len()],
    /// Latency in nanoseconds.
    pub latency: Histogram,
}

impl Summary {
    /// Merges the shards' tallies.
    pub fn merge(tallies: Vec<Tally>) -> (Duration, u64, u64, [u64; ErrorKind::ALL.len()], Histogram) {
        let mut latency = Histogram::new();
        let (mut completed, mut bytes, mut errors) = (0, 0, [0; ErrorKind::ALL.len()]);
        let mut elapsed = Duration::ZERO;
        for t in tallies {
            latency.merge(&t.latency);
            completed += t.completed;
            bytes += t.bytes_read;
            for (a, b) in errors.iter_mut().zip(t.errors) {
                *a += b;
            }
            elapsed = elapsed.max(t.finished.saturating_duration_since(t.started));
        }
        (elapsed, completed, bytes, errors, latency)
    }

    /// Responses per second.
    pub fn rate(&self) -> f64 {
        self.completed as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Bytes read per second.
    pub fn throughput(&self) -> f64 {
        self.bytes_read as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The report for people.
    pub fn to_text(&self) -> String {
        let unit = if self.mode == "ws" { "msg" } else { "req" };
        let mut s = String::new();
        let how = match (self.close, self.mode) {
            (true, _) => "a connection per request".to_string(),
            (false, "ws") => format!("{} in flight per connection", self.depth),
            (false, _) if self.depth > 1 => format!("pipeline {}", self.depth),
            _ => "keep-alive".to_string(),
        };
        let _ = writeln!(
            s,
            "weir bench {}\n  {} thread(s), {} connection(s), {how}, {:.2} s{}",
            self.url,
            self.threads,
            self.connections,
            self.elapsed.as_secs_f64(),
            self.rate.map_or(String::new(), |r| format!(", target {r:.0} {unit}/s"))
        );
        tls_line(&mut s, self.tls.as_ref());
        let _ = writeln!(s, "  {:<12}{:>14.1} {unit}/s   ({} in total)", "rate", self.rate(), self.completed);
        let _ = writeln!(
            s,
            "  {:<12}{:>14} /s     ({} in total)",
            "throughput",
            human_bytes(self.throughput()),
            human_bytes(self.bytes_read as f64)
        );
        let _ = writeln!(s, "  {:<12}{}", "latency", latency_line(&self.latency));
        let _ = writeln!(
            s,
            "  {:<12}mean {}, measured from {}",
            "",
            human_ns(self.latency.mean() as u64),
            if self.rate.is_some() {
                "the intended send time (rate mode)"
            } else {
                "the send time (closed loop)"
            }
        );
        let _ = writeln!(s, "  {:<12}{}", "errors", errors_line(&self.errors));
        s
    }

    /// The report for machines: one JSON object (times in microseconds).
    pub fn to_json(&self) -> serde_json::Value {
        let (latency, curve) = latency_json(&self.latency);
        serde_json::json!({
            "url": self.url,
            "mode": self.mode,
            "threads": self.threads,
            "connections": self.connections,
            "depth": self.depth,
            "close": self.close,
            "target_rate": self.rate,
            "tls": self.tls.as_ref().map(TlsOptions::to_json),
            "latency_from": if self.rate.is_some() { "intended" } else { "sent" },
            "elapsed_s": self.elapsed.as_secs_f64(),
            "completed": self.completed,
            "rate": self.rate(),
            "bytes_read": self.bytes_read,
            "throughput_bytes_per_s": self.throughput(),
            "errors": errors_json(&self.errors),
            "errors_total": self.errors.iter().sum::<u64>(),
            "latency_us": latency,
            "latency_curve_us": curve,
        })
    }
}

/// A broadcast run (`--subscribers`), merged across shards.
#[derive(Debug)]
pub struct BroadcastSummary {
    /// The pub/sub endpoint.
    pub url: String,
    /// Load threads.
    pub threads: usize,
    /// Subscriber connections.
    pub subscribers: usize,
    /// Message size in bytes.
    pub size: usize,
    /// The asked publish rate, messages per second.
    pub target_rate: f64,
    /// `wss://`: how connections handshake.
    pub tls: Option<TlsOptions>,
    /// Messages published during the measurement.
    pub published: u64,
    /// How long the publisher published (its schedule: -d).
    pub publish_time: Duration,
    /// Copies delivered, over all subscribers.
    pub delivered: u64,
    /// From the start of publishing to its end or the last delivery, whichever is later.
    pub delivery_time: Duration,
    /// Copies missing between two delivered ones.
    pub gaps: u64,
    /// Copies that arrived after a later one.
    pub out_of_order: u64,
    /// How long the run waited for the last copies (`--timeout`).
    pub drain: Duration,
    /// Bytes the subscribers read.
    pub bytes_read: u64,
    /// Errors, indexed like [`ErrorKind::ALL`].
    pub errors: Errors,
    /// Publish-to-delivery latency in nanoseconds.
    pub latency: Histogram,
}

impl BroadcastSummary {
    /// Merges the shards' tallies (shard 0's holds the publisher's counts).
    pub fn merge(url: String, threads: usize, plan: &BroadcastPlan, tallies: Vec<broadcast::Tally>) -> Self {
        let mut s = BroadcastSummary {
            url,
            threads,
            subscribers: plan.subscribers,
            size: plan.size,
            target_rate: plan.rate,
            tls: plan.tls.as_ref().map(|t| t.options.clone()),
            published: 0,
            publish_time: Duration::ZERO,
            delivered: 0,
            delivery_time: Duration::ZERO,
            gaps: 0,
            out_of_order: 0,
            drain: plan.timeout,
            bytes_read: 0,
            errors: [0; ErrorKind::ALL.len()],
            latency: Histogram::new(),
        };
        let ((mut start, mut end), mut last_delivery) = ((0, 0), 0);
        for t in tallies {
            s.latency.merge(&t.latency);
            s.delivered += t.delivered;
            s.gaps += t.gaps;
            s.out_of_order += t.out_of_order;
            s.bytes_read += t.bytes_read;
            for (a, b) in s.errors.iter_mut().zip(t.errors) {
                *a += b;
            }
            if t.published > 0 {
                s.published += t.published;
                (start, end) = t.publish_window;
            }
            last_delivery = last_delivery.max(t.last_delivery);
        }
        s.publish_time = Duration::from_nanos(end.saturating_sub(start));
        s.delivery_time = Duration::from_nanos(last_delivery.max(end).saturating_sub(start));
        s
    }

    /// Copies that should have arrived and did not: dropped mid-stream
    /// (gaps), or still missing when the drain gave up.
    pub fn drops(&self) -> u64 {
        (self.published * self.subscribers as u64).saturating_sub(self.delivered)
    }

    /// Messages published per second.
    pub fn publish_rate(&self) -> f64 {
        self.published as f64 / self.publish_time.as_secs_f64().max(1e-9)
    }

    /// Copies delivered per second, over all subscribers.
    pub fn delivery_rate(&self) -> f64 {
        self.delivered as f64 / self.delivery_time.as_secs_f64().max(1e-9)
    }

    /// The report for people.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "weir bench {}\n  {} thread(s), {} subscriber(s), 1 publisher, {} B messages, target {:.0} msg/s",
            self.url, self.threads, self.subscribers, self.size, self.target_rate
        );
        tls_line(&mut s, self.tls.as_ref());
        let _ = writeln!(
            s,
            "  {:<12}{:>14.1} msg/s   ({} in {:.2} s)",
            "published",
            self.publish_rate(),
            self.published,
            self.publish_time.as_secs_f64()
        );
        let _ = writeln!(
            s,
            "  {:<12}{:>14.1} msg/s   ({} copies in {:.2} s)",
            "delivered",
            self.delivery_rate(),
            self.delivered,
            self.delivery_time.as_secs_f64()
        );
        let expected = self.published * self.subscribers as u64;
        let _ = writeln!(
            s,
            "  {:<12}{} of {expected} ({:.3} %): {} gaps (dropped mid-stream), {} not delivered \
             within {:?} of the end{}",
            "drops",
            self.drops(),
            100.0 * self.drops() as f64 / expected.max(1) as f64,
            self.gaps,
            self.drops().saturating_sub(self.gaps),
            self.drain,
            if self.out_of_order > 0 {
                format!(", {} out of order", self.out_of_order)
            } else {
                String::new()
            }
        );
        let _ = writeln!(s, "  {:<12}{}", "latency", latency_line(&self.latency));
        let _ = writeln!(
            s,
            "  {:<12}mean {}, from the publisher's write to the subscriber's read",
            "",
            human_ns(self.latency.mean() as u64)
        );
        let _ = writeln!(s, "  {:<12}{}", "errors", errors_line(&self.errors));
        s
    }

    /// The report for machines: one JSON object (times in microseconds).
    pub fn to_json(&self) -> serde_json::Value {
        let (latency, curve) = latency_json(&self.latency);
        serde_json::json!({
            "url": self.url,
            "mode": "broadcast",
            "threads": self.threads,
            "subscribers": self.subscribers,
            "size": self.size,
            "target_rate": self.target_rate,
            "tls": self.tls.as_ref().map(TlsOptions::to_json),
            "published": self.published,
            "publish_rate": self.publish_rate(),
            "publish_s": self.publish_time.as_secs_f64(),
            "delivered": self.delivered,
            "delivery_rate": self.delivery_rate(),
            "delivery_s": self.delivery_time.as_secs_f64(),
            "drops": self.drops(),
            "gaps": self.gaps,
            "undelivered_at_end": self.drops().saturating_sub(self.gaps),
            "drain_s": self.drain.as_secs_f64(),
            "out_of_order": self.out_of_order,
            "bytes_read": self.bytes_read,
            "errors": errors_json(&self.errors),
            "errors_total": self.errors.iter().sum::<u64>(),
            "latency_us": latency,
            "latency_curve_us": curve,
        })
    }
}

/// `  tls  a full handshake per connection, ...` (nothing for plaintext).
fn tls_line(s: &mut String, tls: Option<&TlsOptions>) {
    if let Some(t) = tls {
        let _ = writeln!(s, "  {:<12}{}", "tls", t.describe());
    }
}

/// `p50 1.2ms  p90 ...  max ...`
fn latency_line(h: &Histogram) -> String {
    let mut lat = String::new();
    for p in PERCENTILES {
        let label = if p == 100.0 { "max".to_string() } else { format!("p{p}") };
        let _ = write!(lat, "{label} {}  ", human_ns(h.percentile(p)));
    }
    lat.trim_end().to_string()
}

/// `none`, or `connect 3, timeout 1`.
fn errors_line(errors: &Errors) -> String {
    let listed: Vec<String> = ErrorKind::ALL
        .iter()
        .zip(errors)
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{} {n}", k.name()))
        .collect();
    if listed.is_empty() {
        "none".to_string()
    } else {
        listed.join(", ")
    }
}

fn errors_json(errors: &Errors) -> serde_json::Map<String, serde_json::Value> {
    ErrorKind::ALL.iter().zip(errors).map(|(k, n)| (k.name().to_string(), (*n).into())).collect()
}

/// The percentiles (and min, mean) in µs, and the curve for plots.
fn latency_json(h: &Histogram) -> (serde_json::Map<String, serde_json::Value>, Vec<serde_json::Value>) {
    let us = |ns: u64| ns as f64 / 1000.0;
    let mut latency = serde_json::Map::new();
    for p in PERCENTILES {
        let key = if p == 100.0 { "max".to_string() } else { format!("p{p}") };
        latency.insert(key, us(h.percentile(p)).into());
    }
    latency.insert("min".into(), us(h.min()).into());
    latency.insert("mean".into(), (h.mean() / 1000.0).into());
    // The distribution for plots: (percentile, µs) at log-spaced points.
    let curve = [0.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99, 99.999, 100.0]
        .iter()
        .map(|&p| serde_json::json!([p, us(h.percentile(p))]))
        .collect();
    (latency, curve)
}

/// `1.23 MiB` style.
pub fn human_bytes(b: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    format!("{v:.2} {}", UNITS[i])
}

/// `123µs`, `4.56ms`, `1.20s` style.
pub fn human_ns(ns: u64) -> String {
    match ns {
        0..=9_999 => format!("{:.2}µs", ns as f64 / 1e3),
        10_000..=999_999 => format!("{:.0}µs", ns as f64 / 1e3),
        1_000_000..=999_999_999 => format!("{:.2}ms", ns as f64 / 1e6),
        _ => format!("{:.2}s", ns as f64 / 1e9),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_units() {
        assert_eq!(human_ns(1_500), "1.50µs");
        assert_eq!(human_ns(123_456), "123µs");
        assert_eq!(human_ns(4_560_000), "4.56ms");
        assert_eq!(human_ns(1_200_000_000), "1.20s");
        assert_eq!(human_bytes(512.0), "512.00 B");
        assert_eq!(human_bytes(3.0 * 1024.0 * 1024.0), "3.00 MiB");
    }
}
