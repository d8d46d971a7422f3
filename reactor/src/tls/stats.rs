//! TLS counters: handshakes full and resumed, failures by reason, and a
//! histogram of handshake times.
//!
//! A handshake costs hundreds of microseconds of CPU, so one relaxed atomic
//! add per handshake is noise; these are shared by every shard of a
//! listener and read at scrape time.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Why a handshake did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Failure {
    /// The connection closed, or was closed (the handshake timeout), first.
    Abandoned,
    /// A plaintext HTTP request on the TLS port (answered with a 400).
    PlainHttp,
    /// The client offers only versions below TLS 1.2.
    Version,
    /// No cipher suite, group or signature algorithm in common.
    NoCommonCipher,
    /// ALPN: none of the client's protocols is served here.
    Alpn,
    /// mTLS: no client certificate, or one that does not verify.
    ClientCertificate,
    /// Turned away: too many full handshakes in flight on the shard.
    Overload,
    /// Anything else that is not TLS: garbage, a malformed message, an alert.
    #[default]
    Protocol,
}

impl Failure {
    /// Every reason, in a fixed order (the counters' order).
    pub const ALL: [Failure; 8] = [
        Failure::Abandoned,
        Failure::PlainHttp,
        Failure::Version,
        Failure::NoCommonCipher,
        Failure::Alpn,
        Failure::ClientCertificate,
        Failure::Overload,
        Failure::Protocol,
    ];

    /// A short name for logs and metrics labels.
    pub fn name(self) -> &'static str {
        match self {
            Failure::Abandoned => "abandoned",
            Failure::PlainHttp => "plain_http",
            Failure::Version => "version",
            Failure::NoCommonCipher => "no_common_cipher",
            Failure::Alpn => "alpn",
            Failure::ClientCertificate => "client_certificate",
            Failure::Overload => "overload",
            Failure::Protocol => "protocol",
        }
    }

    fn index(self) -> usize {
        Failure::ALL.iter().position(|f| *f == self).unwrap_or(0)
    }
}

/// Upper bounds of the handshake time histogram's buckets, in
/// microseconds (a last bucket takes everything slower).
pub const HANDSHAKE_BUCKETS_US: [u64; 10] =
    [250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 100_000, 1_000_000, 10_000_000];

/// The live counters of one TLS listener.
#[derive(Debug, Default)]
pub(crate) struct TlsStats {
    full: AtomicU64,
    resumed: AtomicU64,
    failed: [AtomicU64; Failure::ALL.len()],
    buckets: [AtomicU64; HANDSHAKE_BUCKETS_US.len() + 1],
    time_sum_us: AtomicU64,
}

impl TlsStats {
    pub(crate) fn completed(&self, resumed: bool, took: Duration) {
        if resumed { &self.resumed } else { &self.full }.fetch_add(1, Relaxed);
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let i = HANDSHAKE_BUCKETS_US.iter().position(|&b| us <= b).unwrap_or(HANDSHAKE_BUCKETS_US.len());
        self.buckets[i].fetch_add(1, Relaxed);
        self.time_sum_us.fetch_add(us, Relaxed);
    }

    pub(crate) fn failed(&self, why: Failure) {
        self.failed[why.index()].fetch_add(1, Relaxed);
    }

    pub(crate) fn snapshot(&self) -> TlsStatsSnapshot {
        TlsStatsSnapshot {
            handshakes_full: self.full.load(Relaxed),
            handshakes_resumed: self.resumed.load(Relaxed),
            failures: Failure::ALL.map(|f| (f, self.failed[f.index()].load(Relaxed))),
            handshake_time_buckets: std::array::from_fn(|i| self.buckets[i].load(Relaxed)),
            handshake_time_sum_us: self.time_sum_us.load(Relaxed),
        }
    }
}

/// A reading of a TLS listener's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsStatsSnapshot {
    /// Handshakes completed with a full key exchange and certificate.
    pub handshakes_full: u64,
    /// Handshakes completed by resuming a session (ticket or session ID).
    pub handshakes_resumed: u64,
    /// Failed handshakes, by reason.
    pub failures: [(Failure, u64); Failure::ALL.len()],
    /// Completed handshakes per time bucket ([`HANDSHAKE_BUCKETS_US`], then
    /// the overflow bucket); not cumulative.
    pub handshake_time_buckets: [u64; HANDSHAKE_BUCKETS_US.len() + 1],
    /// Total time of completed handshakes, in microseconds.
    pub handshake_time_sum_us: u64,
}

impl TlsStatsSnapshot {
    /// Failures of one kind.
    pub fn failed(&self, why: Failure) -> u64 {
        self.failures.iter().find(|(f, _)| *f == why).map_or(0, |(_, n)| *n)
    }
}
