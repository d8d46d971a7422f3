//! A request's header list as HTTP/2 carries it (RFC 9113 §8.2, §8.3):
//! pseudo-header fields first, then regular fields, and the rules that
//! make a request *malformed* (§8.1.1: a stream error of type
//! PROTOCOL_ERROR).

use crate::hpack::HeaderList;

/// Why a header list is malformed (for tests and logs; on the wire every
/// reason is PROTOCOL_ERROR).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// A pseudo-header field that is unknown, repeated, after a regular
    /// field, or in trailers.
    PseudoHeader,
    /// `:method`, `:scheme` or `:path` missing, or `:path` empty.
    MissingPseudo,
    /// A field name with uppercase or non-token bytes.
    Name,
    /// A value with NUL, CR or LF, or with whitespace at either end.
    Value,
    /// A connection-specific field (`connection`, `transfer-encoding`, ...)
    /// or `te` other than `trailers` (§8.2.2).
    ConnectionSpecific,
    /// `content-length` not a number, or values that differ.
    ContentLength,
}

/// A valid request header list.
#[derive(Debug, Clone)]
pub struct RequestHead {
    list: HeaderList,
    method: usize,
    scheme: Option<usize>,
    authority: Option<usize>,
    path: Option<usize>,
    first_regular: usize,
    content_length: Option<u64>,
}

fn value_of(list: &HeaderList, i: Option<usize>) -> Option<&[u8]> {
    list.get(i?).map(|(_, v)| v)
}

impl RequestHead {
    /// `:method`.
    pub fn method(&self) -> &[u8] {
        value_of(&self.list, Some(self.method)).unwrap_or_default()
    }

    /// `:scheme` (absent for CONNECT).
    pub fn scheme(&self) -> Option<&[u8]> {
        value_of(&self.list, self.scheme)
    }

    /// `:authority`, if sent.
    pub fn authority(&self) -> Option<&[u8]> {
        value_of(&self.list, self.authority)
    }

    /// `:path` (absent for CONNECT).
    pub fn path(&self) -> Option<&[u8]> {
        value_of(&self.list, self.path)
    }

    /// The regular fields, in order.
    pub fn fields(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.list.iter().skip(self.first_regular)
    }

    /// The declared `content-length`, if any.
    pub fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    /// The list size (RFC 9113 §6.5.2's measure).
    pub fn list_size(&self) -> usize {
        self.list.list_size()
    }
}

/// A `tchar` of RFC 9110 §5.6.2, lowercase only (§8.2.1: "A request or
/// response containing uppercase characters in field names MUST be
/// treated as malformed").
fn name_ok(name: &[u8]) -> bool {
    !name.is_empty()
        && name.iter().all(|&b| {
            b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || matches!(
                    b,
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
        })
}

/// §8.2.1: "A field value MUST NOT contain the zero value (ASCII NUL,
/// 0x00), line feed (ASCII LF, 0x0a), or carriage return (ASCII CR, 0x0d)
/// at any position. A field value MUST NOT start or end with an ASCII
/// whitespace character (ASCII SP or HTAB, 0x20 or 0x09)."
fn value_ok(v: &[u8]) -> bool {
    !v.iter().any(|&b| matches!(b, 0 | b'\n' | b'\r'))
        && !matches!(v.first(), Some(b' ' | b'\t'))
        && !matches!(v.last(), Some(b' ' | b'\t'))
}

/// Checks one regular field; returns its content length, if it is one.
fn regular(name: &[u8], value: &[u8]) -> Result<Option<u64>, Malformed> {
    if !name_ok(name) {
        return Err(Malformed::Name);
    }
    if !value_ok(value) {
        return Err(Malformed::Value);
    }
    match name {
        b"connection" | b"keep-alive" | b"proxy-connection" | b"transfer-encoding" | b"upgrade" => {
            Err(Malformed::ConnectionSpecific)
        }
        b"te" if value != b"trailers" => Err(Malformed::ConnectionSpecific),
        b"content-length" => {
            if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
                return Err(Malformed::ContentLength);
            }
            Ok(Some(value.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'))))
        }
        _ => Ok(None),
    }
}

/// Validates a request's header list (§8.3.1).
///
/// # Errors
///
/// The first rule of §8 the list breaks.
pub fn validate_request(list: HeaderList) -> Result<RequestHead, Malformed> {
    let mut slots: [Option<usize>; 4] = [None; 4]; // method, scheme, authority, path
    let mut first_regular = list.len();
    let mut content_length: Option<u64> = None;
    for (i, (name, value)) in list.iter().enumerate() {
        if let Some(pseudo) = name.strip_prefix(b":") {
            if i > first_regular || first_regular != list.len() {
                return Err(Malformed::PseudoHeader);
            }
            let slot = match pseudo {
                b"method" => 0,
                b"scheme" => 1,
                b"authority" => 2,
                b"path" => 3,
                // `:protocol` needs SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC
                // 8441), which is not offered; `:status` is a response's.
                _ => return Err(Malformed::PseudoHeader),
            };
            if slots[slot].replace(i).is_some() || !value_ok(value) {
                return Err(Malformed::PseudoHeader);
            }
        } else {
            if first_regular == list.len() {
                first_regular = i;
            }
            if let Some(n) = regular(name, value)? {
                if content_length.is_some_and(|c| c != n) {
                    return Err(Malformed::ContentLength);
                }
                content_length = Some(n);
            }
        }
    }
    let [method, scheme, authority, path] = slots;
    let method = method.ok_or(Malformed::MissingPseudo)?;
    let is_connect = list.get(method).is_some_and(|(_, m)| m == b"CONNECT");
    if is_connect {
        // §8.5: ":scheme and :path pseudo-header fields MUST be omitted";
        // ":authority ... MUST" be present.
        if scheme.is_some() || path.is_some() || authority.is_none() {
            return Err(Malformed::MissingPseudo);
        }
    } else if scheme.is_none() || path.is_none() || value_of(&list, path).is_none_or(<[u8]>::is_empty) {
        return Err(Malformed::MissingPseudo);
    }
    Ok(RequestHead { list, method, scheme, authority, path, first_regular, content_length })
}

/// Validates trailers: regular fields only (§8.1).
///
/// # Errors
///
/// A pseudo-header field, or a field breaking the rules of [`validate_request`].
pub fn validate_trailers(list: &HeaderList) -> Result<(), Malformed> {
    for (name, value) in list.iter() {
        if name.starts_with(b":") {
            return Err(Malformed::PseudoHeader);
        }
        regular(name, value)?;
    }
    Ok(())
}
