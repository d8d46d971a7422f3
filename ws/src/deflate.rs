//! permessage-deflate: the compressor and the bounded decompressor (RFC 7692 §7.2).
//!
//! A compressed message is one raw DEFLATE stream (RFC 1951) per message,
//! flushed with a sync flush and with the flush's 4-byte tail removed; its
//! first frame carries RSV1 ("Per-Message Compressed", §6).
//!
//! ```text
//! send:    payload --deflate + SYNC_FLUSH--> ... 00 00 ff ff --strip tail--> frame(s), RSV1 on the first
//! receive: frame payloads ++ 00 00 ff ff --inflate, bounded--> message
//! ```
//!
//! > 1. Compress all the octets of the payload of the message using DEFLATE.
//! > 2. If the resulting data does not end with an empty DEFLATE block with
//! >    no compression (the "BTYPE" bits are set to 00), append an empty
//! >    DEFLATE block with no compression to the tail end.
//! > 3. Remove 4 octets (that are 0x00 0x00 0xff 0xff) from the tail end.
//! > (§7.2.1)
//!
//! > 1. Append 4 octets of 0x00 0x00 0xff 0xff to the tail end of the
//! >    payload of the message.
//! > 2. Decompress the resulting data using DEFLATE. (§7.2.2)
//!
//! # Memory
//!
//! A zlib compressor with a 15-bit window holds about 256 KiB, a decompressor
//! about 40 KiB. [`crate::WsConn`] therefore creates them lazily (boxed, on
//! the first compressed message) and drops them after each message when the
//! matching `*_no_context_takeover` was agreed, so an idle connection holds
//! none. With context takeover the window *is* the protocol state and must be
//! kept between messages.
//!
//! Pub/sub and broadcast should encode a message once and share the frame:
//! that is only correct with `server_no_context_takeover` (each message is
//! then a self-contained stream), see [`encode_message_once`].
//!
//! # Zip bombs
//!
//! [`Inflater::inflate`] writes into at most `limit + 1` bytes of output and
//! fails with [`ProtocolError::MessageTooLarge`] (1009) as soon as the limit is
//! passed, however small the compressed input was. (The output `Vec` grows by
//! doubling, so its capacity stays under twice the limit plus one 32 KiB step.)
//!
//! # Window sizes
//!
//! zlib (here the pure-Rust `zlib-rs` backend of `flate2`) supports raw
//! DEFLATE windows of 9..=15 bits; 8 is refused ("a request for 8 will result
//! in 9"). A peer asking us for `server_max_window_bits=8` therefore gets the
//! extension with 8 agreed and uncompressed messages from us: compression is
//! per message and optional for the sender. Decompressing needs no such
//! care: an inflater with a larger window decodes any stream made with a
//! smaller one.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::error::{ProtocolError, SendError};
use crate::frame::{encode_frame_header, OpCode};

/// The bytes a sync flush ends with, removed before sending (§7.2.1).
const SYNC_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Smallest window zlib accepts for raw DEFLATE.
pub(crate) const MIN_ZLIB_WINDOW_BITS: u8 = 9;

/// Output grown per inflate step; bounds the overshoot past the limit check.
const INFLATE_STEP: usize = 32 * 1024;

/// Negotiated permessage-deflate parameters for one connection, plus our
/// local compression knobs. Built by the handshake (see
/// [`crate::handshake::DeflateOptions`]), `Copy` and a few bytes long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeflateConfig {
    /// We reset our compressor after every message (RFC 7692 §7.1.1.1).
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after every message (§7.1.1.2), so we
    /// may drop our decompressor between messages.
    pub client_no_context_takeover: bool,
    /// `server_max_window_bits` as sent in our response (`None`: not sent,
    /// the client accepts up to 15).
    pub server_max_window_bits: Option<u8>,
    /// `client_max_window_bits` as sent in our response (`None`: not sent,
    /// the client may use up to 15).
    pub client_max_window_bits: Option<u8>,
    /// Our own cap on the compressor window (9..=15), even if the client
    /// allows more: a smaller window is always decodable and uses less memory.
    pub local_max_window_bits: u8,
    /// Messages shorter than this are sent uncompressed.
    pub threshold: u32,
    /// zlib compression level (0..=9).
    pub level: u8,
}

impl DeflateConfig {
    /// The window our compressor may use, or `None` if we must not compress
    /// at all (the client asked for an 8-bit window, which zlib cannot do).
    pub(crate) fn compress_window_bits(&self) -> Option<u8> {
        let w = self.server_max_window_bits.unwrap_or(15).min(self.local_max_window_bits);
        (w >= MIN_ZLIB_WINDOW_BITS).then_some(w)
    }

    /// The window our decompressor needs (at least 9; see the module docs).
    pub(crate) fn inflate_window_bits(&self) -> u8 {
        self.client_max_window_bits.unwrap_or(15).max(MIN_ZLIB_WINDOW_BITS)
    }

    /// Whether a message of `len` bytes should be sent compressed.
    pub fn should_compress(&self, len: usize) -> bool {
        self.compress_window_bits().is_some() && len >= self.threshold as usize
    }

    /// Appends the `Sec-WebSocket-Extensions` value of our response, e.g.
    /// `permessage-deflate; server_no_context_takeover; client_max_window_bits=10`.
    pub(crate) fn write_response_value(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"permessage-deflate");
        if self.server_no_context_takeover {
            out.extend_from_slice(b"; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            out.extend_from_slice(b"; client_no_context_takeover");
        }
        if let Some(bits) = self.server_max_window_bits {
            out.extend_from_slice(format!("; server_max_window_bits={bits}").as_bytes());
        }
        if let Some(bits) = self.client_max_window_bits {
            out.extend_from_slice(format!("; client_max_window_bits={bits}").as_bytes());
        }
    }
}

/// A raw-DEFLATE compressor for outgoing messages.
pub struct Deflater {
    inner: Compress,
    window_bits: u8,
    level: u8,
}

impl core::fmt::Debug for Deflater {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Deflater")
            .field("window_bits", &self.window_bits)
            .field("level", &self.level)
            .finish_non_exhaustive()
    }
}

impl Deflater {
    /// A compressor with the given zlib `level` (0..=9) and window (clamped to 9..=15).
    pub fn new(level: u8, window_bits: u8) -> Self {
        let window_bits = window_bits.clamp(MIN_ZLIB_WINDOW_BITS, 15);
        let level = level.min(9);
        Deflater {
            inner: Compress::new_with_window_bits(Compression::new(u32::from(level)), false, window_bits),
            window_bits,
            level,
        }
    }

    /// For a connection's negotiated parameters, or `None` if it must not compress.
    pub(crate) fn for_config(cfg: &DeflateConfig) -> Option<Self> {
        cfg.compress_window_bits().map(|w| Deflater::new(cfg.level, w))
    }

    /// The window size in bits.
    pub fn window_bits(&self) -> u8 {
        self.window_bits
    }

    /// The zlib compression level (0..=9).
    pub fn level(&self) -> u8 {
        self.level
    }

    /// Forgets the history (what `server_no_context_takeover` requires between messages).
    pub fn reset(&mut self) {
        self.inner.reset();
    }

    /// Appends the compressed payload of one message to `out` (§7.2.1: sync
    /// flush, tail removed). The history is kept for the next message; call
    /// [`reset`](Self::reset) for no context takeover.
    ///
    /// # Errors
    ///
    /// [`SendError::Compression`] if zlib reports an error (it should not).
    pub fn compress(&mut self, payload: &[u8], out: &mut Vec<u8>) -> Result<(), SendError> {
        if payload.is_empty() {
            // One empty stored block's first byte; the receiver appends the rest
            // (00 00 ff ff). Done by hand because zlib refuses a second sync
            // flush in a row without input (Z_BUF_ERROR, no output).
            out.push(0x00);
            return Ok(());
        }
        let start = out.len();
        let mut consumed = 0;
        loop {
            // Deflate rarely expands data by more than a few bytes per block.
            out.reserve(payload.len() - consumed + 64);
            let before = self.inner.total_in();
            self.inner
                .compress_vec(&payload[consumed..], out, FlushCompress::Sync)
                .map_err(|_| SendError::Compression)?;
            consumed += (self.inner.total_in() - before) as usize;
            // The flush is complete once all input is taken and zlib stopped
            // with output space to spare.
            if consumed == payload.len() && out.len() < out.capacity() {
                break;
            }
        }
        if !out[start..].ends_with(&SYNC_TAIL) {
            return Err(SendError::Compression);
        }
        out.truncate(out.len() - SYNC_TAIL.len());
        Ok(())
    }
}

/// A raw-DEFLATE decompressor for incoming messages, bounded by a limit.
pub struct Inflater {
    inner: Decompress,
    /// The stream ended with a BFINAL block inside this message; the rest of
    /// the message's input is ignored (§7.2.3.3 allows BFINAL blocks).
    ended: bool,
}

impl core::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Inflater").field("ended", &self.ended).finish_non_exhaustive()
    }
}

impl Inflater {
    /// A decompressor with a window of `window_bits` (clamped to 9..=15).
    pub fn new(window_bits: u8) -> Self {
        Inflater {
            inner: Decompress::new_with_window_bits(false, window_bits.clamp(MIN_ZLIB_WINDOW_BITS, 15)),
            ended: false,
        }
    }

    /// Forgets the history (for `client_no_context_takeover`).
    pub fn reset(&mut self) {
        self.inner.reset(false);
        self.ended = false;
    }

    /// Inflates a piece of a compressed message, appending to `out`, which
    /// must stay at most `limit` bytes long.
    ///
    /// # Errors
    ///
    /// - [`ProtocolError::MessageTooLarge`] as soon as the output passes `limit`;
    /// - [`ProtocolError::InvalidCompressedData`] for corrupt DEFLATE data.
    pub fn inflate(
        &mut self,
        mut input: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), ProtocolError> {
        while !self.ended {
            if out.len() > limit {
                return Err(ProtocolError::MessageTooLarge);
            }
            // Room for at most one byte past the limit: enough to detect it.
            let room = (limit - out.len() + 1).min(INFLATE_STEP.max(input.len().saturating_mul(4)));
            let len = out.len();
            out.resize(len + room, 0);
            let (in0, out0) = (self.inner.total_in(), self.inner.total_out());
            let status = self.inner.decompress(input, &mut out[len..], FlushDecompress::Sync);
            let consumed = (self.inner.total_in() - in0) as usize;
            let produced = (self.inner.total_out() - out0) as usize;
            out.truncate(len + produced);
            input = &input[consumed..];
            match status {
                Ok(Status::StreamEnd) => {
                    self.inner.reset(false);
                    self.ended = true;
                }
                Ok(Status::Ok | Status::BufError) => {}
                Err(_) => return Err(ProtocolError::InvalidCompressedData),
            }
            if out.len() > limit {
                return Err(ProtocolError::MessageTooLarge);
            }
            // Done when all input is taken and zlib stopped short of filling
            // the output (so it has nothing more to give).
            if input.is_empty() && produced < room {
                break;
            }
            if consumed == 0 && produced == 0 && !self.ended {
                return Err(ProtocolError::InvalidCompressedData);
            }
        }
        Ok(())
    }

    /// Ends a message: inflates the implicit `00 00 ff ff` tail (§7.2.2).
    ///
    /// # Errors
    ///
    /// As [`inflate`](Self::inflate).
    pub fn finish_message(&mut self, out: &mut Vec<u8>, limit: usize) -> Result<(), ProtocolError> {
        let r = self.inflate(&SYNC_TAIL, out, limit);
        self.ended = false;
        r
    }
}

/// Encodes a whole message frame once, ready to be shared by many
/// connections (pub/sub, broadcast).
///
/// With `Some(deflater)` the payload is compressed (RSV1 set) and the
/// deflater is reset afterwards, so the frame depends on no history: it may
/// only be sent to connections that agreed `server_no_context_takeover` and
/// whose `server_max_window_bits` is at least `deflater.window_bits()`
/// ([`crate::Writer::can_share_compressed`] checks both). Connections that did
/// not negotiate permessage-deflate need the uncompressed frame (`None`).
///
/// # Errors
///
/// [`SendError::Compression`] if the compressor fails.
pub fn encode_message_once(
    opcode: OpCode,
    payload: &[u8],
    compress: Option<&mut Deflater>,
) -> Result<Vec<u8>, SendError> {
    let mut out = Vec::new();
    match compress {
        None => crate::frame::encode_frame(true, opcode, false, payload, &mut out),
        Some(d) => {
            let r = write_compressed_frame(opcode, payload, d, &mut out);
            d.reset();
            r?;
        }
    }
    Ok(out)
}

/// Appends one compressed frame (FIN, RSV1) to `out`. The head's length is
/// only known after compressing, so the payload is compressed after a
/// 10-byte gap (the longest unmasked head) and the gap closed afterwards.
pub(crate) fn write_compressed_frame(
    opcode: OpCode,
    payload: &[u8],
    deflater: &mut Deflater,
    out: &mut Vec<u8>,
) -> Result<(), SendError> {
    const GAP: usize = 10;
    let start = out.len();
    out.extend_from_slice(&[0; GAP]);
    if let Err(e) = deflater.compress(payload, out) {
        out.truncate(start);
        return Err(e);
    }
    let body_len = out.len() - start - GAP;
    let head = encode_frame_header(true, opcode, true, body_len as u64);
    let head_len = head.len();
    out.copy_within(start + GAP.., start + head_len);
    out[start..start + head_len].copy_from_slice(head.as_bytes());
    out.truncate(start + head_len + body_len);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(d: &mut Deflater, i: &mut Inflater, msg: &[u8]) {
        let mut c = Vec::new();
        d.compress(msg, &mut c).unwrap();
        let mut out = Vec::new();
        i.inflate(&c, &mut out, 1 << 20).unwrap();
        i.finish_message(&mut out, 1 << 20).unwrap();
        assert_eq!(out, msg);
    }

    #[test]
    fn rfc7692_hello_example() {
        // §7.2.3.1: "Hello" compressed: 0xf2 0x48 0xcd 0xc9 0xc9 0x07 0x00
        let mut i = Inflater::new(15);
        let mut out = Vec::new();
        i.inflate(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], &mut out, 100).unwrap();
        i.finish_message(&mut out, 100).unwrap();
        assert_eq!(out, b"Hello");
        // §7.2.3.2: the second "Hello" with context takeover: 0xf2 0x00 0x11 0x00 0x00
        i.inflate(&[0xf2, 0x00, 0x11, 0x00, 0x00], &mut out, 100).unwrap();
        i.finish_message(&mut out, 100).unwrap();
        assert_eq!(out, b"HelloHello");
        // §7.2.3.3: a stored block; §7.2.3.4: BFINAL set.
        for wire in [
            &[0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00][..],
            &[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00],
        ] {
            let mut i = Inflater::new(15);
            let mut out = Vec::new();
            i.inflate(wire, &mut out, 100).unwrap();
            i.finish_message(&mut out, 100).unwrap();
            assert_eq!(out, b"Hello", "{wire:x?}");
        }
    }

    #[test]
    fn round_trips_with_and_without_context_takeover() {
        for bits in 9..=15 {
            let mut d = Deflater::new(6, bits);
            let mut i = Inflater::new(bits);
            for msg in [&b"Hello"[..], b"", b"Hello", &[0u8; 5000], b"x"] {
                round_trip(&mut d, &mut i, msg);
            }
            d.reset();
            i.reset();
            round_trip(&mut d, &mut i, b"after reset");
        }
    }

    #[test]
    fn inflate_is_bounded() {
        let mut d = Deflater::new(9, 15);
        let bomb = vec![0u8; 10 << 20];
        let mut c = Vec::new();
        d.compress(&bomb, &mut c).unwrap();
        assert!(c.len() < 20_000, "compressed to {}", c.len());
        for limit in [0, 1, 1000, 65536, (10 << 20) - 1] {
            let mut i = Inflater::new(15);
            let mut out = Vec::new();
            let r = i.inflate(&c, &mut out, limit).and_then(|()| i.finish_message(&mut out, limit));
            assert_eq!(r, Err(ProtocolError::MessageTooLarge), "limit {limit}");
            assert!(out.len() <= limit + 1);
            // The Vec grows by doubling: at most twice the limit plus one step.
            assert!(out.capacity() <= 2 * (limit + 1 + INFLATE_STEP.max(c.len() * 4)));
        }
        let mut i = Inflater::new(15);
        let mut out = Vec::new();
        i.inflate(&c, &mut out, 10 << 20).unwrap();
        i.finish_message(&mut out, 10 << 20).unwrap();
        assert_eq!(out.len(), 10 << 20);
    }

    #[test]
    fn corrupt_data_is_an_error() {
        let mut i = Inflater::new(15);
        // BTYPE = 11 (reserved).
        assert_eq!(
            i.inflate(&[0xff, 0xff, 0xff], &mut Vec::new(), 100),
            Err(ProtocolError::InvalidCompressedData)
        );
    }

    #[test]
    fn shared_frame_is_self_contained() {
        let mut d = Deflater::new(6, 15);
        let a = encode_message_once(OpCode::Text, b"hello hello hello", Some(&mut d)).unwrap();
        let b = encode_message_once(OpCode::Text, b"hello hello hello", Some(&mut d)).unwrap();
        assert_eq!(a, b, "no history carried between shared frames");
        assert_eq!(a[0], 0xC1); // FIN | RSV1 | Text
        let mut i = Inflater::new(15);
        let mut out = Vec::new();
        i.inflate(&a[2..], &mut out, 100).unwrap();
        i.finish_message(&mut out, 100).unwrap();
        assert_eq!(out, b"hello hello hello");
        let plain = encode_message_once(OpCode::Binary, b"abc", None).unwrap();
        assert_eq!(plain, [0x82, 3, b'a', b'b', b'c']);
    }

    #[test]
    fn long_compressed_frame_gets_a_long_head() {
        let payload: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
        let mut d = Deflater::new(1, 15);
        let mut out = vec![0xAA];
        write_compressed_frame(OpCode::Binary, &payload, &mut d, &mut out).unwrap();
        let (h, n) = crate::frame::decode_head(&out[1..]).unwrap().unwrap();
        assert!(h.rsv1 && h.fin);
        assert_eq!(h.payload_len as usize, out.len() - 1 - n);
        let mut i = Inflater::new(15);
        let mut back = Vec::new();
        i.inflate(&out[1 + n..], &mut back, 1 << 20).unwrap();
        i.finish_message(&mut back, 1 << 20).unwrap();
        assert_eq!(back, payload);
    }
}
