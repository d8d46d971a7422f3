//! Request targets (RFC 9112 §3.2) and query strings.
//!
//! ```text
//! request-target = origin-form      ; absolute-path [ "?" query ]   GET /a?b HTTP/1.1
//!                / absolute-form    ; absolute-URI                  GET http://h/a HTTP/1.1 (proxies)
//!                / authority-form   ; uri-host ":" port             CONNECT h:443 HTTP/1.1
//!                / asterisk-form    ; "*"                           OPTIONS * HTTP/1.1
//! ```
//!
//! The parser has already checked every byte of the target (RFC 3986
//! characters, well-formed `%XX`) and its form against the method; this
//! module splits it into parts without copying. Percent-decoding is left to
//! [`normalize_path`](crate::normalize_path) (paths) and [`QueryPairs`]
//! (`application/x-www-form-urlencoded` queries), because a decoded path is a
//! different thing from the raw one (`%2F` is not `/`).

use std::borrow::Cow;

use crate::table::{hex_val, HOST};
use crate::{Method, ParseError};

/// A request-target split into its parts (all borrowed from the request).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target<'a> {
    /// `absolute-path [ "?" query ]`: the usual form.
    Origin {
        /// The path, starting with `/`, still percent-encoded.
        path: &'a [u8],
        /// The query, without `?`.
        query: Option<&'a [u8]>,
    },
    /// `scheme "://" authority path [ "?" query ]` (requests to proxies; a
    /// server MUST accept it, RFC 9112 §3.2.2).
    Absolute {
        /// `http`, `https`, ...
        scheme: &'a [u8],
        /// `host[:port]`.
        authority: &'a [u8],
        /// The path; `/` when the URI has none.
        path: &'a [u8],
        /// The query, without `?`.
        query: Option<&'a [u8]>,
    },
    /// `uri-host ":" port`, only with `CONNECT`.
    Authority(&'a [u8]),
    /// `*`, only with `OPTIONS`: the server as a whole.
    Asterisk,
}

impl<'a> Target<'a> {
    /// Splits a request-target sent with `method`.
    ///
    /// # Errors
    ///
    /// [`ParseError::InvalidTarget`] if the target's form does not fit the
    /// method or the bytes are not a valid target.
    pub fn parse(method: Method, raw: &'a [u8]) -> Result<Self, ParseError> {
        let bad = ParseError::InvalidTarget;
        match raw.first() {
            None => Err(bad),
            Some(b'/') if method != Method::Connect => {
                let (path, query) = split_query(raw);
                Ok(Target::Origin { path, query })
            }
            Some(b'*') if raw.len() == 1 && method == Method::Options => Ok(Target::Asterisk),
            Some(_) if method == Method::Connect => {
                check_authority_form(raw)?;
                Ok(Target::Authority(raw))
            }
            Some(_) => {
                let colon = check_absolute_form(raw)?;
                let scheme = &raw[..colon];
                let rest = &raw[colon + 3..];
                let auth_end = rest.iter().position(|&b| b == b'/' || b == b'?').unwrap_or(rest.len());
                let authority = &rest[..auth_end];
                let (path, query) = split_query(&rest[auth_end..]);
                let path: &[u8] = if path.is_empty() { b"/" } else { path };
                Ok(Target::Absolute { scheme, authority, path, query })
            }
        }
    }

    /// The path (still percent-encoded); empty for authority- and asterisk-form.
    pub fn path(&self) -> &'a [u8] {
        match self {
            Target::Origin { path, .. } | Target::Absolute { path, .. } => path,
            Target::Authority(_) | Target::Asterisk => b"",
        }
    }

    /// The query without `?`, if any.
    pub fn query(&self) -> Option<&'a [u8]> {
        match self {
            Target::Origin { query, .. } | Target::Absolute { query, .. } => *query,
            Target::Authority(_) | Target::Asterisk => None,
        }
    }

    /// The query's `key=value` pairs, percent- and `+`-decoded.
    pub fn query_pairs(&self) -> QueryPairs<'a> {
        QueryPairs::new(self.query().unwrap_or(b""))
    }
}

fn split_query(s: &[u8]) -> (&[u8], Option<&[u8]>) {
    match memchr::memchr(b'?', s) {
        Some(q) => (&s[..q], Some(&s[q + 1..])),
        None => (s, None),
    }
}

/// `absolute-URI` restricted to `scheme "://" authority ...`, no userinfo
/// (RFC 9110 §4.2.4: treat userinfo in an http(s) URI as an error).
/// Returns the index of the scheme's colon.
pub(crate) fn check_absolute_form(t: &[u8]) -> Result<usize, ParseError> {
    let bad = Err(ParseError::InvalidTarget);
    // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )   (RFC 3986 §3.1)
    let Some(colon) = memchr::memchr(b':', t) else {
        return bad;
    };
    let scheme = &t[..colon];
    let scheme_ok = scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !scheme_ok || !t[colon + 1..].starts_with(b"//") {
        return bad;
    }
    let rest = &t[colon + 3..];
    let auth_end = rest.iter().position(|&b| b == b'/' || b == b'?').unwrap_or(rest.len());
    let auth = &rest[..auth_end];
    if auth.is_empty() || !auth.iter().all(|&b| HOST[b as usize]) {
        return bad;
    }
    Ok(colon)
}

/// `authority-form = uri-host ":" port` (RFC 9112 §3.2.3), for CONNECT.
pub(crate) fn check_authority_form(t: &[u8]) -> Result<(), ParseError> {
    let Some(colon) = memchr::memrchr(b':', t) else {
        return Err(ParseError::InvalidTarget);
    };
    let (host, port) = (&t[..colon], &t[colon + 1..]);
    let host_ok = !host.is_empty() && host.iter().all(|&b| HOST[b as usize]);
    let port_ok = !port.is_empty() && port.len() <= 5 && port.iter().all(u8::is_ascii_digit);
    if host_ok && port_ok {
        Ok(())
    } else {
        Err(ParseError::InvalidTarget)
    }
}

/// Iterator over the `name=value` pairs of a query string, decoded as
/// `application/x-www-form-urlencoded` (`+` is a space, `%XX` a byte; a
/// malformed `%` stays literal and invalid UTF-8 becomes U+FFFD, as browsers do).
/// Borrows when a pair needs no decoding.
///
/// ```
/// use weir_http::QueryPairs;
/// let v: Vec<_> = QueryPairs::new(b"a=1&b=x+y%21&c").collect();
/// assert_eq!(v, [("a".into(), "1".into()), ("b".into(), "x y!".into()), ("c".into(), "".into())]);
/// ```
#[derive(Clone, Debug)]
pub struct QueryPairs<'a> {
    rest: &'a [u8],
}

impl<'a> QueryPairs<'a> {
    /// Pairs of `query` (without the `?`).
    pub fn new(query: &'a [u8]) -> Self {
        Self { rest: query }
    }
}

impl<'a> Iterator for QueryPairs<'a> {
    type Item = (Cow<'a, str>, Cow<'a, str>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let end = memchr::memchr(b'&', self.rest).unwrap_or(self.rest.len());
            let pair = &self.rest[..end];
            self.rest = self.rest.get(end + 1..).unwrap_or(b"");
            if pair.is_empty() {
                continue;
            }
            let (k, v) = match memchr::memchr(b'=', pair) {
                Some(e) => (&pair[..e], &pair[e + 1..]),
                None => (pair, &b""[..]),
            };
            return Some((form_decode(k), form_decode(v)));
        }
    }
}

/// Decodes one form-urlencoded component.
pub fn form_decode(s: &[u8]) -> Cow<'_, str> {
    if !s.iter().any(|&b| b == b'%' || b == b'+') {
        return String::from_utf8_lossy(s);
    }
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' => match (s.get(i + 1).and_then(|&h| hex_val(h)), s.get(i + 2).and_then(|&l| hex_val(l))) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        // RFC 9112 §3.2.1 origin-form
        assert_eq!(
            Target::parse(Method::Get, b"/a/b?x=1"),
            Ok(Target::Origin { path: b"/a/b", query: Some(b"x=1") })
        );
        // §3.2.2 absolute-form; empty path is "/"
        assert_eq!(
            Target::parse(Method::Get, b"http://h:80?q"),
            Ok(Target::Absolute { scheme: b"http", authority: b"h:80", path: b"/", query: Some(b"q") })
        );
        let t = Target::parse(Method::Get, b"https://h/p/q").unwrap();
        assert_eq!(t.path(), b"/p/q");
        assert_eq!(t.query(), None);
        // §3.2.3 authority-form, CONNECT only
        assert_eq!(Target::parse(Method::Connect, b"h:443"), Ok(Target::Authority(b"h:443")));
        assert_eq!(Target::parse(Method::Connect, b"[::1]:443"), Ok(Target::Authority(b"[::1]:443")));
        // §3.2.4 asterisk-form, OPTIONS only
        assert_eq!(Target::parse(Method::Options, b"*"), Ok(Target::Asterisk));
        let bad: &[(Method, &[u8])] = &[
            (Method::Get, b"*"),
            (Method::Connect, b"/"),
            (Method::Connect, b"h"),
            (Method::Connect, b"h:"),
            (Method::Connect, b"h:x"),
            (Method::Get, b"a"),
            (Method::Get, b"1http://h/"),
            (Method::Get, b"http:/h"),
            (Method::Get, b"http://"),
            (Method::Get, b"http://u@h/"),
            (Method::Get, b""),
        ];
        for (m, t) in bad {
            assert_eq!(Target::parse(*m, t), Err(ParseError::InvalidTarget), "{m:?} {t:?}");
        }
    }

    #[test]
    fn query_pairs() {
        let t = Target::parse(Method::Get, b"/s?q=a%20b&&x=%zz&y=%e2%82%ac&z=%ff").unwrap();
        let v: Vec<_> = t.query_pairs().collect();
        assert_eq!(v[0], ("q".into(), "a b".into()));
        assert_eq!(v[1], ("x".into(), "%zz".into()));
        assert_eq!(v[2], ("y".into(), "€".into()));
        assert_eq!(v[3], ("z".into(), "\u{fffd}".into()));
        assert_eq!(v.len(), 4);
        assert!(matches!(form_decode(b"plain"), Cow::Borrowed("plain")));
    }
}
