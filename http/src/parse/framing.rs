//! The fields that decide a request's framing and connection, and the
//! RFC 9112 checklist applied when the head is complete: `Content-Length`
//! (one valid value, §6.3), `Transfer-Encoding` (chunked last, never with a
//! length), `Host` (exactly one for HTTP/1.1), `Connection`, `Expect`,
//! `Upgrade`. The parser records these facts as it meets each field line
//! (`known_field`) and decides once, at the empty line (`finish`).

use super::{Phase, RequestParser};
use crate::head::{
    BodyFraming, Version, F_EXPECT_CONTINUE, F_HOST, F_KEEP_ALIVE, F_PLAIN_PATH, F_UPGRADE, F_UPGRADE_HEADER,
};
use crate::scan::{eq_lower, fast_run, SET_HOST};
use crate::table::{or_class, trim_ows, HOST_BAD, TOKEN};
use crate::ParseError;

impl RequestParser {
    /// Updates the framing facts for the fields that decide them. Dispatch on
    /// the name length first: one compare rejects nearly every other field.
    #[inline]
    /// `value` is `window[value_at..][..value.len()]` (for the vector scan).
    pub(super) fn known_field(
        &mut self,
        name: &[u8],
        value: &[u8],
        window: &[u8],
        value_at: usize,
    ) -> Result<(), ParseError> {
        let f = &mut self.facts;
        match name.len() {
            4 if eq_lower(name, b"host") => {
                // RFC 9112 §3.2: a server MUST respond 400 to more than one Host.
                if f.host_count != 0 {
                    return Err(ParseError::DuplicateHost);
                }
                f.host_count = 1;
                // Letters, digits, '-', '.' and ':' (a subset of the host
                // characters) in one vector step; the rest (an IPv6
                // literal, escapes) through the table.
                let run = fast_run::<{ SET_HOST }>(window, value_at, value_at + value.len()) - value_at;
                if run < value.len() && or_class(&value[run..], &HOST_BAD) != 0 {
                    return Err(ParseError::InvalidHost);
                }
            }
            6 if eq_lower(name, b"expect") => {
                f.expect_continue |= eq_lower(value, b"100-continue");
            }
            7 if eq_lower(name, b"upgrade") => f.upgrade_header = true,
            10 if eq_lower(name, b"connection") => {
                if eq_lower(value, b"keep-alive") {
                    f.conn_keep_alive = true;
                } else if eq_lower(value, b"close") {
                    f.conn_close = true;
                } else {
                    for t in value.split(|&b| b == b',') {
                        let t = trim_ows(t);
                        f.conn_close |= eq_lower(t, b"close");
                        f.conn_keep_alive |= eq_lower(t, b"keep-alive");
                        f.conn_upgrade |= eq_lower(t, b"upgrade");
                    }
                }
            }
            14 if eq_lower(name, b"content-length") => {
                // RFC 9112 §6.3: several or invalid values are unrecoverable
                // errors. We do not merge identical values: a hardened server
                // rejects any repetition (`Content-Length: 3, 3` included).
                if f.content_length.is_some() {
                    return Err(ParseError::DuplicateContentLength);
                }
                f.content_length = Some(parse_content_length(value)?);
            }
            17 if eq_lower(name, b"transfer-encoding") => {
                if eq_lower(value, b"chunked") {
                    // The usual case, in one compare.
                    f.te_codings = f.te_codings.saturating_add(1);
                    f.te_chunked = f.te_chunked.saturating_add(1);
                    f.te_last_chunked = true;
                    return Ok(());
                }
                // transfer-coding list, possibly over several field lines.
                let mut any = false;
                for c in value.split(|&b| b == b',') {
                    let c = trim_ows(c);
                    if c.is_empty() {
                        continue; // empty list elements are allowed (RFC 9110 §5.6.1)
                    }
                    any = true;
                    f.te_codings = f.te_codings.saturating_add(1);
                    if eq_lower(c, b"chunked") {
                        f.te_chunked = f.te_chunked.saturating_add(1);
                        f.te_last_chunked = true;
                    } else {
                        if !TOKEN[c[0] as usize] {
                            return Err(ParseError::InvalidTransferEncoding);
                        }
                        f.te_unknown = true;
                        f.te_last_chunked = false;
                    }
                }
                if !any {
                    return Err(ParseError::InvalidTransferEncoding);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The empty line was reached: decide framing and connection facts
    /// (RFC 9112 §6.3 message body length) and hand the head out.
    pub(super) fn finish(&mut self, head_len: usize) -> Result<(), ParseError> {
        let f = &self.facts;
        let v11 = self.head.version == Version::Http11;
        if v11 && f.host_count == 0 {
            return Err(ParseError::MissingHost);
        }
        let framing = if f.te_codings > 0 {
            // §6.3 item 3: both is a smuggling attempt; reject, do not guess.
            if f.content_length.is_some() {
                return Err(ParseError::ContentLengthWithTransferEncoding);
            }
            // §6.1: "A server ... MUST NOT send ... Transfer-Encoding" to 1.0
            // and a 1.0 request with it has unreliable framing.
            if !v11 {
                return Err(ParseError::TransferEncodingHttp10);
            }
            // §7: "A sender MUST NOT apply the chunked transfer coding more than once".
            if f.te_chunked > 1 {
                return Err(ParseError::ChunkedTwice);
            }
            // §6.3 item 4: chunked not final in a request -> MUST respond 400.
            if !f.te_last_chunked {
                return Err(ParseError::ChunkedNotFinal);
            }
            // §6.1: a transfer coding we do not understand -> 501.
            if f.te_unknown {
                return Err(ParseError::UnsupportedTransferCoding);
            }
            BodyFraming::Chunked
        } else if let Some(n) = f.content_length {
            if n > self.limits.max_body {
                return Err(ParseError::BodyTooLarge);
            }
            BodyFraming::Length(n)
        } else {
            BodyFraming::None
        };
        let mut flags = 0;
        // RFC 9112 §9.3: persistence.
        if !f.conn_close && (v11 || f.conn_keep_alive) {
            flags |= F_KEEP_ALIVE;
        }
        // RFC 9110 §10.1.1: ignore 100-continue from an HTTP/1.0 client.
        if v11 && f.expect_continue {
            flags |= F_EXPECT_CONTINUE;
        }
        if f.upgrade_header {
            flags |= F_UPGRADE_HEADER;
            // RFC 9110 §7.8: ignore Upgrade in HTTP/1.0; it needs Connection: upgrade.
            if v11 && f.conn_upgrade {
                flags |= F_UPGRADE;
            }
        }
        if f.host_count > 0 {
            flags |= F_HOST;
        }
        if f.plain_path {
            flags |= F_PLAIN_PATH;
        }
        self.head.head_len = head_len;
        self.head.framing = framing;
        self.head.flags = flags;
        self.phase = Phase::Done;
        Ok(())
    }
}

/// `Content-Length = 1*DIGIT` (RFC 9110 §8.6), no sign, no hex, no list.
fn parse_content_length(v: &[u8]) -> Result<u64, ParseError> {
    if v.is_empty() {
        return Err(ParseError::InvalidContentLength);
    }
    let mut n: u64 = 0;
    for &b in v {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return Err(ParseError::InvalidContentLength);
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d)))
            .ok_or(ParseError::InvalidContentLength)?;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_values() {
        assert_eq!(parse_content_length(b"0"), Ok(0));
        assert_eq!(parse_content_length(b"0042"), Ok(42));
        assert_eq!(parse_content_length(b"18446744073709551615"), Ok(u64::MAX));
        for bad in [&b""[..], b"+3", b"-3", b"0x3", b"3x", b"3 3", b"3,3", b"18446744073709551616"] {
            assert!(parse_content_length(bad).is_err(), "{bad:?}");
        }
    }
}
