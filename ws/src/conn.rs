//! The connection state machine: bytes in, events out (RFC 6455 §5, §6.2, §7).
//!
//! [`WsConn`] is sans-IO. The server reads from the socket into its own
//! buffer and calls [`WsConn::feed`]; the connection decodes frames,
//! unmasks in place, reassembles fragmented messages, validates UTF-8 as it
//! goes, inflates compressed messages with a bound, answers Pings and Close
//! frames (queued in its [`Writer`]), and calls back with [`Event`]s.
//!
//! ```text
//!  socket ─read─> server buffer ─feed(&mut [u8])─> WsConn ─Event─> handler
//!                      ^  returns bytes consumed       │
//!                      └── keep the unconsumed tail    └─ Writer: pending Pong/Close ─take_pending─> socket
//! ```
//!
//! # What `feed` consumes
//!
//! Everything, except: an incomplete frame head (at most 14 bytes), or an
//! incomplete *control* frame (at most 14 + 125 bytes); those stay in the
//! caller's buffer until more arrives. Data frame payloads are consumed as
//! they arrive, so the caller's buffer never has to grow to a frame's size.
//!
//! # Zero copy where it pays
//!
//! An unfragmented, uncompressed message whose frame is entirely in the input
//! (the common case: small messages, one read) is unmasked in place and
//! delivered as a slice of the caller's buffer. Otherwise the payload is
//! appended to an assembly buffer that exists only while that message is in
//! progress and is freed when it is delivered.
//!
//! # Rules enforced on each frame head (the Autobahn checklist)
//!
//! - §5.1 client frames MUST be masked → 1002
//! - §5.2 RSV1-3 MUST be 0 unless an extension defines them; permessage-deflate
//!   defines RSV1 on the *first* frame of a data message only (RFC 7692 §6.1:
//!   "An endpoint MUST NOT set the "Per-Message Compressed" bit of control
//!   frames and non-first fragments of a data message") → 1002
//! - §5.2 reserved opcodes; §5.5 control frames ≤ 125 bytes and FIN → 1002
//! - §5.4 a continuation with no message open, or a new data frame while one
//!   is open → 1002; control frames may be interleaved
//! - limits: frame payload > `max_frame`, message > `max_message`, inflated
//!   message > `max_inflated` → 1009
//! - §8.1 text must be UTF-8, checked per chunk so we fail fast → 1007
//! - §5.5.1 Close payload: empty or code (+ UTF-8 reason); codes per §7.4 → 1002/1007
//!
//! On any of these `feed` returns the [`ProtocolError`] after queueing a
//! Close with its code; the server flushes [`WsConn::take_pending`] and
//! closes TCP. Input after a Close frame is ignored (§5.5.1).
//!
//! # Memory
//!
//! Idle, a `WsConn` is a small struct with no heap memory: no read buffer,
//! no assembly buffer, no zlib state unless context takeover keeps it
//! (see [`crate::handshake::DeflateOptions`]). A test pins its size.

use crate::close::{parse_close_payload, CloseFrame};
use crate::deflate::{DeflateConfig, Inflater};
use crate::error::ProtocolError;
use crate::frame::{decode_head, FrameHead, OpCode};
use crate::mask::{apply_mask, rotate_key};
use crate::utf8::Utf8Validator;
use crate::writer::Writer;

/// Size limits for incoming data. Exceeding one fails the connection with 1009.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest frame payload accepted (as on the wire).
    pub max_frame: usize,
    /// Largest message accepted (sum of its frames' payloads, uncompressed messages).
    pub max_message: usize,
    /// Largest decompressed message (permessage-deflate); bounds zip bombs.
    pub max_inflated: usize,
}

impl Default for Limits {
    /// 16 MiB for each: Autobahn's largest messages (cases 9.x) are exactly 16 MiB.
    fn default() -> Self {
        Limits { max_frame: 16 << 20, max_message: 16 << 20, max_inflated: 16 << 20 }
    }
}

impl Limits {
    /// Sets [`Limits::max_frame`].
    #[must_use]
    pub fn max_frame(mut self, n: usize) -> Self {
        self.max_frame = n;
        self
    }
    /// Sets [`Limits::max_message`].
    #[must_use]
    pub fn max_message(mut self, n: usize) -> Self {
        self.max_message = n;
        self
    }
    /// Sets [`Limits::max_inflated`].
    #[must_use]
    pub fn max_inflated(mut self, n: usize) -> Self {
        self.max_inflated = n;
        self
    }
}

/// A complete data message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message<'a> {
    /// A text message, validated UTF-8.
    Text(&'a str),
    /// A binary message.
    Binary(&'a [u8]),
}

impl<'a> Message<'a> {
    /// The opcode and payload bytes.
    pub fn parts(self) -> (OpCode, &'a [u8]) {
        match self {
            Message::Text(s) => (OpCode::Text, s.as_bytes()),
            Message::Binary(b) => (OpCode::Binary, b),
        }
    }
}

/// What the peer sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A complete message.
    Message(Message<'a>),
    /// A Ping; the Pong is already queued.
    Ping(&'a [u8]),
    /// A Pong.
    Pong(&'a [u8]),
    /// The peer's Close; our echo is already queued. After flushing the
    /// pending bytes, close the TCP connection.
    Close(CloseFrame<'a>),
}

/// Result of [`WsConn::keepalive_tick`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keepalive {
    /// Data arrived since the last tick: nothing to do.
    Active,
    /// The peer was quiet: a Ping was queued (flush it), expect a Pong by the next tick.
    PingQueued,
    /// Quiet for two ticks despite our Ping, or closing: drop the connection.
    TimedOut,
}

/// A message being reassembled (or a single frame whose payload spans reads).
#[derive(Debug)]
struct Assembly {
    buf: Vec<u8>,
    utf8: Utf8Validator,
    text: bool,
    compressed: bool,
}

/// Where the decoder is inside the current data frame's payload.
#[derive(Clone, Copy, Debug, Default)]
struct FrameState {
    remaining: u64,
    /// The masking key rotated to the next payload byte.
    mask: [u8; 4],
    fin: bool,
    in_payload: bool,
}

#[derive(Debug)]
struct Reader {
    frame: FrameState,
    msg: Option<Box<Assembly>>,
    inflater: Option<Box<Inflater>>,
    limits: Limits,
}

/// A server-side WebSocket connection, sans-IO. See the module docs.
#[derive(Debug)]
pub struct WsConn {
    rx: Reader,
    tx: Writer,
}

type OnEvent<'f> = dyn FnMut(Event<'_>, &mut Writer) + 'f;

impl WsConn {
    /// A connection after a successful handshake, with the agreed
    /// permessage-deflate parameters ([`crate::Accepted::deflate`]).
    pub fn new(limits: Limits, deflate: Option<DeflateConfig>) -> Self {
        WsConn {
            rx: Reader { frame: FrameState::default(), msg: None, inflater: None, limits },
            tx: Writer::new(deflate),
        }
    }

    /// Decodes as much of `input` as possible, calling `on_event` for each
    /// event. Returns how many bytes were consumed; keep the rest and pass it
    /// again, followed by new bytes, on the next call.
    ///
    /// `input` is `&mut` because payloads are unmasked in place; consumed
    /// bytes are left unmasked.
    ///
    /// The callback gets the [`Writer`] so it can reply (encode a message,
    /// close) while the event borrows the input.
    ///
    /// # Errors
    ///
    /// A [`ProtocolError`] fails the connection: a Close with
    /// [`ProtocolError::close_code`] is queued; flush
    /// [`take_pending`](Self::take_pending) and close TCP. Later calls
    /// consume and ignore everything.
    pub fn feed<F>(&mut self, input: &mut [u8], mut on_event: F) -> Result<usize, ProtocolError>
    where
        F: FnMut(Event<'_>, &mut Writer),
    {
        let WsConn { rx, tx } = self;
        if tx.is_closed() {
            return Ok(input.len());
        }
        if !input.is_empty() {
            tx.activity = true;
        }
        match rx.run(input, tx, &mut on_event) {
            Ok(n) => Ok(n),
            Err(e) => {
                rx.abort();
                tx.fail(e);
                Err(e)
            }
        }
    }

    /// The sending half.
    pub fn writer(&mut self) -> &mut Writer {
        &mut self.tx
    }

    /// See [`Writer::take_pending`].
    pub fn take_pending(&mut self, out: &mut Vec<u8>) {
        self.tx.take_pending(out);
    }

    /// See [`Writer::has_pending`].
    pub fn has_pending(&self) -> bool {
        self.tx.has_pending()
    }

    /// See [`Writer::can_send`].
    pub fn can_send(&self) -> bool {
        self.tx.can_send()
    }

    /// See [`Writer::is_closing`].
    pub fn is_closing(&self) -> bool {
        self.tx.is_closing()
    }

    /// See [`Writer::is_closed`].
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// See [`Writer::close`].
    ///
    /// # Errors
    ///
    /// As [`Writer::close`].
    pub fn close(&mut self, code: u16, reason: &str) -> Result<(), crate::SendError> {
        self.tx.close(code, reason)
    }

    /// The agreed permessage-deflate parameters, if any.
    pub fn deflate(&self) -> Option<&DeflateConfig> {
        self.tx.deflate()
    }

    /// A message is being reassembled (so memory is held for it).
    pub fn message_in_progress(&self) -> bool {
        self.rx.msg.is_some()
    }

    /// Whether zlib state is currently held (compressor or decompressor).
    pub fn holds_zlib_state(&self) -> bool {
        self.rx.inflater.is_some() || self.tx.holds_deflater()
    }

    /// Call on a fixed period (e.g. half the idle timeout). With no traffic
    /// for a whole period a Ping is queued; with no traffic for the next
    /// period either, the peer is gone.
    pub fn keepalive_tick(&mut self) -> Keepalive {
        let tx = &mut self.tx;
        if tx.activity {
            tx.activity = false;
            tx.ping_outstanding = false;
            return Keepalive::Active;
        }
        if tx.ping_outstanding || !tx.can_send() {
            return Keepalive::TimedOut;
        }
        tx.keepalive_ping();
        Keepalive::PingQueued
    }
}

impl Reader {
    fn abort(&mut self) {
        self.frame = FrameState::default();
        self.msg = None;
        self.inflater = None;
    }

    fn run(
        &mut self,
        input: &mut [u8],
        tx: &mut Writer,
        on_event: &mut OnEvent<'_>,
    ) -> Result<usize, ProtocolError> {
        let deflate = tx.deflate;
        let mut pos = 0;
        loop {
            if tx.is_closed() {
                // §5.5.1: after the Close frame, nothing more is read.
                return Ok(input.len());
            }
            if self.frame.in_payload {
                pos += self.payload(&mut input[pos..], deflate.as_ref(), tx, on_event)?;
                if self.frame.in_payload {
                    return Ok(pos); // input exhausted mid-payload
                }
                continue;
            }
            let Some((head, head_len)) = decode_head(&input[pos..])? else {
                return Ok(pos);
            };
            let mask = self.check_head(&head, deflate.as_ref())?;
            let start = pos + head_len;
            let avail = (input.len() - start) as u64;
            let whole = avail >= head.payload_len;
            if head.opcode.is_control() {
                if !whole {
                    return Ok(pos); // at most 139 bytes wait in the caller's buffer
                }
                let end = start + head.payload_len as usize;
                let payload = &mut input[start..end];
                apply_mask(payload, mask, 0);
                pos = end;
                control(head.opcode, payload, tx, on_event)?;
                continue;
            }
            if whole && head.fin && !head.rsv1 && self.msg.is_none() {
                // Fast path: a whole unfragmented message is in the buffer.
                let end = start + head.payload_len as usize;
                let payload = &mut input[start..end];
                apply_mask(payload, mask, 0);
                pos = end;
                let msg = if head.opcode == OpCode::Text {
                    Message::Text(core::str::from_utf8(payload).map_err(|_| ProtocolError::InvalidUtf8)?)
                } else {
                    Message::Binary(payload)
                };
                on_event(Event::Message(msg), tx);
                continue;
            }
            if head.opcode != OpCode::Continuation {
                self.msg = Some(Box::new(Assembly {
                    buf: Vec::new(),
                    utf8: Utf8Validator::new(),
                    text: head.opcode == OpCode::Text,
                    compressed: head.rsv1,
                }));
            }
            self.frame = FrameState { remaining: head.payload_len, mask, fin: head.fin, in_payload: true };
            pos = start;
        }
    }

    /// Connection-dependent checks of a frame head; returns the masking key.
    fn check_head(
        &self,
        head: &FrameHead,
        deflate: Option<&DeflateConfig>,
    ) -> Result<[u8; 4], ProtocolError> {
        // §5.1: "The server MUST close the connection upon receiving a frame
        // that is not masked."
        let mask = head.mask.ok_or(ProtocolError::UnmaskedFrame)?;
        // §5.2 / RFC 7692 §6.1: RSV1 only with permessage-deflate, only on
        // the first frame of a data message.
        if head.rsv23
            || (head.rsv1 && (deflate.is_none() || !matches!(head.opcode, OpCode::Text | OpCode::Binary)))
        {
            return Err(ProtocolError::ReservedBits);
        }
        let so_far = match (head.opcode, &self.msg) {
            // §5.4: continuation frames only inside a fragmented message ...
            (OpCode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
            // ... and no new message until it is finished.
            (OpCode::Text | OpCode::Binary, Some(_)) => return Err(ProtocolError::ExpectedContinuation),
            (OpCode::Continuation, Some(m)) if !m.compressed => m.buf.len() as u64,
            _ => 0,
        };
        if !head.opcode.is_control() {
            if head.payload_len > self.limits.max_frame as u64 {
                return Err(ProtocolError::FrameTooLarge);
            }
            let compressed = head.rsv1 || self.msg.as_ref().is_some_and(|m| m.compressed);
            if !compressed && so_far + head.payload_len > self.limits.max_message as u64 {
                return Err(ProtocolError::MessageTooLarge);
            }
        }
        Ok(mask)
    }

    /// Consumes payload bytes of the current data frame from `buf`.
    fn payload(
        &mut self,
        buf: &mut [u8],
        deflate: Option<&DeflateConfig>,
        tx: &mut Writer,
        on_event: &mut OnEvent<'_>,
    ) -> Result<usize, ProtocolError> {
        let take = self.frame.remaining.min(buf.len() as u64) as usize;
        let chunk = &mut buf[..take];
        apply_mask(chunk, self.frame.mask, 0);
        self.frame.mask = rotate_key(self.frame.mask, take);
        self.frame.remaining -= take as u64;
        let asm = self.msg.as_mut().expect("a data frame payload belongs to a message");
        if asm.compressed {
            let bits = deflate.map_or(15, DeflateConfig::inflate_window_bits);
            let inflater = self.inflater.get_or_insert_with(|| Box::new(Inflater::new(bits)));
            let old = asm.buf.len();
            let inflated = inflater.inflate(chunk, &mut asm.buf, self.limits.max_inflated);
            // Validate what was produced *before* reporting an inflate error,
            // so the first problem in stream order wins however the input
            // was split (found by the ws_frame fuzz target).
            if asm.text {
                asm.utf8.feed(&asm.buf[old..]).map_err(|_| ProtocolError::InvalidUtf8)?;
            }
            inflated?;
        } else {
            if asm.text {
                asm.utf8.feed(chunk).map_err(|_| ProtocolError::InvalidUtf8)?;
            }
            asm.buf.extend_from_slice(chunk);
        }
        if self.frame.remaining == 0 {
            self.frame.in_payload = false;
            if self.frame.fin {
                self.finish_message(deflate, tx, on_event)?;
            }
        }
        Ok(take)
    }

    fn finish_message(
        &mut self,
        deflate: Option<&DeflateConfig>,
        tx: &mut Writer,
        on_event: &mut OnEvent<'_>,
    ) -> Result<(), ProtocolError> {
        let mut asm = self.msg.take().expect("finishing a message in progress");
        if asm.compressed {
            let bits = deflate.map_or(15, DeflateConfig::inflate_window_bits);
            let inflater = self.inflater.get_or_insert_with(|| Box::new(Inflater::new(bits)));
            let old = asm.buf.len();
            let inflated = inflater.finish_message(&mut asm.buf, self.limits.max_inflated);
            if asm.text {
                asm.utf8.feed(&asm.buf[old..]).map_err(|_| ProtocolError::InvalidUtf8)?;
            }
            inflated?;
            if deflate.is_some_and(|d| d.client_no_context_takeover) {
                // No history to keep: free the zlib state until the next message.
                self.inflater = None;
            }
        }
        let msg = if asm.text {
            asm.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
            // Already validated chunk by chunk; checked again because this
            // crate forbids `from_utf8_unchecked` (it runs at GB/s).
            Message::Text(core::str::from_utf8(&asm.buf).map_err(|_| ProtocolError::InvalidUtf8)?)
        } else {
            Message::Binary(&asm.buf)
        };
        on_event(Event::Message(msg), tx);
        Ok(()) // `asm` and its buffer are freed here
    }
}

fn control(
    opcode: OpCode,
    payload: &[u8],
    tx: &mut Writer,
    on_event: &mut OnEvent<'_>,
) -> Result<(), ProtocolError> {
    match opcode {
        OpCode::Ping => {
            tx.reply_pong(payload);
            on_event(Event::Ping(payload), tx);
        }
        OpCode::Pong => {
            // §5.5.3: an unsolicited Pong is allowed and needs no answer.
            tx.ping_outstanding = false;
            on_event(Event::Pong(payload), tx);
        }
        OpCode::Close => {
            let frame = parse_close_payload(payload)?;
            tx.on_close_received(frame.code);
            on_event(Event::Close(frame), tx);
        }
        _ => unreachable!("control() is only called for control opcodes"),
    }
    Ok(())
}
