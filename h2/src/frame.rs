//! The frame layer (RFC 9113 §4 and §6): the 9-byte header, each frame
//! type's payload rules, and the encoders for what a server sends.
//!
//! ```text
//!  +-----------------------------------------------+
//!  |                 Length (24)                   |
//!  +---------------+---------------+---------------+
//!  |   Type (8)    |   Flags (8)   |
//!  +-+-------------+---------------+-------------------------------+
//!  |R|                 Stream Identifier (31)                      |
//!  +=+=============================================================+
//!  |                   Frame Payload (0...)                      ...
//! ```
//!
//! [`decode_frame`] checks everything that can be checked from one frame
//! alone (stream 0 or not, fixed lengths, padding) and borrows the payload;
//! what depends on the connection's state is checked in `conn`. Unknown
//! frame types and unknown flags are ignored (§4.1, §5.5), and the reserved
//! bit of the stream identifier is masked off.

use crate::error::{ErrorCode, H2Error};

/// The client connection preface (RFC 9113 §3.4), before its SETTINGS frame.
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Bytes in a frame header.
pub const FRAME_HEADER_LEN: usize = 9;
/// SETTINGS_MAX_FRAME_SIZE's initial value and floor (§6.5.2).
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 16_384;
/// SETTINGS_MAX_FRAME_SIZE's ceiling, 2^24-1 (§6.5.2).
pub const MAX_MAX_FRAME_SIZE: u32 = (1 << 24) - 1;
/// The largest flow-control window, 2^31-1 (§6.9.1).
pub const MAX_WINDOW: u32 = (1 << 31) - 1;
/// The initial window of a connection and of each stream (§6.9.2).
pub const DEFAULT_WINDOW: u32 = 65_535;

/// Frame type codes (§6).
pub mod kind {
    /// DATA (§6.1).
    pub const DATA: u8 = 0x0;
    /// HEADERS (§6.2).
    pub const HEADERS: u8 = 0x1;
    /// PRIORITY (§6.3), deprecated: parsed and ignored.
    pub const PRIORITY: u8 = 0x2;
    /// RST_STREAM (§6.4).
    pub const RST_STREAM: u8 = 0x3;
    /// SETTINGS (§6.5).
    pub const SETTINGS: u8 = 0x4;
    /// PUSH_PROMISE (§6.6): a client never sends it.
    pub const PUSH_PROMISE: u8 = 0x5;
    /// PING (§6.7).
    pub const PING: u8 = 0x6;
    /// GOAWAY (§6.8).
    pub const GOAWAY: u8 = 0x7;
    /// WINDOW_UPDATE (§6.9).
    pub const WINDOW_UPDATE: u8 = 0x8;
    /// CONTINUATION (§6.10).
    pub const CONTINUATION: u8 = 0x9;
}

/// Frame flags (§6).
pub mod flag {
    /// DATA, HEADERS: the last frame of the stream's side.
    pub const END_STREAM: u8 = 0x1;
    /// SETTINGS, PING: an acknowledgement.
    pub const ACK: u8 = 0x1;
    /// HEADERS, CONTINUATION: the header block is complete.
    pub const END_HEADERS: u8 = 0x4;
    /// DATA, HEADERS: a pad length byte comes first.
    pub const PADDED: u8 = 0x8;
    /// HEADERS: priority fields come first.
    pub const PRIORITY: u8 = 0x20;
}

/// Setting identifiers (§6.5.2).
pub mod setting {
    /// SETTINGS_HEADER_TABLE_SIZE.
    pub const HEADER_TABLE_SIZE: u16 = 0x1;
    /// SETTINGS_ENABLE_PUSH.
    pub const ENABLE_PUSH: u16 = 0x2;
    /// SETTINGS_MAX_CONCURRENT_STREAMS.
    pub const MAX_CONCURRENT_STREAMS: u16 = 0x3;
    /// SETTINGS_INITIAL_WINDOW_SIZE.
    pub const INITIAL_WINDOW_SIZE: u16 = 0x4;
    /// SETTINGS_MAX_FRAME_SIZE.
    pub const MAX_FRAME_SIZE: u16 = 0x5;
    /// SETTINGS_MAX_HEADER_LIST_SIZE.
    pub const MAX_HEADER_LIST_SIZE: u16 = 0x6;
    /// SETTINGS_NO_RFC7540_PRIORITIES (RFC 9218 §2.1).
    pub const NO_RFC7540_PRIORITIES: u16 = 0x9;
}

/// A frame header (§4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Payload length.
    pub len: u32,
    /// Type code (see [`kind`]).
    pub kind: u8,
    /// Flags (see [`flag`]).
    pub flags: u8,
    /// Stream identifier, reserved bit cleared.
    pub stream: u32,
}

impl FrameHeader {
    /// Reads a header from the first 9 bytes of `b`; `None` if shorter.
    pub fn parse(b: &[u8]) -> Option<FrameHeader> {
        let h: &[u8; FRAME_HEADER_LEN] = b.get(..FRAME_HEADER_LEN)?.try_into().ok()?;
        Some(FrameHeader {
            len: u32::from_be_bytes([0, h[0], h[1], h[2]]),
            kind: h[3],
            flags: h[4],
            // "The semantics of this bit are undefined, and the bit MUST
            // remain unset (0x00) when sending and MUST be ignored when
            // receiving." (§4.1)
            stream: u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & MAX_WINDOW,
        })
    }

    /// Appends the header's 9 bytes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let len = self.len.to_be_bytes();
        out.extend_from_slice(&[len[1], len[2], len[3], self.kind, self.flags]);
        out.extend_from_slice(&(self.stream & MAX_WINDOW).to_be_bytes());
    }

    fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }
}

/// RFC 7540 priority fields (HEADERS with PRIORITY, and PRIORITY frames):
/// parsed for the one rule still enforced (a stream cannot depend on
/// itself), then ignored (RFC 9113 §5.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Priority {
    /// The stream depended on.
    pub dependency: u32,
    /// The exclusive bit.
    pub exclusive: bool,
    /// Weight minus one.
    pub weight: u8,
}

impl Priority {
    fn parse(b: &[u8; 5]) -> Priority {
        let d = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        Priority { dependency: d & MAX_WINDOW, exclusive: d & !MAX_WINDOW != 0, weight: b[4] }
    }
}

/// One decoded frame, borrowing its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// DATA: `data` without padding; `flow_len` is the whole payload,
    /// padding included, which is what flow control counts (§6.9).
    Data {
        /// The stream.
        stream: u32,
        /// END_STREAM.
        end_stream: bool,
        /// The data, padding removed.
        data: &'a [u8],
        /// The payload length that flow control counts.
        flow_len: u32,
    },
    /// HEADERS: the first fragment of a header block.
    Headers {
        /// The stream.
        stream: u32,
        /// END_STREAM.
        end_stream: bool,
        /// END_HEADERS.
        end_headers: bool,
        /// Priority fields, if the PRIORITY flag was set.
        priority: Option<Priority>,
        /// The header block fragment, padding removed.
        fragment: &'a [u8],
    },
    /// PRIORITY.
    Priority {
        /// The stream.
        stream: u32,
        /// Its fields.
        priority: Priority,
    },
    /// RST_STREAM.
    RstStream {
        /// The stream.
        stream: u32,
        /// Why.
        code: ErrorCode,
    },
    /// SETTINGS: `params` is a multiple of 6 bytes (see [`settings`]).
    Settings {
        /// An acknowledgement (then `params` is empty).
        ack: bool,
        /// The raw parameters.
        params: &'a [u8],
    },
    /// PUSH_PROMISE (never valid from a client).
    PushPromise {
        /// The stream.
        stream: u32,
    },
    /// PING.
    Ping {
        /// An acknowledgement.
        ack: bool,
        /// Opaque data, echoed in the acknowledgement.
        data: [u8; 8],
    },
    /// GOAWAY.
    GoAway {
        /// The last stream the sender may have processed.
        last_stream: u32,
        /// Why.
        code: ErrorCode,
        /// Debug data.
        debug: &'a [u8],
    },
    /// WINDOW_UPDATE (`increment` may be 0: `conn` decides the scope of that error).
    WindowUpdate {
        /// The stream, or 0 for the connection.
        stream: u32,
        /// The increment.
        increment: u32,
    },
    /// CONTINUATION: a further fragment of a header block.
    Continuation {
        /// The stream.
        stream: u32,
        /// END_HEADERS.
        end_headers: bool,
        /// The fragment.
        fragment: &'a [u8],
    },
    /// A frame of a type this implementation does not know: ignored (§5.5).
    Unknown {
        /// Its type code.
        kind: u8,
        /// Its stream.
        stream: u32,
    },
}

fn conn_err(code: ErrorCode) -> H2Error {
    H2Error::Connection(code)
}

/// Strips padding (§6.1, §6.2): "If the length of the padding is the
/// length of the frame payload or greater, the recipient MUST treat this
/// as a connection error of type PROTOCOL_ERROR."
fn unpad<'a>(h: &FrameHeader, payload: &'a [u8]) -> Result<&'a [u8], H2Error> {
    if !h.has(flag::PADDED) {
        return Ok(payload);
    }
    let (&pad, rest) = payload.split_first().ok_or(conn_err(ErrorCode::FrameSizeError))?;
    let keep = rest.len().checked_sub(usize::from(pad)).ok_or(conn_err(ErrorCode::ProtocolError))?;
    Ok(&rest[..keep])
}

fn be32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_be_bytes(a)
}

/// Decodes one frame whose header is `h` and whose payload (exactly
/// `h.len` bytes) is `payload`.
///
/// # Errors
///
/// The errors RFC 9113 §6 defines for a frame taken alone: a stream
/// identifier of 0 where a stream is required or the reverse
/// (PROTOCOL_ERROR), a wrong fixed length (FRAME_SIZE_ERROR; a stream
/// error for PRIORITY), padding as long as the payload (PROTOCOL_ERROR).
pub fn decode_frame<'a>(h: &FrameHeader, payload: &'a [u8]) -> Result<Frame<'a>, H2Error> {
    let needs_stream = matches!(
        h.kind,
        kind::DATA
            | kind::HEADERS
            | kind::PRIORITY
            | kind::RST_STREAM
            | kind::PUSH_PROMISE
            | kind::CONTINUATION
    );
    let needs_zero = matches!(h.kind, kind::SETTINGS | kind::PING | kind::GOAWAY);
    if (needs_stream && h.stream == 0) || (needs_zero && h.stream != 0) {
        return Err(conn_err(ErrorCode::ProtocolError));
    }
    let s = h.stream;
    Ok(match h.kind {
        kind::DATA => Frame::Data {
            stream: s,
            end_stream: h.has(flag::END_STREAM),
            data: unpad(h, payload)?,
            flow_len: h.len,
        },
        kind::HEADERS => {
            let mut rest = unpad(h, payload)?;
            let priority = if h.has(flag::PRIORITY) {
                let p: &[u8; 5] = rest
                    .get(..5)
                    .and_then(|p| p.try_into().ok())
                    .ok_or(conn_err(ErrorCode::FrameSizeError))?;
                rest = &rest[5..];
                Some(Priority::parse(p))
            } else {
                None
            };
            Frame::Headers {
                stream: s,
                end_stream: h.has(flag::END_STREAM),
                end_headers: h.has(flag::END_HEADERS),
                priority,
                fragment: rest,
            }
        }
        kind::PRIORITY => {
            // "A PRIORITY frame with a length other than 5 octets MUST be
            // treated as a stream error (Section 5.4.2) of type FRAME_SIZE_ERROR."
            let p: &[u8; 5] =
                payload.try_into().map_err(|_| H2Error::Stream(s, ErrorCode::FrameSizeError))?;
            Frame::Priority { stream: s, priority: Priority::parse(p) }
        }
        kind::RST_STREAM => {
            if payload.len() != 4 {
                return Err(conn_err(ErrorCode::FrameSizeError));
            }
            Frame::RstStream { stream: s, code: ErrorCode::from_u32(be32(payload)) }
        }
        kind::SETTINGS => {
            let ack = h.has(flag::ACK);
            if (ack && !payload.is_empty()) || !payload.len().is_multiple_of(6) {
                return Err(conn_err(ErrorCode::FrameSizeError));
            }
            Frame::Settings { ack, params: payload }
        }
        kind::PUSH_PROMISE => Frame::PushPromise { stream: s },
        kind::PING => {
            let data: [u8; 8] = payload.try_into().map_err(|_| conn_err(ErrorCode::FrameSizeError))?;
            Frame::Ping { ack: h.has(flag::ACK), data }
        }
        kind::GOAWAY => {
            if payload.len() < 8 {
                return Err(conn_err(ErrorCode::FrameSizeError));
            }
            Frame::GoAway {
                last_stream: be32(payload) & MAX_WINDOW,
                code: ErrorCode::from_u32(be32(&payload[4..])),
                debug: &payload[8..],
            }
        }
        kind::WINDOW_UPDATE => {
            if payload.len() != 4 {
                return Err(conn_err(ErrorCode::FrameSizeError));
            }
            Frame::WindowUpdate { stream: s, increment: be32(payload) & MAX_WINDOW }
        }
        kind::CONTINUATION => {
            Frame::Continuation { stream: s, end_headers: h.has(flag::END_HEADERS), fragment: payload }
        }
        other => Frame::Unknown { kind: other, stream: s },
    })
}

/// The parameters of a SETTINGS payload, as `(identifier, value)`.
pub fn settings(params: &[u8]) -> impl Iterator<Item = (u16, u32)> + '_ {
    params.chunks_exact(6).map(|p| (u16::from_be_bytes([p[0], p[1]]), be32(&p[2..])))
}

// ------------------------------------------------------------- encoders

fn header(out: &mut Vec<u8>, len: usize, kind: u8, flags: u8, stream: u32) {
    let len = u32::try_from(len).unwrap_or(MAX_MAX_FRAME_SIZE).min(MAX_MAX_FRAME_SIZE);
    FrameHeader { len, kind, flags, stream }.encode(out);
}

/// Appends a SETTINGS frame with `params`.
pub fn encode_settings(out: &mut Vec<u8>, params: &[(u16, u32)]) {
    header(out, params.len() * 6, kind::SETTINGS, 0, 0);
    for (id, v) in params {
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&v.to_be_bytes());
    }
}

/// Appends a SETTINGS acknowledgement.
pub fn encode_settings_ack(out: &mut Vec<u8>) {
    header(out, 0, kind::SETTINGS, flag::ACK, 0);
}

/// Appends a PING (or its acknowledgement).
pub fn encode_ping(out: &mut Vec<u8>, ack: bool, data: [u8; 8]) {
    header(out, 8, kind::PING, if ack { flag::ACK } else { 0 }, 0);
    out.extend_from_slice(&data);
}

/// Appends a GOAWAY.
pub fn encode_goaway(out: &mut Vec<u8>, last_stream: u32, code: ErrorCode, debug: &[u8]) {
    header(out, 8 + debug.len(), kind::GOAWAY, 0, 0);
    out.extend_from_slice(&(last_stream & MAX_WINDOW).to_be_bytes());
    out.extend_from_slice(&code.to_u32().to_be_bytes());
    out.extend_from_slice(debug);
}

/// Appends a RST_STREAM.
pub fn encode_rst_stream(out: &mut Vec<u8>, stream: u32, code: ErrorCode) {
    header(out, 4, kind::RST_STREAM, 0, stream);
    out.extend_from_slice(&code.to_u32().to_be_bytes());
}

/// Appends a WINDOW_UPDATE.
pub fn encode_window_update(out: &mut Vec<u8>, stream: u32, increment: u32) {
    header(out, 4, kind::WINDOW_UPDATE, 0, stream);
    out.extend_from_slice(&(increment & MAX_WINDOW).to_be_bytes());
}

/// Appends a DATA frame carrying `data` (which must fit the peer's frame size).
pub fn encode_data(out: &mut Vec<u8>, stream: u32, data: &[u8], end_stream: bool) {
    header(out, data.len(), kind::DATA, if end_stream { flag::END_STREAM } else { 0 }, stream);
    out.extend_from_slice(data);
}

/// Appends a header block as HEADERS and as many CONTINUATION frames as
/// `max_frame` requires (§6.10).
pub fn encode_headers(out: &mut Vec<u8>, stream: u32, block: &[u8], end_stream: bool, max_frame: usize) {
    let max_frame = max_frame.max(1);
    let mut chunks = block.chunks(max_frame).peekable();
    let first = chunks.next().unwrap_or(&[]);
    let mut flags = if end_stream { flag::END_STREAM } else { 0 };
    if chunks.peek().is_none() {
        flags |= flag::END_HEADERS;
    }
    header(out, first.len(), kind::HEADERS, flags, stream);
    out.extend_from_slice(first);
    while let Some(c) = chunks.next() {
        let f = if chunks.peek().is_none() { flag::END_HEADERS } else { 0 };
        header(out, c.len(), kind::CONTINUATION, f, stream);
        out.extend_from_slice(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        header(&mut v, payload.len(), kind, flags, stream);
        v.extend_from_slice(payload);
        v
    }

    fn dec(bytes: &[u8]) -> Result<Frame<'_>, H2Error> {
        let h = FrameHeader::parse(bytes).expect("header");
        decode_frame(&h, &bytes[FRAME_HEADER_LEN..])
    }

    #[test]
    fn header_round_trip_masks_the_reserved_bit() {
        let mut v = Vec::new();
        FrameHeader { len: 0x12_3456, kind: 7, flags: 0xff, stream: 5 }.encode(&mut v);
        assert_eq!(v, [0x12, 0x34, 0x56, 7, 0xff, 0, 0, 0, 5]);
        v[5] |= 0x80;
        assert_eq!(FrameHeader::parse(&v).map(|h| h.stream), Some(5));
        assert_eq!(FrameHeader::parse(&v[..8]), None);
    }

    #[test]
    fn frame_rules_table() {
        use ErrorCode::*;
        let c = |code| Err(H2Error::Connection(code));
        let cases: Vec<(Vec<u8>, Result<(), H2Error>)> = vec![
            (frame(kind::DATA, 0, 0, b"x"), c(ProtocolError)),
            (frame(kind::HEADERS, 0, 0, b""), c(ProtocolError)),
            (frame(kind::PRIORITY, 0, 0, &[0; 5]), c(ProtocolError)),
            (frame(kind::PRIORITY, 0, 1, &[0; 4]), Err(H2Error::Stream(1, FrameSizeError))),
            (frame(kind::RST_STREAM, 0, 0, &[0; 4]), c(ProtocolError)),
            (frame(kind::RST_STREAM, 0, 1, &[0; 3]), c(FrameSizeError)),
            (frame(kind::SETTINGS, 0, 1, b""), c(ProtocolError)),
            (frame(kind::SETTINGS, flag::ACK, 0, &[0; 6]), c(FrameSizeError)),
            (frame(kind::SETTINGS, 0, 0, &[0; 5]), c(FrameSizeError)),
            (frame(kind::PING, 0, 1, &[0; 8]), c(ProtocolError)),
            (frame(kind::PING, 0, 0, &[0; 7]), c(FrameSizeError)),
            (frame(kind::GOAWAY, 0, 3, &[0; 8]), c(ProtocolError)),
            (frame(kind::GOAWAY, 0, 0, &[0; 7]), c(FrameSizeError)),
            (frame(kind::WINDOW_UPDATE, 0, 0, &[0; 3]), c(FrameSizeError)),
            (frame(kind::CONTINUATION, 0, 0, b""), c(ProtocolError)),
            // Padding as long as the payload, or a missing pad length.
            (frame(kind::DATA, flag::PADDED, 1, &[3, 0, 0]), c(ProtocolError)),
            (frame(kind::DATA, flag::PADDED, 1, &[]), c(FrameSizeError)),
            (frame(kind::HEADERS, flag::PADDED, 1, &[1]), c(ProtocolError)),
            (frame(kind::HEADERS, flag::PRIORITY, 1, &[0; 4]), c(FrameSizeError)),
            // Accepted.
            (frame(kind::DATA, flag::PADDED, 1, &[2, b'a', 0, 0]), Ok(())),
            (frame(kind::SETTINGS, 0, 0, &[0; 12]), Ok(())),
            (frame(0xee, 0xff, 0, b"anything"), Ok(())),
        ];
        for (i, (bytes, want)) in cases.iter().enumerate() {
            assert_eq!(dec(bytes).map(|_| ()), *want, "case {i}");
        }
    }

    #[test]
    fn payloads_are_decoded() {
        let f = frame(kind::DATA, flag::PADDED | flag::END_STREAM, 3, &[2, b'h', b'i', 0, 0]);
        assert_eq!(dec(&f), Ok(Frame::Data { stream: 3, end_stream: true, data: b"hi", flow_len: 5 }));
        let f = frame(kind::HEADERS, flag::PRIORITY | flag::END_HEADERS, 1, &[0x80, 0, 0, 3, 15, 0x82]);
        assert_eq!(
            dec(&f),
            Ok(Frame::Headers {
                stream: 1,
                end_stream: false,
                end_headers: true,
                priority: Some(Priority { dependency: 3, exclusive: true, weight: 15 }),
                fragment: &[0x82],
            })
        );
        let mut v = Vec::new();
        encode_goaway(&mut v, 7, ErrorCode::EnhanceYourCalm, b"calm");
        assert_eq!(
            dec(&v),
            Ok(Frame::GoAway { last_stream: 7, code: ErrorCode::EnhanceYourCalm, debug: b"calm" })
        );
        let mut v = Vec::new();
        encode_settings(&mut v, &[(setting::MAX_FRAME_SIZE, 20_000), (0x99, 1)]);
        let Ok(Frame::Settings { ack: false, params }) = dec(&v) else { panic!("settings") };
        assert_eq!(settings(params).collect::<Vec<_>>(), [(5, 20_000), (0x99, 1)]);
        let mut v = Vec::new();
        encode_window_update(&mut v, 0, 100);
        assert_eq!(dec(&v), Ok(Frame::WindowUpdate { stream: 0, increment: 100 }));
    }

    #[test]
    fn header_blocks_split_into_continuations() {
        let mut v = Vec::new();
        encode_headers(&mut v, 1, &[1, 2, 3, 4, 5], true, 2);
        let mut at = 0;
        let mut seen = Vec::new();
        while at < v.len() {
            let h = FrameHeader::parse(&v[at..]).expect("header");
            seen.push((h.kind, h.flags, h.len));
            at += FRAME_HEADER_LEN + h.len as usize;
        }
        let eh = flag::END_HEADERS;
        assert_eq!(
            seen,
            [(kind::HEADERS, flag::END_STREAM, 2), (kind::CONTINUATION, 0, 2), (kind::CONTINUATION, eh, 1)]
        );
    }
}
