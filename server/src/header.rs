//! Header names and values as a [`Response`](crate::Response) holds them.
//!
//! Both are "borrowed forever, or owned": a name or value written as a
//! literal (`"Cache-Control"`, `"no-cache"`, `b"13"`) is kept as a
//! `&'static` reference and costs no allocation, which is what nearly every
//! handler writes; a computed one (`format!(..)`, a `Vec<u8>`) is moved in.
//!
//! ```
//! use weir_server::Response;
//!
//! let etag = format!("\"{:x}\"", 0xbeef);
//! let resp = Response::text("hi")
//!     .with_header("Cache-Control", "no-cache") // &'static str: no allocation
//!     .with_header("ETag", etag) // String: moved, not copied
//!     .with_header(String::from("X-Computed"), b"bytes".to_vec());
//! assert_eq!(resp.header("etag"), Some(&b"\"beef\""[..]));
//! ```
//!
//! A borrowed `&str` that is not `'static` cannot convert implicitly: an
//! impl for `&'a str` would also catch `&'static str` (one type to the
//! trait system) and copy every literal. Write `.to_owned()` for those.
//!
//! Names and values are not checked here but when the head is encoded: a
//! name that is not a token, or a value with CR, LF or NUL, is dropped
//! there (it could split the response).

use std::borrow::Cow;
use std::fmt;

/// A response header's name: a `&'static str` (no allocation) or an owned `String`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct HeaderName(Cow<'static, str>);

impl HeaderName {
    /// A name from a literal, usable in `const` items.
    pub const fn from_static(name: &'static str) -> HeaderName {
        HeaderName(Cow::Borrowed(name))
    }

    /// The name as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&'static str> for HeaderName {
    fn from(name: &'static str) -> HeaderName {
        HeaderName(Cow::Borrowed(name))
    }
}

impl From<String> for HeaderName {
    fn from(name: String) -> HeaderName {
        HeaderName(Cow::Owned(name))
    }
}

impl From<Cow<'static, str>> for HeaderName {
    fn from(name: Cow<'static, str>) -> HeaderName {
        HeaderName(name)
    }
}

impl AsRef<str> for HeaderName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A response header's value: bytes borrowed forever (a literal, text or
/// bytes) or owned (`String`, `Vec<u8>`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct HeaderValue(Cow<'static, [u8]>);

impl HeaderValue {
    /// A value from a literal, usable in `const` items.
    pub const fn from_static(value: &'static str) -> HeaderValue {
        HeaderValue(Cow::Borrowed(value.as_bytes()))
    }

    /// The value's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl From<&'static str> for HeaderValue {
    fn from(value: &'static str) -> HeaderValue {
        HeaderValue(Cow::Borrowed(value.as_bytes()))
    }
}

impl From<String> for HeaderValue {
    fn from(value: String) -> HeaderValue {
        HeaderValue(Cow::Owned(value.into_bytes()))
    }
}

impl From<&'static [u8]> for HeaderValue {
    fn from(value: &'static [u8]) -> HeaderValue {
        HeaderValue(Cow::Borrowed(value))
    }
}

/// A byte-string literal: `b"no-cache"`.
impl<const N: usize> From<&'static [u8; N]> for HeaderValue {
    fn from(value: &'static [u8; N]) -> HeaderValue {
        HeaderValue(Cow::Borrowed(value))
    }
}

impl From<Vec<u8>> for HeaderValue {
    fn from(value: Vec<u8>) -> HeaderValue {
        HeaderValue(Cow::Owned(value))
    }
}

impl From<Cow<'static, [u8]>> for HeaderValue {
    fn from(value: Cow<'static, [u8]>) -> HeaderValue {
        HeaderValue(value)
    }
}

impl AsRef<[u8]> for HeaderValue {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for HeaderValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&String::from_utf8_lossy(&self.0), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_borrow_and_computed_values_move() {
        let name = HeaderName::from("X-Static");
        assert!(matches!(name.0, Cow::Borrowed(_)), "a &'static str name must not allocate");
        let owned = String::from("X-Owned");
        let ptr = owned.as_ptr();
        let name = HeaderName::from(owned);
        assert_eq!((name.as_str(), name.as_str().as_ptr()), ("X-Owned", ptr), "moved, not copied");

        let borrowed: [HeaderValue; 3] = ["text".into(), (&b"bytes"[..]).into(), b"array".into()];
        for (v, want) in borrowed.iter().zip([&b"text"[..], b"bytes", b"array"]) {
            assert!(matches!(v.0, Cow::Borrowed(_)));
            assert_eq!(v.as_bytes(), want);
        }
        let text = String::from("s");
        let ptr = text.as_ptr();
        let v = HeaderValue::from(text);
        assert_eq!((v.as_bytes(), v.as_bytes().as_ptr()), (&b"s"[..], ptr));
        assert_eq!(HeaderValue::from(vec![1u8, 2]).as_bytes(), [1, 2]);
        assert_eq!(format!("{:?} {:?}", HeaderName::from("A"), HeaderValue::from("b")), "\"A\" \"b\"");
    }
}
