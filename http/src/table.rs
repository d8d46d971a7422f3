//! Byte classification: 256-entry tables built from the RFC grammar.
//!
//! Every decision the parser makes about a single byte is one table load
//! (`TOKEN[b]`), never a chain of comparisons. The tables are built by
//! `const fn` from the RFC grammar, so the grammar is the source of truth:
//!
//! ```text
//! tchar  = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
//!          "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA          ; RFC 9110 §5.6.2
//! field-vchar = VCHAR / obs-text                                ; RFC 9110 §5.5
//! pchar  = unreserved / pct-encoded / sub-delims / ":" / "@"    ; RFC 3986 §3.3
//! ```
//!
//! The scans that test many bytes at once against these classes (the
//! control-byte search, the fast runs of name, path and host bytes) are in
//! [`crate::scan`].

/// Builds a 256-entry table from a `const fn(u8) -> bool` (const-evaluated).
macro_rules! table {
    ($pred:ident) => {{
        let mut t = [false; 256];
        let mut i = 0;
        while i < 256 {
            t[i] = $pred(i as u8);
            i += 1;
        }
        t
    }};
}
pub(crate) use table;

const fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

/// `unreserved / sub-delims / ":" / "@"` plus `/ ? [ ] %` (RFC 3986): every byte a
/// request-target may hold. `%` must also start a `%XX` escape, checked apart.
const fn is_target_char(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
                | b'/'
                | b'?'
                | b'['
                | b']'
                | b'%'
        )
}

/// `uri-host [ ":" port ]`: reg-name, IP-literal and port characters (RFC 3986 §3.2.2):
/// the request-target's characters less the path, query and userinfo delimiters.
const fn is_host_char(c: u8) -> bool {
    is_target_char(c) && !matches!(c, b'/' | b'?' | b'@')
}

const fn is_ctl(c: u8) -> bool {
    c < 0x20 || c == 0x7f
}

/// `tchar`: bytes allowed in methods and field names.
pub(crate) static TOKEN: [bool; 256] = table!(is_tchar);
/// [`TARGET_CLASS`]: a byte that may not appear in a request-target.
pub(crate) const T_BAD: u8 = 1;
/// [`TARGET_CLASS`]: `%`, which must start a `%XX` escape.
pub(crate) const T_PCT: u8 = 2;

/// Request-target classes, so that a whole target is checked with one OR-fold
/// (no branch per byte) and escapes are only looked at when a `%` is present.
pub(crate) static TARGET_CLASS: [u8; 256] = {
    let mut t = [T_BAD; 256];
    let mut i = 0;
    while i < 256 {
        if is_target_char(i as u8) {
            t[i] = 0;
        }
        i += 1;
    }
    t[b'%' as usize] = T_PCT;
    t
};
/// 1 for bytes that are not `tchar`.
pub(crate) static TOKEN_BAD: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = !is_tchar(i as u8) as u8;
        i += 1;
    }
    t
};
/// Bytes allowed in a `Host` value.
pub(crate) static HOST: [bool; 256] = table!(is_host_char);
/// 1 for bytes *not* allowed in a `Host` value, so a value is checked with
/// one OR-fold and no branch per byte.
pub(crate) static HOST_BAD: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = !is_host_char(i as u8) as u8;
        i += 1;
    }
    t
};
/// Control bytes: `%x00-1F / %x7F`.
pub(crate) static CTL: [bool; 256] = table!(is_ctl);

/// The OR of `table[b]` over all bytes: one pass, no branch per byte (four
/// lookups per step), then the caller decides once.
#[inline]
pub(crate) fn or_class(bytes: &[u8], table: &[u8; 256]) -> u8 {
    let mut acc = 0;
    let mut chunks = bytes.chunks_exact(4);
    for c in &mut chunks {
        acc |= table[c[0] as usize] | table[c[1] as usize] | table[c[2] as usize] | table[c[3] as usize];
    }
    for &b in chunks.remainder() {
        acc |= table[b as usize];
    }
    acc
}

/// Value of each ASCII hex digit; [`NOT_HEX`] for every other byte.
pub(crate) static HEX: [u8; 256] = {
    let mut t = [NOT_HEX; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};
/// [`HEX`] entry of a byte that is not a hex digit.
pub(crate) const NOT_HEX: u8 = 0xff;

/// Value of an ASCII hex digit, or `None`.
#[inline]
pub(crate) fn hex_val(c: u8) -> Option<u8> {
    match HEX[c as usize] {
        NOT_HEX => None,
        d => Some(d),
    }
}

/// Strips leading and trailing OWS (`*( SP / HTAB )`, RFC 9110 §5.6.3).
#[inline]
pub(crate) fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    // The scans are checked here against the tables they must agree with.
    use crate::scan::*;

    /// The SWAR scan must agree with the scalar table for every byte value at
    /// every position of a 0..=24-byte buffer (covers the word and tail loops).
    #[test]
    fn find_ctl_matches_table_for_all_bytes_and_offsets() {
        for len in (0..=40usize).chain([63, 64, 65, 70, 95, 96, 97, 130]) {
            for pos in 0..len {
                for b in 0..=255u8 {
                    let mut buf = vec![b'a'; len];
                    buf[pos] = b;
                    for from in 0..=pos {
                        let expect = if CTL[b as usize] { pos } else { len };
                        assert_eq!(find_ctl(&buf, from), expect, "len {len} pos {pos} b {b}");
                        assert_eq!(find_ctl_swar(&buf, from), expect, "swar len {len} pos {pos} b {b}");
                    }
                }
            }
        }
        // Several control bytes: the first wins; obs-text before them is skipped.
        let buf = b"\x80\xff\xfe\x7e\x20abc\x01\x00\x7f";
        assert_eq!(find_ctl(buf, 0), 8);
    }

    #[test]
    fn tables() {
        for c in b"!#$%&'*+-.^_`|~09azAZ" {
            assert!(TOKEN[*c as usize], "{}", *c as char);
        }
        for c in b"\"(),/:;<=>?@[\\]{} \t\x00\x7f\x80" {
            assert!(!TOKEN[*c as usize], "{}", *c as char);
        }
        for c in b"\"<>\\^`{|} #\x00\x80" {
            assert_eq!(TARGET_CLASS[*c as usize], T_BAD, "{}", *c as char);
        }
        assert_eq!(TARGET_CLASS[b'%' as usize], T_PCT);
        // fast_run agrees with its scalar tables for every byte at every position.
        for b in 0..=255u8 {
            for len in [1usize, 5, 15, 16, 17, 31, 32, 33, 40] {
                for pos in 0..len {
                    let mut v = vec![b'a'; len];
                    v[pos] = b;
                    let want_n = if FAST_NAME[b as usize] { len } else { pos };
                    let want_p = if FAST_PATH[b as usize] { len } else { pos };
                    let want_h = if FAST_HOST[b as usize] { len } else { pos };
                    assert_eq!(
                        fast_run::<{ SET_NAME }>(&v, 0, v.len()),
                        want_n,
                        "name b {b} len {len} pos {pos}"
                    );
                    assert_eq!(
                        fast_run::<{ SET_PATH }>(&v, 0, v.len()),
                        want_p,
                        "path b {b} len {len} pos {pos}"
                    );
                    assert_eq!(
                        fast_run::<{ SET_HOST }>(&v, 0, v.len()),
                        want_h,
                        "host b {b} len {len} pos {pos}"
                    );
                    // Inside a larger buffer, with a stop byte just past the
                    // run's end: loads may read it, the answer may not.
                    let mut w = b" :@@@@@@".to_vec();
                    w.extend_from_slice(&v);
                    w.extend_from_slice(b" : \r\n 0123456789abcdef");
                    let (from, to) = (8, 8 + len);
                    for (set, want) in [(0, want_n), (1, want_p), (2, want_h)] {
                        let got = match set {
                            0 => fast_run::<{ SET_NAME }>(&w, from, to),
                            1 => fast_run::<{ SET_PATH }>(&w, from, to),
                            _ => fast_run::<{ SET_HOST }>(&w, from, to),
                        };
                        assert_eq!(got, from + want, "windowed set {set} b {b} len {len}");
                    }
                }
            }
            // The fast sets are subsets of the full ones.
            if FAST_NAME[b as usize] {
                assert!(TOKEN[b as usize]);
            }
            if FAST_PATH[b as usize] {
                assert_eq!(TARGET_CLASS[b as usize], 0);
            }
            if FAST_HOST[b as usize] {
                assert_eq!(HOST_BAD[b as usize], 0);
            }
        }
        for b in 0..=255u8 {
            assert_eq!(TOKEN_BAD[b as usize] == 0, TOKEN[b as usize]);
            assert_eq!(HOST_BAD[b as usize] == 0, HOST[b as usize]);
            for len in 0..40 {
                let mut v = vec![b'a'; len];
                if len > 0 {
                    v[len / 2] = b;
                }
                let want = v.iter().position(|&c| c == b':').unwrap_or(len);
                assert_eq!(find_byte(&v, b':'), want);
                let class = v.iter().fold(0, |a, &c| a | TARGET_CLASS[c as usize]);
                assert_eq!(or_class(&v, &TARGET_CLASS), class);
            }
        }
        assert_eq!(TARGET_CLASS[b'/' as usize], 0);
        // has_slash_pair agrees with a plain scan, windowed, at every length and position.
        for len in 0..40 {
            for pos in 0..len.max(1) {
                for second in [b'/', b'.', b'a'] {
                    let mut v = vec![b'a'; len];
                    if len >= 2 && pos + 1 < len {
                        v[pos] = b'/';
                        v[pos + 1] = second;
                    }
                    let want = v.windows(2).any(|p| p[0] == b'/' && matches!(p[1], b'/' | b'.'));
                    let mut w = b"//".to_vec();
                    w.extend_from_slice(&v);
                    // A pair straddling the end, and more pairs after it.
                    w.extend_from_slice(b"/./..//");
                    if len > 0 && v[len - 1] == b'/' {
                        continue; // the straddling '/' + '/' must not count: covered below
                    }
                    assert_eq!(has_slash_pair(&w, 2, 2 + len), want, "len {len} pos {pos} {second}");
                }
            }
        }
        // path_run agrees with fast_run + has_slash_pair, windowed, on paths
        // built from the interesting bytes.
        let alphabet = b"/.a%_?";
        for len in 0..40usize {
            for seed in 0..60usize {
                let v: Vec<u8> =
                    (0..len).map(|k| alphabet[(k * 7 + seed * 13 + k * k * seed) % alphabet.len()]).collect();
                let mut w = b"GET ".to_vec();
                w.extend_from_slice(&v);
                w.extend_from_slice(b"/. HTTP/1.1\r\n");
                let (from, to) = (4, 4 + len);
                let end = fast_run::<{ SET_PATH }>(&w, from, to);
                let want = (end, end == to && !has_slash_pair(&w, from, to));
                assert_eq!(path_run(&w, from, to), want, "{:?}", String::from_utf8_lossy(&v));
                assert_eq!(
                    path_run(&w[..to], from, to),
                    want,
                    "at the end {:?}",
                    String::from_utf8_lossy(&v)
                );
            }
        }
        // path_scan (no known end) agrees with the same definition on the
        // run it finds, at every length, with what follows the run varied.
        let alphabet = b"/.a-Z9";
        for len in 0..48usize {
            for seed in 0..40usize {
                let v: Vec<u8> =
                    (0..len).map(|k| alphabet[(k * 5 + seed * 11 + k * k * seed) % alphabet.len()]).collect();
                for stop in
                    [&b" HTTP/1.1\r\nHost: a\r\n\r\n"[..], b"?q=1 HTTP/1.1\r\n\r\n\r\n\r\n", b"%2e/.//"]
                {
                    let mut w = b"GET ".to_vec();
                    w.extend_from_slice(&v);
                    w.extend_from_slice(stop);
                    let end = fast_run::<{ SET_PATH }>(&w, 4, w.len());
                    let want = (end, !has_slash_pair(&w, 4, end));
                    match path_scan(&w, 4) {
                        Some(got) => assert_eq!(got, want, "{:?}", String::from_utf8_lossy(&w)),
                        // Allowed only where the run reaches the last 16 bytes.
                        None => assert!(end + 16 > w.len(), "{:?}", String::from_utf8_lossy(&w)),
                    }
                }
            }
        }
        assert!(!has_slash_pair(b"/a/\x2f/x", 0, 3));
        assert!(!has_slash_pair(b"/abcdefghijklmnopq/", 0, 19));
        assert!(has_slash_pair(b"/abcdefghijklmnop//", 0, 19));
        assert_eq!(trim_ows(b" \t a b \t"), b"a b");
        assert_eq!(trim_ows(b"  "), b"");
        assert!(eq_lower(b"Transfer-Encoding", b"transfer-encoding"));
        assert!(eq_lower(b"HOST", b"host"));
        assert!(eq_lower(b"100-Continue", b"100-continue"));
        assert!(!eq_lower(b"hosT!", b"host"));
        assert!(!eq_lower(b"Transfer-Encodinh", b"transfer-encoding"));
        assert!(!eq_lower(b"keep_alive", b"keep-alive"));
        assert_eq!(hex_val(b'f'), Some(15));
        assert_eq!(hex_val(b'F'), Some(15));
        assert_eq!(hex_val(b'0'), Some(0));
        assert_eq!(hex_val(b'9'), Some(9));
        assert_eq!((0..=255u8).filter(|&b| hex_val(b).is_some()).count(), 22);
        assert_eq!(hex_val(b'g'), None);
    }
}
