//! Range requests (RFC 9110 §14): `Range: bytes=...` → 206 Partial Content,
//! one range as is, several as `multipart/byteranges`.
//!
//! ```text
//! Range: bytes=0-99, -500, 1000-      parse ─▶ resolve against the length
//!                                       │       (drop unsatisfiable specs)
//!                                       ▼
//!          sort + coalesce (overlaps, gaps < a part head) ─▶ 1 range: 206 + Content-Range
//!                                                           n ranges: 206 multipart/byteranges
//!                                                           0 ranges: 416 + Content-Range: bytes */LEN
//! ```
//!
//! # No amplification
//!
//! §14.2 warns that "ranges that overlap or ... many small ranges" can make
//! a server send far more than the file: `bytes=0-,0-,0-,...` would repeat
//! it once per spec. Two rules bound the output by the file length plus a
//! small constant:
//!
//! * at most `max_ranges` specs, else the header is ignored (200, the whole
//!   file — never more than a plain GET);
//! * ranges are sorted and coalesced when they overlap or the gap between
//!   them is smaller than the cost of a part head (§14.2: "a server MAY
//!   coalesce any of the ranges that overlap, or that are separated by a gap
//!   that is smaller than the overhead of sending multiple parts, regardless
//!   of the order"), so no byte is sent twice.
//!
//! # Choices
//!
//! * A `Range` that does not parse is ignored (200), as §14.2 allows.
//! * An empty file has no satisfiable range; we ignore `Range` for it and
//!   send the (empty) 200, which every client accepts.
//! * Parts are sent in ascending order, so they always arrive sorted.

use std::fs::File;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::response::Part;

/// One satisfiable byte range: `first..=last`, both within the representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ByteRange {
    pub(crate) first: u64,
    pub(crate) last: u64,
}

impl ByteRange {
    /// The number of bytes.
    pub(crate) fn len(&self) -> u64 {
        self.last - self.first + 1
    }

    /// `bytes FIRST-LAST/COMPLETE`, the `Content-Range` value (§14.4).
    pub(crate) fn content_range(&self, complete: u64) -> Vec<u8> {
        format!("bytes {}-{}/{complete}", self.first, self.last).into_bytes()
    }
}

/// What to do with a `Range` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RangeDecision {
    /// Send the whole representation (200).
    Ignore,
    /// 416 Range Not Satisfiable.
    Unsatisfiable,
    /// 206 with these ranges: sorted, disjoint, not adjacent.
    Partial(Vec<ByteRange>),
}

/// Ranges closer than this are merged: a part head (boundary, type, range)
/// costs about as much as sending the gap.
const COALESCE_GAP: u64 = 80;

/// Decides how to answer `Range: header` for a representation of `len` bytes.
///
/// ```text
/// ranges-specifier = range-unit "=" range-set
/// range-set        = 1#range-spec
/// range-spec       = int-range / suffix-range / other-range
/// int-range        = first-pos "-" [ last-pos ]
/// suffix-range     = "-" suffix-length
/// ```
pub(crate) fn decide(header: &[u8], len: u64, max_ranges: usize) -> RangeDecision {
    let Some(specs) = parse_specs(header, max_ranges) else {
        return RangeDecision::Ignore;
    };
    if len == 0 {
        return RangeDecision::Ignore;
    }
    let mut ranges: Vec<ByteRange> = specs
        .into_iter()
        .filter_map(|spec| match spec {
            // "An int-range is satisfiable if the first-pos is less than the
            // current length"; a last-pos beyond the end is "replaced with one
            // less than the current length".
            Spec::Int { first, last } if first < len => {
                Some(ByteRange { first, last: last.map_or(len - 1, |l| l.min(len - 1)) })
            }
            Spec::Int { .. } => None,
            // "A suffix-range is satisfiable if the suffix-length is non-zero";
            // "If the selected representation is shorter than the specified
            // suffix-length, the entire representation is used."
            Spec::Suffix(0) => None,
            Spec::Suffix(n) => Some(ByteRange { first: len - n.min(len), last: len - 1 }),
        })
        .collect();
    if ranges.is_empty() {
        return RangeDecision::Unsatisfiable;
    }
    ranges.sort_unstable_by_key(|r| r.first);
    let mut merged: Vec<ByteRange> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match merged.last_mut() {
            Some(prev) if r.first <= prev.last.saturating_add(COALESCE_GAP) => {
                prev.last = prev.last.max(r.last);
            }
            _ => merged.push(r),
        }
    }
    RangeDecision::Partial(merged)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spec {
    Int { first: u64, last: Option<u64> },
    Suffix(u64),
}

/// The range specs, or `None` when the header is to be ignored: another
/// unit ("An origin server MUST ignore a Range header field that contains a
/// range unit it does not understand"), bad syntax, `last < first` (§14.1.1:
/// "invalid"), or more than `max` specs.
fn parse_specs(header: &[u8], max: usize) -> Option<Vec<Spec>> {
    let eq = header.iter().position(|&b| b == b'=')?;
    if !header[..eq].eq_ignore_ascii_case(b"bytes") {
        return None;
    }
    let mut specs = Vec::new();
    // `#` lists: elements separated by OWS "," OWS; empty elements are allowed.
    for item in header[eq + 1..].split(|&b| b == b',') {
        let item = trim_ows(item);
        if item.is_empty() {
            continue;
        }
        if specs.len() == max {
            return None;
        }
        let dash = item.iter().position(|&b| b == b'-')?;
        let (a, b) = (&item[..dash], &item[dash + 1..]);
        let spec = if a.is_empty() {
            Spec::Suffix(parse_pos(b)?)
        } else {
            let first = parse_pos(a)?;
            let last = if b.is_empty() { None } else { Some(parse_pos(b)?) };
            if last.is_some_and(|l| l < first) {
                return None;
            }
            Spec::Int { first, last }
        };
        specs.push(spec);
    }
    (!specs.is_empty()).then_some(specs)
}

/// `1*DIGIT`; values beyond `u64` saturate (they are past any file's end).
fn parse_pos(s: &[u8]) -> Option<u64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0u64, |n, &d| n.saturating_mul(10).saturating_add(u64::from(d - b'0'))))
}

fn trim_ows(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|b| !matches!(b, b' ' | b'\t')).unwrap_or(v.len());
    let end = v.iter().rposition(|b| !matches!(b, b' ' | b'\t')).map_or(start, |e| e + 1);
    &v[start..end]
}

/// A fresh multipart boundary: 20 hex digits unique in this process.
///
/// §14.6 / RFC 2046 §5.1.1: the boundary must not occur in the content.
/// A boundary mixed from a per-process random key and a counter cannot be
/// predicted by whoever wrote the file, so it cannot be planted in it.
pub(crate) fn new_boundary() -> String {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static KEYS: std::sync::OnceLock<std::collections::hash_map::RandomState> = std::sync::OnceLock::new();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut h = KEYS.get_or_init(Default::default).build_hasher();
    h.write_u64(n);
    format!("{:016x}{:04x}", h.finish(), n & 0xffff)
}

/// The body of a `multipart/byteranges` response (§14.6):
///
/// ```text
/// --BOUNDARY\r\n
/// Content-Type: text/plain\r\n
/// Content-Range: bytes 0-9/1000\r\n
/// \r\n
/// <bytes 0..=9>\r\n
/// --BOUNDARY\r\n
/// ...
/// <bytes>\r\n
/// --BOUNDARY--\r\n
/// ```
///
/// Part heads are small buffers; the ranges stay file segments, sent with
/// `sendfile`, so a multipart answer is as zero-copy as a single range.
pub(crate) fn multipart_body(
    file: &Arc<File>,
    ranges: &[ByteRange],
    complete: u64,
    content_type: &str,
    boundary: &str,
) -> Vec<crate::response::Part> {
    let mut parts = Vec::with_capacity(ranges.len() * 2 + 1);
    for (i, r) in ranges.iter().enumerate() {
        let lead = if i == 0 { "" } else { "\r\n" };
        let head = format!(
            "{lead}--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: bytes {}-{}/{complete}\r\n\r\n",
            r.first, r.last
        );
        parts.push(Part::Bytes(head.into_bytes()));
        parts.push(Part::File { file: file.clone(), offset: r.first, len: r.len() });
    }
    parts.push(Part::Bytes(format!("\r\n--{boundary}--\r\n").into_bytes()));
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use RangeDecision::*;

    fn r(first: u64, last: u64) -> ByteRange {
        ByteRange { first, last }
    }

    #[test]
    fn decisions() {
        for (header, len, want) in [
            (&b"bytes=0-9"[..], 100, Partial(vec![r(0, 9)])),
            (b"BYTES=0-9", 100, Partial(vec![r(0, 9)])),
            (b"bytes=90-", 100, Partial(vec![r(90, 99)])),
            (b"bytes=-10", 100, Partial(vec![r(90, 99)])),
            (b"bytes=-1000", 100, Partial(vec![r(0, 99)])),
            (b"bytes=95-1000", 100, Partial(vec![r(95, 99)])),
            (b"bytes=99-99", 100, Partial(vec![r(99, 99)])),
            (b"bytes=0-0,-1", 1000, Partial(vec![r(0, 0), r(999, 999)])),
            (b"bytes= 0-0 , ,-1", 1000, Partial(vec![r(0, 0), r(999, 999)])),
            // Sorted, overlapping and nearby ranges merged.
            (b"bytes=500-599,0-99", 1000, Partial(vec![r(0, 99), r(500, 599)])),
            (b"bytes=0-99,50-150", 1000, Partial(vec![r(0, 150)])),
            (b"bytes=0-99,120-130", 1000, Partial(vec![r(0, 130)])),
            (b"bytes=0-,0-,0-,0-", 1000, Partial(vec![r(0, 999)])),
            // Unsatisfiable specs are dropped; none left: 416.
            (b"bytes=100-200", 100, Unsatisfiable),
            (b"bytes=-0", 100, Unsatisfiable),
            (b"bytes=0-9,100-", 100, Partial(vec![r(0, 9)])),
            (b"bytes=99999999999999999999999-", 100, Unsatisfiable),
            (b"bytes=0-99999999999999999999999", 100, Partial(vec![r(0, 99)])),
            // Ignored: syntax, unit, inverted, empty file.
            (b"bytes=9-0", 100, Ignore),
            (b"bytes=", 100, Ignore),
            (b"bytes=a-b", 100, Ignore),
            (b"bytes=1", 100, Ignore),
            (b"bytes=--1", 100, Ignore),
            (b"items=0-9", 100, Ignore),
            (b"bytes 0-9", 100, Ignore),
            (b"bytes=0-9", 0, Ignore),
        ] {
            assert_eq!(decide(header, len, 16), want, "{}", String::from_utf8_lossy(header));
        }
    }

    #[test]
    fn too_many_ranges_are_ignored() {
        let header: String = "bytes=".to_string()
            + &(0..17).map(|i| format!("{}-{}", i * 200, i * 200)).collect::<Vec<_>>().join(",");
        assert_eq!(decide(header.as_bytes(), 1 << 20, 16), Ignore);
        let header: String = "bytes=".to_string()
            + &(0..16).map(|i| format!("{}-{}", i * 200, i * 200)).collect::<Vec<_>>().join(",");
        assert!(matches!(decide(header.as_bytes(), 1 << 20, 16), Partial(v) if v.len() == 16));
    }

    #[test]
    fn beyond_4_gib() {
        let len = 5u64 << 30;
        assert_eq!(decide(b"bytes=4294967296-4294967305", len, 16), Partial(vec![r(1 << 32, (1 << 32) + 9)]));
        assert_eq!(r(1 << 32, (1 << 32) + 9).content_range(len), b"bytes 4294967296-4294967305/5368709120");
    }

    #[test]
    fn boundaries_are_unique() {
        let a = new_boundary();
        assert_eq!(a.len(), 20);
        assert_ne!(a, new_boundary());
    }
}
