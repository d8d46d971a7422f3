//! Server counters: per shard, written by that shard only, read by `/stats`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use weir_reactor::tls::{Failure, TlsAcceptor, HANDSHAKE_BUCKETS_US};
use weir_reactor::{ShardHandle, WorkerPool};

use crate::msg::Msg;

/// HTTP counters of one shard.
#[derive(Debug, Default)]
pub struct HttpStats {
    /// Responses by status class: 1xx, 2xx, 3xx, 4xx, 5xx.
    pub by_class: [AtomicU64; 5],
    /// WebSocket connections upgraded.
    pub ws_upgrades: AtomicU64,
    /// HTTP/2 connections (h2 by ALPN, or h2c with prior knowledge).
    pub h2_connections: AtomicU64,
    /// HTTP/2 requests dispatched.
    pub h2_requests: AtomicU64,
    /// HTTP/2 cost budget charges by reason (`weir_h2::Cost::ALL` order),
    /// added when each connection closes.
    pub h2_budget: [AtomicU64; weir_h2::Cost::ALL.len()],
}

impl HttpStats {
    #[inline]
    pub(crate) fn count_status(&self, status: u16) {
        let i = (status / 100).clamp(1, 5) as usize - 1;
        bump(&self.by_class[i]);
    }

    pub(crate) fn count_upgrade(&self) {
        bump(&self.ws_upgrades);
    }

    pub(crate) fn count_h2_connection(&self) {
        bump(&self.h2_connections);
    }

    pub(crate) fn count_h2_request(&self) {
        bump(&self.h2_requests);
    }

    pub(crate) fn add_h2_budget(&self, b: &weir_h2::Budget) {
        for (c, n) in self.h2_budget.iter().zip(b.counts()) {
            c.store(c.load(Relaxed) + n, Relaxed);
        }
    }
}

/// Adds one. Single writer (the shard): a plain load and store is enough.
#[inline]
fn bump(c: &AtomicU64) {
    c.store(c.load(Relaxed) + 1, Relaxed);
}

/// Every shard's counters, for `/stats`.
#[derive(Debug)]
pub struct StatsRegistry {
    pub(crate) started: Instant,
    pub(crate) started_unix: u64,
    /// Set when a graceful stop begins: `/readyz` answers 503 from then on.
    pub(crate) draining: AtomicBool,
    pub(crate) pool: OnceLock<WorkerPool>,
    pub(crate) http: Vec<Arc<HttpStats>>,
    pub(crate) shards: OnceLock<Arc<[ShardHandle<Msg>]>>,
    pub(crate) tls: OnceLock<Vec<Arc<TlsAcceptor>>>,
}

impl StatsRegistry {
    /// A registry for `shards` shards (pass it to `ServerBuilder::stats`).
    pub fn new(shards: usize) -> StatsRegistry {
        StatsRegistry {
            started: Instant::now(),
            started_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            draining: AtomicBool::new(false),
            pool: OnceLock::new(),
            http: (0..shards).map(|_| Arc::new(HttpStats::default())).collect(),
            shards: OnceLock::new(),
            tls: OnceLock::new(),
        }
    }

    /// True until a graceful stop begins (what `/readyz` reports).
    pub fn ready(&self) -> bool {
        !self.draining.load(Relaxed)
    }

    /// A JSON summary: uptime, connections, requests by status class,
    /// bytes in and out, in total and per shard.
    pub fn to_json(&self) -> serde_json::Value {
        let mut per_shard = Vec::new();
        let mut total = [0u64; 9];
        let handles = self.shards.get();
        for (i, http) in self.http.iter().enumerate() {
            let r = handles.and_then(|h| h.get(i)).map(|h| h.stats().snapshot()).unwrap_or_default();
            let c: Vec<u64> = http.by_class.iter().map(|a| a.load(Relaxed)).collect();
            let row = [r.open, r.accepted, c[0], c[1], c[2], c[3], c[4], r.bytes_in, r.bytes_out];
            for (t, v) in total.iter_mut().zip(row) {
                *t += v;
            }
            per_shard.push(Self::row(i as i64, &row, http.ws_upgrades.load(Relaxed)));
        }
        let ws: u64 = self.http.iter().map(|h| h.ws_upgrades.load(Relaxed)).sum();
        let mut top = Self::row(-1, &total, ws);
        let obj = top.as_object_mut().expect("row is an object");
        obj.remove("shard");
        obj.insert("uptime_secs".into(), self.started.elapsed().as_secs_f64().into());
        obj.insert("shards".into(), per_shard.into());
        let h2: u64 = self.http.iter().map(|h| h.h2_connections.load(Relaxed)).sum();
        if h2 > 0 {
            let budget: serde_json::Map<String, serde_json::Value> = weir_h2::Cost::ALL
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let n: u64 = self.http.iter().map(|h| h.h2_budget[i].load(Relaxed)).sum();
                    (c.name().to_owned(), n.into())
                })
                .collect();
            let requests: u64 = self.http.iter().map(|h| h.h2_requests.load(Relaxed)).sum();
            let v = serde_json::json!({ "connections": h2, "requests": requests, "budget_charges": budget });
            obj.insert("http2".into(), v);
        }
        if let Some(tls) = self.tls.get().filter(|t| !t.is_empty()) {
            obj.insert("tls".into(), tls.iter().map(|t| Self::tls_json(t)).collect::<Vec<_>>().into());
        }
        top
    }

    /// One TLS listener: handshakes, failures by reason, handshake time
    /// histogram (cumulative, `le` in microseconds), certificates and the
    /// days until each expires.
    fn tls_json(t: &TlsAcceptor) -> serde_json::Value {
        let s = t.stats();
        let failures: serde_json::Map<String, serde_json::Value> =
            Failure::ALL.iter().map(|f| (f.name().to_owned(), s.failed(*f).into())).collect();
        let mut cumulative = 0;
        let buckets: Vec<serde_json::Value> = s
            .handshake_time_buckets
            .iter()
            .enumerate()
            .map(|(i, n)| {
                cumulative += n;
                let le = HANDSHAKE_BUCKETS_US.get(i).map_or_else(|| "+Inf".to_owned(), u64::to_string);
                serde_json::json!({ "le_us": le, "count": cumulative })
            })
            .collect();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let certs: Vec<serde_json::Value> = t
            .certificates()
            .iter()
            .map(|c| {
                serde_json::json!({
                    "file": c.file.display().to_string(),
                    "names": c.names,
                    "key": format!("{:?}", c.kind).to_ascii_lowercase(),
                    "days_left": c.days_left(now),
                })
            })
            .collect();
        serde_json::json!({
            "handshakes": { "full": s.handshakes_full, "resumed": s.handshakes_resumed },
            "failures": failures,
            "handshake_time": { "buckets": buckets, "sum_us": s.handshake_time_sum_us },
            "certificates": certs,
        })
    }

    fn row(shard: i64, v: &[u64; 9], ws: u64) -> serde_json::Value {
        serde_json::json!({
            "shard": shard,
            "connections": { "open": v[0], "total": v[1] },
            "requests": { "1xx": v[2], "2xx": v[3], "3xx": v[4], "4xx": v[5], "5xx": v[6], "total": v[2] + v[3] + v[4] + v[5] + v[6] },
            "bytes": { "in": v[7], "out": v[8] },
            "websocket_upgrades": ws,
        })
    }
}
