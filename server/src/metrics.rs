//! `GET /metrics`: the server's counters in the Prometheus text format
//! (version 0.0.4, <https://prometheus.io/docs/instrumenting/exposition_formats/>).
//!
//! Nothing here runs on the request path. Each shard keeps its own
//! counters (single writer, plain relaxed stores: `crate::stats` and the
//! reactor's `ShardStats`); a scrape reads every shard's and sums them, so a
//! request never touches a lock or a shared cache line for the sake of
//! metrics. The TLS listeners' counters are shared atomics (a handshake
//! costs hundreds of microseconds: one add is noise), and the process facts
//! come from `/proc/self` at scrape time.
//!
//! Names follow Prometheus conventions: a `weir_` prefix, base units
//! (`_seconds`, `_bytes`), `_total` for counters, and bounded label values
//! only (status classes, fixed reason names, certificate files) — never a
//! raw path or a client address.

use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;

use weir_reactor::tls::{Failure, HANDSHAKE_BUCKETS_US};

use crate::stats::StatsRegistry;

/// The `Content-Type` of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// One metric family being written: `# HELP` and `# TYPE` once, then samples.
struct Family<'a> {
    out: &'a mut String,
    name: &'static str,
}

impl<'a> Family<'a> {
    fn new(out: &'a mut String, name: &'static str, kind: &str, help: &str) -> Family<'a> {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        Family { out, name }
    }

    fn sample(&mut self, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.suffixed("", labels, value);
    }

    fn suffixed(&mut self, suffix: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        let _ = write!(self.out, "{}{suffix}", self.name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"");
                escape_label(self.out, v);
                self.out.push('"');
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }
}

/// Label values escape `\`, `"` and newlines (the text format's rule).
fn escape_label(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Renders every metric of `registry` (and of the process) as text.
pub fn render(registry: &StatsRegistry) -> String {
    let mut out = String::with_capacity(8 * 1024);
    let handles = registry.shards.get();
    let shards: Vec<_> = (0..registry.http.len())
        .map(|i| handles.and_then(|h| h.get(i)).map(|h| h.stats().snapshot()).unwrap_or_default())
        .collect();
    let sum = |f: fn(&weir_reactor::StatsSnapshot) -> u64| shards.iter().map(f).sum::<u64>();

    let mut f = Family::new(
        &mut out,
        "weir_http_responses_total",
        "counter",
        "HTTP responses sent, by status class.",
    );
    for (i, class) in ["1xx", "2xx", "3xx", "4xx", "5xx"].iter().enumerate() {
        let n: u64 = registry.http.iter().map(|h| h.by_class[i].load(Relaxed)).sum();
        f.sample(&[("class", class)], n);
    }
    let mut f = Family::new(
        &mut out,
        "weir_websocket_upgrades_total",
        "counter",
        "Connections upgraded to WebSocket.",
    );
    f.sample(&[], registry.http.iter().map(|h| h.ws_upgrades.load(Relaxed)).sum::<u64>());

    let mut f = Family::new(
        &mut out,
        "weir_connections_open",
        "gauge",
        "Connections open now (accepted and outbound).",
    );
    f.sample(&[], sum(|s| s.open));
    let mut f = Family::new(&mut out, "weir_connections_accepted_total", "counter", "Connections accepted.");
    f.sample(&[], sum(|s| s.accepted));
    let mut f = Family::new(
        &mut out,
        "weir_connections_refused_total",
        "counter",
        "Connections turned away at accept, by reason (cap: the connection cap or no free slot; \
         descriptors: accept failed for lack of file descriptors or memory; error: other accept errors).",
    );
    f.sample(&[("reason", "cap")], sum(|s| s.rejected));
    f.sample(&[("reason", "descriptors")], sum(|s| s.fd_exhausted));
    f.sample(&[("reason", "error")], sum(|s| s.accept_errors));
    let mut f = Family::new(&mut out, "weir_received_bytes_total", "counter", "Bytes read from connections.");
    f.sample(&[], sum(|s| s.bytes_in));
    let mut f = Family::new(&mut out, "weir_sent_bytes_total", "counter", "Bytes written to connections.");
    f.sample(&[], sum(|s| s.bytes_out));
    let mut f = Family::new(
        &mut out,
        "weir_inbox_full_total",
        "counter",
        "Messages refused by a shard's bounded data inbox (stream chunks, WebSocket sends, publishes).",
    );
    f.sample(&[], sum(|s| s.inbox_full));
    let mut f = Family::new(&mut out, "weir_loop_iterations_total", "counter", "Event loop turns, by shard.");
    for (i, s) in shards.iter().enumerate() {
        f.sample(&[("shard", &i.to_string())], s.loop_iterations);
    }
    if let Some(pool) = registry.pool.get() {
        let mut f =
            Family::new(&mut out, "weir_worker_queue_depth", "gauge", "Jobs waiting for a worker thread.");
        f.sample(&[], pool.queued());
    }

    if let Some(tls) = registry.tls.get().filter(|t| !t.is_empty()) {
        tls_metrics(&mut out, tls);
    }
    process_metrics(&mut out, registry);
    out
}

fn tls_metrics(out: &mut String, tls: &[std::sync::Arc<weir_reactor::tls::TlsAcceptor>]) {
    let snaps: Vec<_> = tls.iter().map(|t| t.stats()).collect();
    let mut f = Family::new(
        out,
        "weir_tls_handshakes_total",
        "counter",
        "TLS handshakes completed, full or resumed.",
    );
    f.sample(&[("kind", "full")], snaps.iter().map(|s| s.handshakes_full).sum::<u64>());
    f.sample(&[("kind", "resumed")], snaps.iter().map(|s| s.handshakes_resumed).sum::<u64>());
    let mut f = Family::new(
        out,
        "weir_tls_handshake_failures_total",
        "counter",
        "TLS handshakes that failed, by reason.",
    );
    for why in Failure::ALL {
        f.sample(&[("reason", why.name())], snaps.iter().map(|s| s.failed(why)).sum::<u64>());
    }
    let mut f = Family::new(
        out,
        "weir_tls_handshake_duration_seconds",
        "histogram",
        "Time from the first handshake byte to the handshake's end.",
    );
    let mut cumulative = 0u64;
    for (i, bound) in HANDSHAKE_BUCKETS_US.iter().enumerate() {
        cumulative += snaps.iter().map(|s| s.handshake_time_buckets[i]).sum::<u64>();
        f.suffixed("_bucket", &[("le", &seconds(*bound))], cumulative);
    }
    cumulative += snaps.iter().map(|s| s.handshake_time_buckets[HANDSHAKE_BUCKETS_US.len()]).sum::<u64>();
    f.suffixed("_bucket", &[("le", "+Inf")], cumulative);
    let sum_us: u64 = snaps.iter().map(|s| s.handshake_time_sum_us).sum();
    f.suffixed("_sum", &[], format!("{:.6}", sum_us as f64 / 1e6));
    f.suffixed("_count", &[], cumulative);
    let now = unix_now();
    let mut f = Family::new(
        out,
        "weir_tls_certificate_expiry_seconds",
        "gauge",
        "Seconds until each served certificate expires (negative once it has).",
    );
    for t in tls {
        for c in t.certificates() {
            let file = c.file.display().to_string();
            f.sample(
                &[("file", &file), ("name", c.names.first().map_or("", String::as_str))],
                c.not_after_unix - now,
            );
        }
    }
}

fn process_metrics(out: &mut String, registry: &StatsRegistry) {
    let mut f =
        Family::new(out, "weir_process_start_time_seconds", "gauge", "When the server started, Unix time.");
    f.sample(&[], registry.started_unix);
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        let mut f = Family::new(out, "weir_process_open_fds", "gauge", "Open file descriptors.");
        f.sample(&[], fds.count());
    }
    if let Some(rss) = resident_bytes() {
        let mut f = Family::new(out, "weir_process_resident_memory_bytes", "gauge", "Resident memory.");
        f.sample(&[], rss);
    }
    let mut f = Family::new(
        out,
        "weir_ready",
        "gauge",
        "1 while the server takes traffic; 0 while it drains to stop.",
    );
    f.sample(&[], u8::from(!registry.draining.load(Relaxed)));
}

/// `VmRSS` of `/proc/self/status`, in bytes.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Microseconds as a decimal number of seconds, without float noise.
fn seconds(us: u64) -> String {
    let (s, frac) = (us / 1_000_000, us % 1_000_000);
    if frac == 0 {
        format!("{s}")
    } else {
        let f = format!("{frac:06}");
        format!("{s}.{}", f.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_exact_decimals() {
        assert_eq!(seconds(250), "0.00025");
        assert_eq!(seconds(1_000_000), "1");
        assert_eq!(seconds(2_500_000), "2.5");
    }

    #[test]
    fn label_values_are_escaped() {
        let mut s = String::new();
        escape_label(&mut s, "a\"b\\c\nd");
        assert_eq!(s, "a\\\"b\\\\c\\nd");
    }
}
