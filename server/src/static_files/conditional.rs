//! Validators and conditional requests (RFC 9110 §8.8 and §13).
//!
//! A *validator* is a short fingerprint of one representation. We send two:
//!
//! * `ETag` — strong, built from the inode, size and modification time to
//!   the nanosecond: any write that changes the bytes changes at least one of
//!   them. A compressed variant gets its own tag (suffix `-gz`/`-br`),
//!   because its bytes differ (§8.8.3: "a strong validator is unique across
//!   all versions of all representations associated with a particular resource").
//! * `Last-Modified` — the modification time, to the second.
//!
//! A client that has a copy sends them back; the server then answers
//! without the body (304) or refuses to act on a stale copy (412).
//! §13.2.2 fixes the order in which the conditions are evaluated:
//!
//! ```text
//!  If-Match ──false──▶ 412        (else, if absent: If-Unmodified-Since ──false──▶ 412)
//!      │ true/absent
//!  If-None-Match ──false──▶ 304 (GET/HEAD)   (else, if absent: If-Modified-Since ──false──▶ 304)
//!      │ true/absent
//!  Range + If-Range ──If-Range false──▶ ignore Range (200), else 206
//! ```

use std::time::{SystemTime, UNIX_EPOCH};

/// What the preconditions decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Serve the request normally.
    Proceed,
    /// 304 Not Modified: the client's copy is current.
    NotModified,
    /// 412 Precondition Failed.
    Failed,
}

/// The conditional header fields of one request.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Conditions<'a> {
    pub(crate) if_match: Option<&'a [u8]>,
    pub(crate) if_none_match: Option<&'a [u8]>,
    pub(crate) if_modified_since: Option<&'a [u8]>,
    pub(crate) if_unmodified_since: Option<&'a [u8]>,
}

impl Conditions<'_> {
    /// True when no precondition is present (the common, fast case).
    pub(crate) fn is_empty(&self) -> bool {
        self.if_match.is_none()
            && self.if_none_match.is_none()
            && self.if_modified_since.is_none()
            && self.if_unmodified_since.is_none()
    }

    /// Evaluates the preconditions for a GET or HEAD of a representation
    /// with strong tag `etag` (quotes included) modified at `mtime` (Unix seconds).
    pub(crate) fn evaluate(&self, etag: &[u8], mtime: u64) -> Outcome {
        // §13.2.2 step 1: "When recipient is the origin server and If-Match
        // is present, evaluate the If-Match precondition: if true, continue
        // to step 3; if false, respond 412 (Precondition Failed)".
        // §13.1.1: "An origin server MUST use the strong comparison function".
        if let Some(v) = self.if_match {
            if !etag_list_matches(v, etag, Comparison::Strong) {
                return Outcome::Failed;
            }
        } else if let Some(t) = self.if_unmodified_since.and_then(parse_http_date) {
            // Step 2: "When ... If-Match is not present, and If-Unmodified-Since
            // is present, evaluate ...: if false, respond 412". A date that
            // does not parse is ignored (§13.1.4).
            if mtime > t {
                return Outcome::Failed;
            }
        }
        // Step 3: "If-None-Match is present ... if false for GET/HEAD,
        // respond 304 (Not Modified)". §13.1.2: "A recipient MUST use the
        // weak comparison function when comparing entity tags for If-None-Match".
        if let Some(v) = self.if_none_match {
            if etag_list_matches(v, etag, Comparison::Weak) {
                return Outcome::NotModified;
            }
        } else if let Some(t) = self.if_modified_since.and_then(parse_http_date) {
            // Step 4: "When the method is GET or HEAD, If-None-Match is not
            // present, and If-Modified-Since is present ... if false, respond 304".
            if mtime <= t {
                return Outcome::NotModified;
            }
        }
        Outcome::Proceed
    }
}

/// Does `If-Range: value` still describe the representation (§13.1.5)?
/// When it does not, the Range header is ignored and the whole
/// representation is sent: the client's partial copy is stale.
///
/// `mtime_exact` is the modification time with sub-second precision, used to
/// decide whether `Last-Modified` is strong enough to compare.
pub(crate) fn if_range_holds(value: &[u8], etag: &[u8], mtime: u64, mtime_exact: SystemTime) -> bool {
    let value = trim_ows(value);
    // "A valid entity-tag can be distinguished from a valid HTTP-date by
    // examining the first three characters for a DQUOTE."
    if value.iter().take(3).any(|&b| b == b'"') {
        // "the server MUST use the strong comparison function": a weak tag never matches.
        return !value.starts_with(b"W/") && value == etag;
    }
    let Some(t) = parse_http_date(value) else {
        return false;
    };
    // "the server MUST NOT treat it as matching unless the Last-Modified is a
    // strong validator" — §8.8.2.2: it is, when the file was last written at
    // least a second before now (no second write can share the timestamp).
    let settled = SystemTime::now().duration_since(mtime_exact).is_ok_and(|d| d.as_secs() >= 1);
    settled && t == mtime
}

/// How two entity tags are compared (§8.8.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Comparison {
    /// Both strong and identical.
    Strong,
    /// Identical opaque tags, either or both may be weak.
    Weak,
}

/// Does the list `If-Match`/`If-None-Match: list` match our (strong) `etag`?
///
/// ```text
/// If-Match = "*" / #entity-tag
/// entity-tag = [ weak ] opaque-tag      weak = %s"W/"
/// opaque-tag = DQUOTE *etagc DQUOTE     etagc = %x21 / %x23-7E / obs-text
/// ```
///
/// `etagc` allows commas, so the list is scanned tag by tag, not split on `,`.
/// A malformed list matches nothing.
pub(crate) fn etag_list_matches(list: &[u8], etag: &[u8], cmp: Comparison) -> bool {
    let list = trim_ows(list);
    if list == b"*" {
        // "*" matches any current representation; we only get here for one that exists.
        return true;
    }
    let mut rest = list;
    loop {
        rest = skip_ows_and_commas(rest);
        if rest.is_empty() {
            return false;
        }
        let (weak, tagged) = match rest.strip_prefix(b"W/") {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let Some(body) = tagged.strip_prefix(b"\"") else {
            return false;
        };
        let Some(end) = body.iter().position(|&b| b == b'"') else {
            return false;
        };
        let tag = &tagged[..end + 2];
        if tag == etag && (cmp == Comparison::Weak || !weak) {
            return true;
        }
        rest = &tagged[end + 2..];
    }
}

fn trim_ows(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|b| !matches!(b, b' ' | b'\t')).unwrap_or(v.len());
    let end = v.iter().rposition(|b| !matches!(b, b' ' | b'\t')).map_or(start, |e| e + 1);
    &v[start..end]
}

fn skip_ows_and_commas(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|b| !matches!(b, b' ' | b'\t' | b',')).unwrap_or(v.len());
    &v[start..]
}

/// The modification time of `meta` as Unix seconds (0 before 1970).
pub(crate) fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

const MONTHS: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// Parses an HTTP-date into Unix seconds. RFC 9110 §5.6.7: "A recipient
/// that parses a timestamp value in an HTTP field MUST accept all three
/// HTTP-date formats":
///
/// ```text
/// Sun, 06 Nov 1994 08:49:37 GMT    ; IMF-fixdate
/// Sunday, 06-Nov-94 08:49:37 GMT   ; obsolete RFC 850 format
/// Sun Nov  6 08:49:37 1994         ; ANSI C's asctime() format
/// ```
pub fn parse_http_date(v: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(v).ok()?.trim_matches([' ', '\t']);
    let (day, month, year, time) = if let Some((_wday, rest)) = s.split_once(", ") {
        let mut it = rest.split(' ');
        let date = it.next()?;
        let (day, month, year) = if let Some((d, rest)) = date.split_once('-') {
            // RFC 850: "06-Nov-94". §5.6.7: a two-digit year "that appears to
            // be more than 50 years in the future" is in the past century.
            let (m, y) = rest.split_once('-')?;
            let y: u64 = parse_digits(y, 2)?;
            (d, m, if y < 70 { 2000 + y } else { 1900 + y })
        } else {
            let (m, y) = (it.next()?, it.next()?);
            (date, m, parse_digits(y, 4)?)
        };
        let time = it.next()?;
        if it.next()? != "GMT" || it.next().is_some() || day.len() != 2 {
            return None;
        }
        (day, month, year, time)
    } else {
        // asctime: "Sun Nov  6 08:49:37 1994" (the day is padded with a space).
        let mut it = s.split(' ').filter(|p| !p.is_empty());
        let (_wday, m, d, time, y) = (it.next()?, it.next()?, it.next()?, it.next()?, it.next()?);
        if it.next().is_some() || d.is_empty() || d.len() > 2 {
            return None;
        }
        (d, m, parse_digits(y, 4)?, time)
    };
    let day = day.parse::<u64>().ok().filter(|_| day.bytes().all(|b| b.is_ascii_digit()))?;
    let month = MONTHS.iter().position(|m| *m == month)? as u64 + 1;
    let mut hms = time.split(':');
    let h = parse_digits(hms.next()?, 2)?;
    let m = parse_digits(hms.next()?, 2)?;
    let sec = parse_digits(hms.next()?, 2)?;
    if hms.next().is_some() || !(1..=31).contains(&day) || h > 23 || m > 59 || sec > 60 || year < 1970 {
        return None;
    }
    // Days from the civil date (proleptic Gregorian), after Howard Hinnant's
    // `days_from_civil`: count from 1 March so the leap day ends the year.
    let (y, mo) = if month <= 2 { (year - 1, month + 9) } else { (year, month - 3) };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * mo + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + m * 60 + sec)
}

/// Exactly `n` ASCII digits.
fn parse_digits(s: &str, n: usize) -> Option<u64> {
    (s.len() == n && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_in_all_three_formats() {
        for (text, want) in [
            (&b"Sun, 06 Nov 1994 08:49:37 GMT"[..], Some(784_111_777)),
            (b"Sunday, 06-Nov-94 08:49:37 GMT", Some(784_111_777)),
            (b"Sun Nov  6 08:49:37 1994", Some(784_111_777)),
            (b"Thu, 01 Jan 1970 00:00:00 GMT", Some(0)),
            (b"Tue, 29 Feb 2000 12:00:00 GMT", Some(951_825_600)),
            (b"garbage", None),
            (b"Sun, 06 Nov 1994 08:49:37 UTC", None),
            (b"Sun, 06 Nov 1994 08:49 GMT", None),
            (b"Sun, 6 Nov 1994 08:49:37 GMT", None),
            (b"Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT", None),
            (b"", None),
        ] {
            assert_eq!(parse_http_date(text), want, "{}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn etag_lists() {
        use Comparison::*;
        let e = b"\"b\"";
        for (list, cmp, want) in [
            (&b"\"a\", \"b\""[..], Strong, true),
            (b"\"a\",\"b\"", Strong, true),
            (b"W/\"b\"", Weak, true),
            (b"W/\"b\"", Strong, false),
            (b"*", Strong, true),
            (b"\"c\"", Weak, false),
            (b"\"a,b\", \"b\"", Strong, true),
            (b"\"a,\"b\"", Strong, false),
            (b"b", Weak, false),
            (b"\"b", Weak, false),
            (b"", Weak, false),
        ] {
            assert_eq!(etag_list_matches(list, e, cmp), want, "{}", String::from_utf8_lossy(list));
        }
    }

    #[test]
    fn precedence_follows_rfc_9110_13_2_2() {
        let tag = &b"\"t\""[..];
        let (mtime, before, after) =
            (1000u64, &b"Thu, 01 Jan 1970 00:00:01 GMT"[..], &b"Thu, 01 Jan 1970 01:00:00 GMT"[..]);
        let c = |im, inm, ims, ius| Conditions {
            if_match: im,
            if_none_match: inm,
            if_modified_since: ims,
            if_unmodified_since: ius,
        };
        use Outcome::*;
        for (cond, want) in [
            (c(None, None, None, None), Proceed),
            (c(Some(tag), None, None, None), Proceed),
            (c(Some(&b"\"x\""[..]), None, None, None), Failed),
            (c(Some(&b"W/\"t\""[..]), None, None, None), Failed),
            // If-Match present: If-Unmodified-Since is not evaluated.
            (c(Some(tag), None, None, Some(before)), Proceed),
            (c(None, None, None, Some(before)), Failed),
            (c(None, None, None, Some(after)), Proceed),
            (c(None, None, None, Some(&b"nonsense"[..])), Proceed),
            (c(None, Some(tag), None, None), NotModified),
            (c(None, Some(&b"W/\"t\""[..]), None, None), NotModified),
            (c(None, Some(&b"*"[..]), None, None), NotModified),
            (c(None, Some(&b"\"x\""[..]), None, None), Proceed),
            // If-None-Match present: If-Modified-Since is ignored.
            (c(None, Some(&b"\"x\""[..]), Some(after), None), Proceed),
            (c(None, None, Some(after), None), NotModified),
            (c(None, None, Some(before), None), Proceed),
            // 412 wins over 304.
            (c(Some(&b"\"x\""[..]), Some(tag), None, None), Failed),
            (c(None, Some(tag), None, Some(before)), Failed),
        ] {
            assert_eq!(cond.evaluate(tag, mtime), want, "{cond:?}");
        }
    }

    #[test]
    fn if_range() {
        let old = UNIX_EPOCH + std::time::Duration::from_secs(784_111_777);
        let tag = &b"\"t\""[..];
        assert!(if_range_holds(b"\"t\"", tag, 784_111_777, old));
        assert!(!if_range_holds(b"W/\"t\"", tag, 784_111_777, old));
        assert!(!if_range_holds(b"\"u\"", tag, 784_111_777, old));
        assert!(if_range_holds(b"Sun, 06 Nov 1994 08:49:37 GMT", tag, 784_111_777, old));
        assert!(!if_range_holds(b"Sun, 06 Nov 1994 08:49:38 GMT", tag, 784_111_777, old));
        // Modified just now: Last-Modified is weak, a date never matches.
        let now = SystemTime::now();
        assert!(!if_range_holds(b"Sun, 06 Nov 1994 08:49:37 GMT", tag, unix_secs(now), now));
    }
}
