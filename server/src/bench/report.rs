//! The results of a run: merged from the shards, printed for people
//! (aligned text) or for machines (`--json`).

use std::fmt::Write as _;
use std::time::Duration;

use super::histogram::Histogram;
use super::shard::{ErrorKind, Tally};

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
        let _ = writeln!(s, "  {:<12}{:>14.1} {unit}/s   ({} in total)", "rate", self.rate(), self.completed);
        let _ = writeln!(
            s,
            "  {:<12}{:>14} /s     ({} in total)",
            "throughput",
            human_bytes(self.throughput()),
            human_bytes(self.bytes_read as f64)
        );
        let mut lat = String::new();
        for p in PERCENTILES {
            let label = if p == 100.0 { "max".to_string() } else { format!("p{p}") };
            let _ = write!(lat, "{label} {}  ", human_ns(self.latency.percentile(p)));
        }
        let _ = writeln!(s, "  {:<12}{}", "latency", lat.trim_end());
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
        let errors: Vec<String> = ErrorKind::ALL
            .iter()
            .zip(self.errors)
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| format!("{} {n}", k.name()))
            .collect();
        let _ = writeln!(
            s,
            "  {:<12}{}",
            "errors",
            if errors.is_empty() { "none".to_string() } else { errors.join(", ") }
        );
        s
    }

    /// The report for machines: one JSON object (times in microseconds).
    pub fn to_json(&self) -> serde_json::Value {
        let us = |ns: u64| ns as f64 / 1000.0;
        let mut latency = serde_json::Map::new();
        for p in PERCENTILES {
            let key = if p == 100.0 { "max".to_string() } else { format!("p{p}") };
            latency.insert(key, us(self.latency.percentile(p)).into());
        }
        latency.insert("min".into(), us(self.latency.min()).into());
        latency.insert("mean".into(), (self.latency.mean() / 1000.0).into());
        // The distribution for plots: (percentile, µs) at log-spaced points.
        let curve: Vec<serde_json::Value> =
            [0.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99, 99.999, 100.0]
                .iter()
                .map(|&p| serde_json::json!([p, us(self.latency.percentile(p))]))
                .collect();
        let errors: serde_json::Map<String, serde_json::Value> =
            ErrorKind::ALL.iter().zip(self.errors).map(|(k, n)| (k.name().to_string(), n.into())).collect();
        serde_json::json!({
            "url": self.url,
            "mode": self.mode,
            "threads": self.threads,
            "connections": self.connections,
            "depth": self.depth,
            "close": self.close,
            "target_rate": self.rate,
            "latency_from": if self.rate.is_some() { "intended" } else { "sent" },
            "elapsed_s": self.elapsed.as_secs_f64(),
            "completed": self.completed,
            "rate": self.rate(),
            "bytes_read": self.bytes_read,
            "throughput_bytes_per_s": self.throughput(),
            "errors": errors,
            "errors_total": self.errors.iter().sum::<u64>(),
            "latency_us": latency,
            "latency_curve_us": curve,
        })
    }
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
