//! Close frames: status codes, reasons, encoding (RFC 6455 §5.5.1, §7.4).
//!
//! > If there is a body, the first two bytes of the body MUST be a 2-byte
//! > unsigned integer (in network byte order) representing a status code
//! > with value /code/ defined in Section 7.4. Following the 2-byte integer,
//! > the body MAY contain UTF-8-encoded data with value /reason/. (§5.5.1)
//!
//! So a Close payload is empty, or 2+ bytes: a one-byte payload is a protocol
//! error (1002), and the reason must be UTF-8 (1007).
//!
//! Which codes may appear on the wire (§7.4.1, §7.4.2 and the IANA
//! "WebSocket Close Code Number Registry"):
//!
//! ```text
//!    0 - 999   not used                      -> invalid
//! 1000 - 1003  normal, going away, protocol error, unsupported data
//! 1004         reserved                      -> invalid
//! 1005, 1006   "MUST NOT be set as a status code in a Close control frame"
//! 1007 - 1011  invalid payload, policy, too big, extension, internal error
//! 1012 - 1014  service restart, try again later, bad gateway (IANA; accepted)
//! 1015         TLS handshake failure, never on the wire -> invalid
//! 1016 - 2999  reserved for future RFCs, unassigned -> invalid
//! 3000 - 4999  libraries, frameworks and applications
//! 5000+        not defined                   -> invalid
//! ```

use crate::error::ProtocolError;
use crate::frame::{encode_frame_header, OpCode, MAX_CONTROL_PAYLOAD};

/// Close status codes (§7.4.1 and the IANA registry).
pub mod codes {
    /// 1000: normal closure.
    pub const NORMAL: u16 = 1000;
    /// 1001: the endpoint is going away (server shutdown, page navigated away).
    pub const GOING_AWAY: u16 = 1001;
    /// 1002: protocol error.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// 1003: a data type the endpoint cannot accept.
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// 1005: no status code was present (reported locally, never sent).
    pub const NO_STATUS: u16 = 1005;
    /// 1006: closed without a Close frame (reported locally, never sent).
    pub const ABNORMAL: u16 = 1006;
    /// 1007: payload data inconsistent with the message type (e.g. bad UTF-8).
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// 1008: policy violation.
    pub const POLICY_VIOLATION: u16 = 1008;
    /// 1009: message too big to process.
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    /// 1010: the client expected an extension the server did not negotiate.
    pub const MANDATORY_EXTENSION: u16 = 1010;
    /// 1011: the server hit an unexpected condition.
    pub const INTERNAL_ERROR: u16 = 1011;
}

/// Whether `code` may appear in a Close frame on the wire (see the table in
/// the module docs).
pub(crate) fn is_valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// A received Close frame, as reported to the application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CloseFrame<'a> {
    /// The status code, or `None` if the peer sent an empty Close (the
    /// application sees what RFC 6455 calls 1005, "no status received").
    pub code: Option<u16>,
    /// The reason (UTF-8, possibly empty).
    pub reason: &'a str,
}

/// Parses and validates a Close payload (already unmasked).
///
/// # Errors
///
/// - [`ProtocolError::CloseFrameTooShort`] for a one-byte payload (1002);
/// - [`ProtocolError::InvalidCloseCode`] for a code not allowed on the wire (1002);
/// - [`ProtocolError::InvalidUtf8`] for a reason that is not UTF-8 (1007).
pub(crate) fn parse_close_payload(payload: &[u8]) -> Result<CloseFrame<'_>, ProtocolError> {
    match payload {
        [] => Ok(CloseFrame { code: None, reason: "" }),
        [_] => Err(ProtocolError::CloseFrameTooShort),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !is_valid_close_code(code) {
                return Err(ProtocolError::InvalidCloseCode);
            }
            let reason = core::str::from_utf8(reason).map_err(|_| ProtocolError::InvalidUtf8)?;
            Ok(CloseFrame { code: Some(code), reason })
        }
    }
}

/// Appends an unmasked Close frame to `out`.
///
/// With `code == None` the payload is empty (and `reason` is ignored, since
/// §5.5.1 allows a reason only after a code). A reason longer than the 123
/// bytes that fit in a control frame is cut at a character boundary.
pub(crate) fn encode_close_frame(code: Option<u16>, reason: &str, out: &mut Vec<u8>) {
    let Some(code) = code else {
        out.extend_from_slice(encode_frame_header(true, OpCode::Close, false, 0).as_bytes());
        return;
    };
    let mut end = reason.len().min(MAX_CONTROL_PAYLOAD - 2);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let reason = &reason.as_bytes()[..end];
    let head = encode_frame_header(true, OpCode::Close, false, 2 + reason.len() as u64);
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(reason);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_code_table() {
        let valid =
            [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999];
        // The invalid codes Autobahn 7.9.x sends, plus the edges of every range.
        let invalid = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];
        for c in valid {
            assert!(is_valid_close_code(c), "{c}");
        }
        for c in invalid {
            assert!(!is_valid_close_code(c), "{c}");
        }
    }

    #[test]
    fn parse_payloads() {
        assert_eq!(parse_close_payload(&[]), Ok(CloseFrame { code: None, reason: "" }));
        assert_eq!(parse_close_payload(&[0x03]), Err(ProtocolError::CloseFrameTooShort));
        assert_eq!(parse_close_payload(&[0x03, 0xe8]), Ok(CloseFrame { code: Some(1000), reason: "" }));
        assert_eq!(parse_close_payload(b"\x03\xe8bye"), Ok(CloseFrame { code: Some(1000), reason: "bye" }));
        assert_eq!(parse_close_payload(&[0x03, 0xed]), Err(ProtocolError::InvalidCloseCode)); // 1005
        assert_eq!(parse_close_payload(b"\x03\xe8\xce\xba\xed\xa0\x80"), Err(ProtocolError::InvalidUtf8));
    }

    #[test]
    fn encode_truncates_reason_on_char_boundary() {
        let reason = "é".repeat(100); // 200 bytes
        let mut out = Vec::new();
        encode_close_frame(Some(1000), &reason, &mut out);
        let payload = &out[2..];
        assert!(payload.len() <= MAX_CONTROL_PAYLOAD);
        assert_eq!(out[1] as usize, payload.len());
        let parsed = parse_close_payload(payload).unwrap();
        assert_eq!(parsed.reason.len(), 122);
        let mut empty = Vec::new();
        encode_close_frame(None, "ignored", &mut empty);
        assert_eq!(empty, [0x88, 0x00]);
    }
}
