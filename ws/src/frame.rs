//! Frame heads: decoding and encoding (RFC 6455 §5.2).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! | Masking-key (continued)       |          Payload Data         |
//! +-------------------------------- - - - - - - - - - - - - - - - +
//! ```
//!
//! A head is 2 to 14 bytes. [`decode_head`] looks at the bytes available and
//! either returns the head and its length, asks for more (`Ok(None)`: nothing
//! is consumed, so a head split across reads simply stays in the caller's
//! buffer), or rejects what no context could make valid: reserved opcodes,
//! long or fragmented control frames, a 64-bit length with the top bit set.
//! Rules that depend on the connection (masking, RSV bits, continuation
//! order, limits) are checked by [`crate::WsConn`].
//!
//! Encoding writes the head into a stack buffer ([`FrameHeader`], 14 bytes)
//! so a payload is never copied to be framed: the server writes the head and
//! the payload as two segments (`writev`).
//!
//! Lengths are accepted in any of the three encodings even when not minimal:
//! §5.2 says the *sender* "MUST" use the minimal one, but no reading of a
//! longer encoding is ambiguous, and we always send minimal ones.

use crate::error::ProtocolError;

/// Longest possible frame head: 2 + 8 (64-bit length) + 4 (mask).
pub const MAX_HEAD_LEN: usize = 14;

/// Largest payload of a control frame (§5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// Frame opcodes (§5.2, §11.8). Reserved values are rejected at decode time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum OpCode {
    /// `%x0` continuation of a fragmented message.
    Continuation = 0x0,
    /// `%x1` first frame of a text message.
    Text = 0x1,
    /// `%x2` first frame of a binary message.
    Binary = 0x2,
    /// `%x8` connection close.
    Close = 0x8,
    /// `%x9` ping.
    Ping = 0x9,
    /// `%xA` pong.
    Pong = 0xA,
}

impl OpCode {
    /// The opcode for the 4-bit value, or `None` if it is reserved
    /// (`%x3-7` for further non-control frames, `%xB-F` for control frames).
    pub(crate) fn from_bits(bits: u8) -> Option<OpCode> {
        Some(match bits {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return None,
        })
    }

    /// "Control frames are identified by opcodes where the most significant
    /// bit of the opcode is 1." (§5.5)
    pub fn is_control(self) -> bool {
        (self as u8) & 0x8 != 0
    }
}

/// A decoded frame head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHead {
    /// FIN: this is the final fragment of a message.
    pub fin: bool,
    /// RSV1 (permessage-deflate: "Per-Message Compressed", RFC 7692 §6).
    pub rsv1: bool,
    /// RSV2 and RSV3 (no extension we speak defines them).
    pub rsv23: bool,
    /// The frame type.
    pub opcode: OpCode,
    /// The masking key, if MASK was set.
    pub mask: Option<[u8; 4]>,
    /// Payload length in bytes (at most 2^63 - 1).
    pub payload_len: u64,
}

/// Decodes a frame head from the start of `buf`.
///
/// Returns `Ok(Some((head, head_len)))`, or `Ok(None)` if `buf` does not yet
/// hold the whole head (nothing consumed; call again with more bytes).
///
/// # Errors
///
/// [`ProtocolError::ReservedOpcode`], [`ProtocolError::FragmentedControlFrame`],
/// [`ProtocolError::ControlFrameTooLong`], [`ProtocolError::InvalidLength`]:
/// the frame is invalid whatever the connection state (all close with 1002).
pub fn decode_head(buf: &[u8]) -> Result<Option<(FrameHead, usize)>, ProtocolError> {
    let [b0, b1, ..] = *buf else {
        return Ok(None);
    };
    let opcode = OpCode::from_bits(b0 & 0x0F).ok_or(ProtocolError::ReservedOpcode)?;
    let fin = b0 & 0x80 != 0;
    let len7 = b1 & 0x7F;
    if opcode.is_control() {
        // §5.5: "All control frames MUST have a payload length of 125 bytes or
        // less and MUST NOT be fragmented."
        if !fin {
            return Err(ProtocolError::FragmentedControlFrame);
        }
        if usize::from(len7) > MAX_CONTROL_PAYLOAD {
            return Err(ProtocolError::ControlFrameTooLong);
        }
    }
    let masked = b1 & 0x80 != 0;
    let (payload_len, mut pos) = match len7 {
        // "If 126, the following 2 bytes interpreted as a 16-bit unsigned
        // integer are the payload length."
        126 => {
            let Some(b) = buf.get(2..4) else {
                return Ok(None);
            };
            (u64::from(u16::from_be_bytes([b[0], b[1]])), 4)
        }
        // "If 127, the following 8 bytes interpreted as a 64-bit unsigned
        // integer (the most significant bit MUST be 0) are the payload length."
        127 => {
            let Some(b) = buf.get(2..10) else {
                return Ok(None);
            };
            let len = u64::from_be_bytes(b.try_into().expect("8 bytes"));
            if len >> 63 != 0 {
                return Err(ProtocolError::InvalidLength);
            }
            (len, 10)
        }
        n => (u64::from(n), 2),
    };
    let mask = if masked {
        let Some(k) = buf.get(pos..pos + 4) else {
            return Ok(None);
        };
        pos += 4;
        Some([k[0], k[1], k[2], k[3]])
    } else {
        None
    };
    Ok(Some((FrameHead { fin, rsv1: b0 & 0x40 != 0, rsv23: b0 & 0x30 != 0, opcode, mask, payload_len }, pos)))
}

/// An encoded frame head, held on the stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    bytes: [u8; MAX_HEAD_LEN],
    len: u8,
}

impl FrameHeader {
    /// The head bytes to write before the payload.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Length of the head in bytes (2 to 14).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }
}

impl AsRef<[u8]> for FrameHeader {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

/// Encodes an unmasked frame head (what a server sends, §5.1: "A server MUST
/// NOT mask any frames that it sends to the client").
///
/// `rsv1` marks the first frame of a compressed message (RFC 7692 §6).
pub fn encode_frame_header(fin: bool, opcode: OpCode, rsv1: bool, payload_len: u64) -> FrameHeader {
    encode_head(fin, opcode, rsv1, payload_len, None)
}

/// Encodes a masked frame head (what a client sends). The caller masks the
/// payload with [`crate::mask::apply_mask`].
pub(crate) fn encode_frame_header_masked(
    fin: bool,
    opcode: OpCode,
    rsv1: bool,
    payload_len: u64,
    mask: [u8; 4],
) -> FrameHeader {
    encode_head(fin, opcode, rsv1, payload_len, Some(mask))
}

fn encode_head(
    fin: bool,
    opcode: OpCode,
    rsv1: bool,
    payload_len: u64,
    mask: Option<[u8; 4]>,
) -> FrameHeader {
    debug_assert!(payload_len >> 63 == 0, "payload length over 2^63");
    let mut bytes = [0u8; MAX_HEAD_LEN];
    bytes[0] = (u8::from(fin) << 7) | (u8::from(rsv1) << 6) | opcode as u8;
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    // "In all cases, the minimal number of bytes MUST be used to encode the length."
    let mut len = if payload_len < 126 {
        bytes[1] = mask_bit | payload_len as u8;
        2
    } else if payload_len <= u64::from(u16::MAX) {
        bytes[1] = mask_bit | 126;
        bytes[2..4].copy_from_slice(&(payload_len as u16).to_be_bytes());
        4
    } else {
        bytes[1] = mask_bit | 127;
        bytes[2..10].copy_from_slice(&payload_len.to_be_bytes());
        10
    };
    if let Some(key) = mask {
        bytes[len..len + 4].copy_from_slice(&key);
        len += 4;
    }
    FrameHeader { bytes, len: len as u8 }
}

/// Appends a whole unmasked frame (head + payload) to `out`.
pub fn encode_frame(fin: bool, opcode: OpCode, rsv1: bool, payload: &[u8], out: &mut Vec<u8>) {
    let head = encode_frame_header(fin, opcode, rsv1, payload.len() as u64);
    out.reserve(head.len() + payload.len());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(payload);
}

/// Appends a whole masked frame to `out` (client side; used by tests and tools).
pub fn encode_frame_masked(
    fin: bool,
    opcode: OpCode,
    rsv1: bool,
    payload: &[u8],
    mask: [u8; 4],
    out: &mut Vec<u8>,
) {
    let head = encode_frame_header_masked(fin, opcode, rsv1, payload.len() as u64, mask);
    out.extend_from_slice(head.as_bytes());
    let start = out.len();
    out.extend_from_slice(payload);
    crate::mask::apply_mask(&mut out[start..], mask, 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_examples() {
        // §5.7 examples.
        let (h, n) = decode_head(&[0x81, 0x05, b'H']).unwrap().unwrap();
        assert_eq!((h.fin, h.opcode, h.payload_len, h.mask, n), (true, OpCode::Text, 5, None, 2));
        let (h, n) = decode_head(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d]).unwrap().unwrap();
        assert_eq!((h.mask, n), (Some([0x37, 0xfa, 0x21, 0x3d]), 6));
        let (h, _) = decode_head(&[0x01, 0x03]).unwrap().unwrap();
        assert_eq!((h.fin, h.opcode), (false, OpCode::Text));
        let (h, n) = decode_head(&[0x82, 0x7E, 0x01, 0x00]).unwrap().unwrap();
        assert_eq!((h.payload_len, n), (256, 4));
        let (h, n) = decode_head(&[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]).unwrap().unwrap();
        assert_eq!((h.payload_len, n), (65536, 10));
    }

    #[test]
    fn rejects_what_no_state_allows() {
        let cases: &[(&[u8], ProtocolError)] = &[
            (&[0x83, 0x00], ProtocolError::ReservedOpcode),
            (&[0x87, 0x00], ProtocolError::ReservedOpcode),
            (&[0x8B, 0x00], ProtocolError::ReservedOpcode),
            (&[0x8F, 0x00], ProtocolError::ReservedOpcode),
            (&[0x09, 0x00], ProtocolError::FragmentedControlFrame),
            (&[0x89, 0x7E], ProtocolError::ControlFrameTooLong),
            (&[0x88, 0x7F], ProtocolError::ControlFrameTooLong),
            (&[0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0], ProtocolError::InvalidLength),
        ];
        for (bytes, err) in cases {
            assert_eq!(decode_head(bytes), Err(*err), "{bytes:x?}");
        }
    }

    #[test]
    fn incomplete_heads_ask_for_more() {
        let mut full = Vec::new();
        encode_frame_masked(true, OpCode::Binary, false, &[7u8; 70000], [1, 2, 3, 4], &mut full);
        let head_len = 14;
        for cut in 0..head_len {
            assert_eq!(decode_head(&full[..cut]), Ok(None), "cut {cut}");
        }
        let (h, n) = decode_head(&full[..head_len]).unwrap().unwrap();
        assert_eq!((h.payload_len, n), (70000, 14));
    }

    #[test]
    fn encode_decode_round_trip_at_length_boundaries() {
        for len in [0u64, 1, 125, 126, 127, 65535, 65536, 1 << 32, (1 << 63) - 1] {
            for opcode in [OpCode::Text, OpCode::Binary, OpCode::Continuation] {
                for (fin, rsv1) in [(true, false), (false, true)] {
                    for mask in [None, Some([0xde, 0xad, 0xbe, 0xef])] {
                        let h = match mask {
                            None => encode_frame_header(fin, opcode, rsv1, len),
                            Some(m) => encode_frame_header_masked(fin, opcode, rsv1, len, m),
                        };
                        let (d, n) = decode_head(h.as_bytes()).unwrap().unwrap();
                        assert_eq!(n, h.len());
                        let want = FrameHead { fin, rsv1, rsv23: false, opcode, mask, payload_len: len };
                        assert_eq!(d, want);
                        let minimal =
                            2 + match len {
                                0..=125 => 0,
                                126..=65535 => 2,
                                _ => 8,
                            } + if mask.is_some() { 4 } else { 0 };
                        assert_eq!(h.len(), minimal);
                    }
                }
            }
        }
    }
}
