//! Content codings (RFC 9110 §8.4, §12.5.3): precompressed siblings and
//! on-the-fly gzip, chosen by `Accept-Encoding`.
//!
//! For `/app.js` the server may hold three representations:
//!
//! ```text
//!  app.js      identity     always
//!  app.js.br   br           precompressed by the site's build (best ratio, zero CPU here)
//!  app.js.gz   gzip         precompressed
//!  (memory)    gzip         compressed by us once, cached with the open file
//! ```
//!
//! The client's `Accept-Encoding` picks one; every response of such a
//! resource carries `Vary: Accept-Encoding` so that caches keep the
//! representations apart, and each representation has its own `ETag`.
//!
//! # Choices
//!
//! * A request with `Range` always gets identity: ranges then address the
//!   bytes of the file on disk, and a resumed download cannot mix codings.
//! * Any coding with `q > 0` is acceptable; of `br` and `gzip`, the higher
//!   `q` wins, `br` on a tie. `identity` stays acceptable (we never answer 406).
//! * Files held in memory (small ones) are compressed on the spot, once.
//!   Larger ones (up to a limit) are compressed on the server's worker
//!   pool, never on the event loop; identity is served until the result is
//!   ready. When the pool's queue is full (or there is no pool: a
//!   [`StaticFiles`](crate::StaticFiles) used outside a server), identity
//!   is served and a later request tries again; nothing waits, and no
//!   thread is spawned.
//! * A result that saves less than 10 % is thrown away (recorded as "not
//!   worth it", so the file is not compressed again).

use std::io::Write;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use flate2::write::GzEncoder;
use flate2::Compression;

use weir_reactor::WorkerPool;

use super::cache::{Entry, Stat};

/// What `Accept-Encoding` allows, as q-values in thousandths (0: refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Accepted {
    pub(crate) br: u16,
    pub(crate) gzip: u16,
}

impl Accepted {
    /// Parses `Accept-Encoding` (absent: only identity).
    ///
    /// ```text
    /// Accept-Encoding = #( codings [ weight ] )
    /// codings         = content-coding / "identity" / "*"
    /// weight          = OWS ";" OWS "q=" qvalue
    /// ```
    pub(crate) fn parse(header: Option<&[u8]>) -> Accepted {
        let Some(header) = header else {
            return Accepted::default();
        };
        let (mut br, mut gzip, mut star) = (None, None, None);
        for item in header.split(|&b| b == b',') {
            let mut params = item.split(|&b| b == b';');
            let coding = trim(params.next().unwrap_or_default());
            let mut q = 1000;
            for p in params {
                let p = trim(p);
                if p.len() > 2 && p[..2].eq_ignore_ascii_case(b"q=") {
                    q = parse_qvalue(&p[2..]).unwrap_or(0);
                }
            }
            if coding.eq_ignore_ascii_case(b"br") {
                br = Some(q);
            } else if coding.eq_ignore_ascii_case(b"gzip") || coding.eq_ignore_ascii_case(b"x-gzip") {
                gzip = Some(q);
            } else if coding == b"*" {
                star = Some(q);
            }
        }
        // "*" matches any coding not explicitly listed.
        Accepted { br: br.or(star).unwrap_or(0), gzip: gzip.or(star).unwrap_or(0) }
    }

    /// True when `br` is preferred over `gzip` (both acceptable, or only br).
    pub(crate) fn prefers_br(&self) -> bool {
        self.br > 0 && self.br >= self.gzip
    }
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|b| !matches!(b, b' ' | b'\t')).unwrap_or(v.len());
    let end = v.iter().rposition(|b| !matches!(b, b' ' | b'\t')).map_or(start, |e| e + 1);
    &v[start..end]
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, in thousandths.
fn parse_qvalue(v: &[u8]) -> Option<u16> {
    let (int, frac) = match v.iter().position(|&b| b == b'.') {
        Some(dot) => (&v[..dot], &v[dot + 1..]),
        None => (v, &b""[..]),
    };
    if frac.len() > 3 || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut thousandths = 0u16;
    for i in 0..3 {
        thousandths = thousandths * 10 + frac.get(i).map_or(0, |d| u16::from(d - b'0'));
    }
    match int {
        b"0" => Some(thousandths),
        b"1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// gzip level: 6 is zlib's default, the usual point of diminishing returns.
const GZIP_LEVEL: u32 = 6;

/// Compresses `data` with gzip; `None` when it saves less than 10 %.
pub(crate) fn gzip(data: &[u8]) -> Option<Vec<u8>> {
    let mut enc = GzEncoder::new(Vec::with_capacity(data.len() / 3 + 64), Compression::new(GZIP_LEVEL));
    enc.write_all(data).ok()?;
    let out = enc.finish().ok()?;
    (out.len() < data.len() - data.len() / 10).then_some(out)
}

/// Background compressions queued or running in this process: a bound on
/// the workers they take from handlers and on the memory held by
/// half-built bodies.
static JOBS: AtomicUsize = AtomicUsize::new(0);
const MAX_JOBS: usize = 2;

/// One of the [`MAX_JOBS`] places, given back when dropped (also if the
/// job panics, or is dropped unrun by a pool that shuts down).
struct JobPlace;

impl JobPlace {
    fn take() -> Option<JobPlace> {
        if JOBS.fetch_add(1, Ordering::AcqRel) >= MAX_JOBS {
            JOBS.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(JobPlace)
    }
}

impl Drop for JobPlace {
    fn drop(&mut self) {
        JOBS.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The cached gzip body of `entry`, starting its compression on `pool` if
/// needed.
///
/// Returns `None` while the body is not ready (serve identity meanwhile),
/// when gzip is not worth it for this file, or when the work cannot start
/// now (no pool, pool full, [`MAX_JOBS`] running: a later request retries).
pub(crate) fn cached_gzip(entry: &Arc<Entry>, pool: Option<&WorkerPool>) -> Option<Arc<[u8]>> {
    if let Some(done) = entry.gzip.get() {
        return done.clone();
    }
    if let Some(content) = &entry.identity.content {
        // In memory and small: compressing costs well under a millisecond.
        return entry.gzip.get_or_init(|| store(entry, gzip(content))).clone();
    }
    let pool = pool?;
    if entry.gzip_started.swap(true, Ordering::AcqRel) {
        return None;
    }
    let Some(place) = JobPlace::take() else {
        // Busy: let a later request try again.
        entry.gzip_started.store(false, Ordering::Release);
        return None;
    };
    let job = entry.clone();
    let queued = pool.try_execute(move || {
        let _place = place;
        let body = read_whole(&job).and_then(|data| gzip(&data));
        let _ = job.gzip.set(store(&job, body));
    });
    if queued.is_err() {
        // The pool is full (its job, and the place in it, are dropped):
        // identity now, a later request tries again.
        entry.gzip_started.store(false, Ordering::Release);
    }
    None
}

/// Keeps `body` if the cache's byte budget allows.
fn store(entry: &Entry, body: Option<Vec<u8>>) -> Option<Arc<[u8]>> {
    let body = body?;
    entry.try_charge(body.len()).then(|| body.into())
}

/// Reads the whole identity file with `pread` (the shared offset of the
/// descriptor is never touched), checking it did not change meanwhile.
fn read_whole(entry: &Entry) -> Option<Vec<u8>> {
    let v = &entry.identity;
    let mut data = vec![0u8; usize::try_from(v.len()).ok()?];
    v.file.read_exact_at(&mut data, 0).ok()?;
    let now = v.file.metadata().ok()?;
    (Stat::of(&now) == v.stat).then_some(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding() {
        for (h, br, gz) in [
            (&b"gzip"[..], 0, 1000),
            (b"gzip, deflate, br", 1000, 1000),
            (b"br;q=0.5, gzip;q=0.8", 500, 800),
            (b"GZIP ; Q=0.25", 0, 250),
            (b"x-gzip", 0, 1000),
            (b"*", 1000, 1000),
            (b"*;q=0.1, gzip;q=0", 100, 0),
            (b"identity", 0, 0),
            (b"gzip;q=1.5", 0, 0),
            (b"gzip;q=0.1234", 0, 0),
            (b"", 0, 0),
        ] {
            assert_eq!(Accepted::parse(Some(h)), Accepted { br, gzip: gz }, "{}", String::from_utf8_lossy(h));
        }
        assert_eq!(Accepted::parse(None), Accepted::default());
        assert!(Accepted { br: 1000, gzip: 1000 }.prefers_br());
        assert!(!Accepted { br: 500, gzip: 1000 }.prefers_br());
        assert!(!Accepted { br: 0, gzip: 0 }.prefers_br());
    }

    #[test]
    fn gzip_round_trip_and_threshold() {
        let text = b"hello hello hello hello hello hello hello hello hello hello".repeat(20);
        let z = gzip(&text).expect("compressible");
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&z[..]), &mut out).unwrap();
        assert_eq!(out, text);
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect();
        assert_eq!(gzip(&noise), None);
    }
}
