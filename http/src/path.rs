//! Percent-decoding and path normalisation, safe for mapping to files.
//!
//! RFC 3986 §5.2.4 `remove_dot_segments` on the *decoded* path, with the
//! extra rules a static-file server needs so that the result can be joined
//! to a document root without escaping it:
//!
//! ```text
//! raw path (percent-encoded)   /a/./b/%2e%2e//c%20d/
//!   └─ split on "/"            a . b %2e%2e "" c%20d ""
//!   └─ decode each segment     a . b ..     "" "c d"  ""   (%2F, "\", NUL, CTLs rejected)
//!   └─ resolve               /a/c d/
//! ```
//!
//! Invariants of a successful result:
//! - starts with `/`; never climbs above it (`/../x` is `/x`, as RFC 3986);
//! - no `.` or `..` segment, even percent-encoded (`%2e%2e`);
//! - no empty segment (`//` collapses) except a single trailing `/`, kept
//!   because it means "directory";
//! - no NUL, no control byte, no `\`, and no `/` that came from `%2F`
//!   (an encoded slash would let one segment name a sub-directory);
//! - valid UTF-8.

use crate::table::{hex_val, CTL};

/// Why a path was refused. All of them deserve a 400.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PathError {
    /// The path does not start with `/`.
    NotAbsolute,
    /// `%` not followed by two hex digits.
    InvalidEscape,
    /// A NUL byte, raw or `%00`.
    Nul,
    /// Another control byte.
    ControlByte,
    /// `%2F`: an encoded slash.
    EncodedSlash,
    /// `\` raw or `%5C`.
    Backslash,
    /// The decoded bytes are not UTF-8.
    InvalidUtf8,
}

impl PathError {
    /// A static description.
    pub const fn message(&self) -> &'static str {
        match self {
            PathError::NotAbsolute => "path does not start with /",
            PathError::InvalidEscape => "invalid percent-escape",
            PathError::Nul => "NUL in path",
            PathError::ControlByte => "control byte in path",
            PathError::EncodedSlash => "encoded slash in path",
            PathError::Backslash => "backslash in path",
            PathError::InvalidUtf8 => "path is not UTF-8",
        }
    }
}

impl core::fmt::Display for PathError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for PathError {}

/// Decodes `%XX` escapes of `raw` into `out` (appending), strictly: a bad
/// escape is an error, and nothing else is changed (`+` stays `+`).
///
/// # Errors
///
/// [`PathError::InvalidEscape`].
pub fn percent_decode_into(raw: &[u8], out: &mut Vec<u8>) -> Result<(), PathError> {
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b == b'%' {
            let h = raw.get(i + 1).and_then(|&c| hex_val(c));
            let l = raw.get(i + 2).and_then(|&c| hex_val(c));
            match (h, l) {
                (Some(h), Some(l)) => out.push(h << 4 | l),
                _ => return Err(PathError::InvalidEscape),
            }
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Ok(())
}

/// Normalises a raw (percent-encoded) absolute path; see the module docs.
///
/// # Errors
///
/// A [`PathError`] for anything that is not a safe path.
///
/// # Examples
///
/// ```
/// use weir_http::{normalize_path, PathError};
/// assert_eq!(normalize_path(b"/a/./b/../%63").unwrap(), "/a/c");
/// assert_eq!(normalize_path(b"/../../etc/passwd").unwrap(), "/etc/passwd");
/// assert_eq!(normalize_path(b"/a%2fb"), Err(PathError::EncodedSlash));
/// ```
pub fn normalize_path(raw: &[u8]) -> Result<String, PathError> {
    let mut out = String::new();
    normalize_path_into(raw, &mut out)?;
    Ok(out)
}

/// [`normalize_path`] into a caller-reused `String` (cleared first).
///
/// # Errors
///
/// As [`normalize_path`]; `out` is then left empty.
pub fn normalize_path_into(raw: &[u8], out: &mut String) -> Result<(), PathError> {
    let mut v = core::mem::take(out).into_bytes();
    v.clear();
    let r = normalize_bytes(raw, &mut v);
    match r.and_then(|()| String::from_utf8(v).map_err(|_| PathError::InvalidUtf8)) {
        Ok(s) => {
            *out = s;
            Ok(())
        }
        Err(e) => Err(e),
    }
}

fn normalize_bytes(raw: &[u8], out: &mut Vec<u8>) -> Result<(), PathError> {
    let Some(rest) = raw.strip_prefix(b"/") else {
        return Err(PathError::NotAbsolute);
    };
    out.reserve(raw.len());
    out.push(b'/');
    // Invariant: `out` ends with '/' at the top of each iteration.
    let mut last_normal = false;
    for seg in rest.split(|&b| b == b'/') {
        let mark = out.len();
        percent_decode_into(seg, out)?;
        for &b in &out[mark..] {
            match b {
                0 => return Err(PathError::Nul),
                b'/' => return Err(PathError::EncodedSlash),
                b'\\' => return Err(PathError::Backslash),
                _ if CTL[b as usize] => return Err(PathError::ControlByte),
                _ => {}
            }
        }
        match &out[mark..] {
            b"" | b"." => {
                out.truncate(mark);
                last_normal = false;
            }
            b".." => {
                out.truncate(mark);
                if mark > 1 {
                    // Drop the previous segment, keep its leading '/'.
                    let prev = memchr::memrchr(b'/', &out[..mark - 1]).unwrap_or(0);
                    out.truncate(prev + 1);
                }
                last_normal = false;
            }
            _ => {
                out.push(b'/');
                last_normal = true;
            }
        }
    }
    if last_normal {
        out.pop();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        // (input, expected) — RFC 3986 §5.2.4 plus the file-path rules above.
        let ok: &[(&[u8], &str)] = &[
            (b"/", "/"),
            (b"/a", "/a"),
            (b"/a/", "/a/"),
            (b"/a/b/c/./../../g", "/a/g"),
            (b"/mid/content=5/../6", "/mid/6"),
            (b"/..", "/"),
            (b"/../", "/"),
            (b"/../../a", "/a"),
            (b"/a/..", "/"),
            (b"/a/../", "/"),
            (b"/a/.", "/a/"),
            (b"//a//b//", "/a/b/"),
            (b"/%2e%2e/%2E%2e/x", "/x"),
            (b"/a/%2e/b", "/a/b"),
            (b"/c%20d", "/c d"),
            (b"/%e2%82%ac", "/€"),
            (b"/a+b", "/a+b"),
            (b"/...", "/..."),
            (b"/.a/..b", "/.a/..b"),
        ];
        for (raw, want) in ok {
            assert_eq!(normalize_path(raw).as_deref(), Ok(*want), "{:?}", String::from_utf8_lossy(raw));
        }
        let bad: &[(&[u8], PathError)] = &[
            (b"", PathError::NotAbsolute),
            (b"a/b", PathError::NotAbsolute),
            (b"/a%2fb", PathError::EncodedSlash),
            (b"/a%2Fb", PathError::EncodedSlash),
            (b"/a\\b", PathError::Backslash),
            (b"/a%5cb", PathError::Backslash),
            (b"/a%00", PathError::Nul),
            (b"/a\0", PathError::Nul),
            (b"/a%0a", PathError::ControlByte),
            (b"/a%7f", PathError::ControlByte),
            (b"/a%", PathError::InvalidEscape),
            (b"/a%2", PathError::InvalidEscape),
            (b"/a%zz", PathError::InvalidEscape),
            (b"/%ff", PathError::InvalidUtf8),
        ];
        for (raw, want) in bad {
            assert_eq!(normalize_path(raw), Err(*want), "{:?}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn into_reuses_and_clears_on_error() {
        let mut s = String::from("junk");
        normalize_path_into(b"/x/y", &mut s).unwrap();
        assert_eq!(s, "/x/y");
        assert!(normalize_path_into(b"/%00", &mut s).is_err());
        assert!(s.is_empty());
    }
}
