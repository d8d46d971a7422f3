//! The sending half of a connection: close state, control replies, encoding.
//!
//! [`Writer`] owns everything about what we may still send:
//!
//! ```text
//!            close()                      peer's Close
//!   Open ──────────────> CloseSent ───────────────────> Closed
//!    │  peer's Close (echo queued)                        ^
//!    ├────────────────────────────────────────────────────┘
//!    │  protocol error (Close with the error's code queued)
//!    └──────────────────> Failed
//! ```
//!
//! RFC 6455 §5.5.1: "If an endpoint receives a Close frame and did not
//! previously send a Close frame, the endpoint MUST send a Close frame in
//! response. ... After sending a Close frame, the endpoint MUST NOT send any
//! more data frames." §7.1.1: the server should close the TCP connection
//! once both Close frames are exchanged ([`Writer::is_closed`]); a server that
//! sent Close first waits a bounded time for the answer ([`Writer::is_closing`]).
//!
//! Replies the protocol makes on its own (Pong for Ping, the Close echo,
//! keep-alive Pings) are queued in a small `pending` buffer that the server
//! drains with [`Writer::take_pending`] after each `feed`. It is empty (no
//! allocation) whenever nothing is queued.
//!
//! Data messages are encoded straight into the caller's buffer: a head on
//! the stack for zero-copy sends ([`Writer::message_header`]), or a whole
//! frame, compressed when permessage-deflate was agreed and the message is
//! over the threshold ([`Writer::encode_message`]).

use crate::close::{encode_close_frame, is_valid_close_code};
use crate::conn::Message;
use crate::deflate::{write_compressed_frame, DeflateConfig, Deflater};
use crate::error::{ProtocolError, SendError};
use crate::frame::{encode_frame, encode_frame_header, FrameHeader, OpCode, MAX_CONTROL_PAYLOAD};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CloseState {
    Open,
    /// We sent Close and wait for the peer's.
    CloseSent,
    /// Both Close frames exchanged (or queued): flush and close TCP.
    Closed,
    /// We failed the connection (§7.1.7): flush and close TCP.
    Failed,
}

/// The sending half of a [`crate::WsConn`]; also handed to the event
/// callback of [`crate::WsConn::feed`] so a handler can reply at once.
#[derive(Debug)]
pub struct Writer {
    pending: Vec<u8>,
    deflater: Option<Box<Deflater>>,
    pub(crate) deflate: Option<DeflateConfig>,
    state: CloseState,
    /// Bytes arrived since the last keep-alive tick.
    pub(crate) activity: bool,
    /// A keep-alive Ping is waiting for its Pong.
    pub(crate) ping_outstanding: bool,
}

impl Writer {
    pub(crate) fn new(deflate: Option<DeflateConfig>) -> Self {
        Writer {
            pending: Vec::new(),
            deflater: None,
            deflate,
            state: CloseState::Open,
            activity: false,
            ping_outstanding: false,
        }
    }

    /// Data frames may be sent (no Close sent or received, not failed).
    pub fn can_send(&self) -> bool {
        self.state == CloseState::Open
    }

    /// We sent Close and wait for the peer's (bound this with a timer).
    pub fn is_closing(&self) -> bool {
        self.state == CloseState::CloseSent
    }

    /// The WebSocket is over: write out [`take_pending`](Self::take_pending),
    /// then close the TCP connection (§7.1.1: the server closes first).
    pub fn is_closed(&self) -> bool {
        matches!(self.state, CloseState::Closed | CloseState::Failed)
    }

    /// The connection was failed because of a protocol error.
    pub fn is_failed(&self) -> bool {
        self.state == CloseState::Failed
    }

    /// The agreed permessage-deflate parameters, if any.
    pub fn deflate(&self) -> Option<&DeflateConfig> {
        self.deflate.as_ref()
    }

    pub(crate) fn holds_deflater(&self) -> bool {
        self.deflater.is_some()
    }

    /// Whether control frames or Close replies are queued.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Moves the queued control frames (Pong, Close, keep-alive Ping) to the
    /// end of `out` and releases the queue's memory.
    pub fn take_pending(&mut self, out: &mut Vec<u8>) {
        if !self.pending.is_empty() {
            out.extend_from_slice(&self.pending);
            self.pending = Vec::new();
        }
    }

    /// A head for an uncompressed, unfragmented message of `len` bytes. Write
    /// it, then the payload itself: the payload is never copied.
    ///
    /// # Errors
    ///
    /// [`SendError::Closed`] once a Close was sent or received.
    pub fn message_header(&self, opcode: OpCode, len: usize) -> Result<FrameHeader, SendError> {
        if !self.can_send() {
            return Err(SendError::Closed);
        }
        debug_assert!(matches!(opcode, OpCode::Text | OpCode::Binary));
        Ok(encode_frame_header(true, opcode, false, len as u64))
    }

    /// Appends a whole message frame to `out`, compressed (RSV1) when
    /// permessage-deflate was agreed and the message reaches the threshold.
    ///
    /// The compressor is created on first use and, when
    /// `server_no_context_takeover` was agreed, dropped after the message
    /// (nothing is held between messages). For broadcast prefer
    /// [`encode_message_shared`](Self::encode_message_shared).
    ///
    /// # Errors
    ///
    /// [`SendError::Closed`] once a Close was sent or received;
    /// [`SendError::Compression`] if the compressor fails.
    pub fn encode_message(&mut self, msg: Message<'_>, out: &mut Vec<u8>) -> Result<(), SendError> {
        if !self.can_send() {
            return Err(SendError::Closed);
        }
        let (opcode, payload) = msg.parts();
        let Some(cfg) = self.deflate.filter(|c| c.should_compress(payload.len())) else {
            encode_frame(true, opcode, false, payload, out);
            return Ok(());
        };
        let deflater = match &mut self.deflater {
            Some(d) => d,
            slot @ None => slot.insert(Box::new(Deflater::for_config(&cfg).ok_or(SendError::Compression)?)),
        };
        let r = write_compressed_frame(opcode, payload, deflater, out);
        if cfg.server_no_context_takeover || r.is_err() {
            self.deflater = None;
        }
        r
    }

    /// Whether frames compressed by `shared` (reset after every message, as
    /// [`crate::deflate::encode_message_once`] does) are valid for this peer:
    /// `server_no_context_takeover` agreed and the window within its limit.
    pub fn can_share_compressed(&self, shared: &Deflater) -> bool {
        self.deflate.is_some_and(|c| {
            c.server_no_context_takeover
                && c.level.min(9) == shared.level()
                && c.compress_window_bits().is_some_and(|w| shared.window_bits() <= w)
        })
    }

    /// Like [`encode_message`](Self::encode_message) but compresses with a
    /// per-shard `shared` deflater when [`can_share_compressed`](Self::can_share_compressed)
    /// holds, so no per-connection compressor is ever built.
    ///
    /// # Errors
    ///
    /// As [`encode_message`](Self::encode_message).
    pub fn encode_message_shared(
        &mut self,
        msg: Message<'_>,
        shared: &mut Deflater,
        out: &mut Vec<u8>,
    ) -> Result<(), SendError> {
        let (opcode, payload) = msg.parts();
        let compress = self.deflate.is_some_and(|c| c.should_compress(payload.len()));
        if !compress || !self.can_share_compressed(shared) {
            return self.encode_message(msg, out);
        }
        if !self.can_send() {
            return Err(SendError::Closed);
        }
        let r = write_compressed_frame(opcode, payload, shared, out);
        shared.reset();
        r
    }

    /// Queues a Ping (payload ≤ 125 bytes).
    ///
    /// # Errors
    ///
    /// [`SendError::ControlFrameTooLong`], or [`SendError::Closed`] after a Close.
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.queue_control(OpCode::Ping, payload)
    }

    /// Queues an unsolicited Pong (a one-way heartbeat, §5.5.3).
    ///
    /// # Errors
    ///
    /// As [`ping`](Self::ping).
    pub fn pong(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.queue_control(OpCode::Pong, payload)
    }

    fn queue_control(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), SendError> {
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(SendError::ControlFrameTooLong);
        }
        if !self.can_send() {
            return Err(SendError::Closed);
        }
        encode_frame(true, opcode, false, payload, &mut self.pending);
        Ok(())
    }

    /// Starts the closing handshake: queues a Close with `code` and `reason`
    /// (cut to fit 123 bytes). Then wait for the peer's Close (with a
    /// timeout) and close TCP when [`is_closed`](Self::is_closed).
    ///
    /// # Errors
    ///
    /// [`SendError::InvalidCloseCode`] for a code that may not be sent
    /// (e.g. 1005, 1006); [`SendError::Closed`] if a Close was already sent.
    pub fn close(&mut self, code: u16, reason: &str) -> Result<(), SendError> {
        if !is_valid_close_code(code) {
            return Err(SendError::InvalidCloseCode);
        }
        if !self.can_send() {
            return Err(SendError::Closed);
        }
        encode_close_frame(Some(code), reason, &mut self.pending);
        self.state = CloseState::CloseSent;
        Ok(())
    }

    /// Auto-reply to a Ping (§5.5.2: "Upon receipt of a Ping frame, an
    /// endpoint MUST send a Pong frame in response ... with identical
    /// Application data"). Not after our Close.
    pub(crate) fn reply_pong(&mut self, payload: &[u8]) {
        if self.can_send() {
            encode_frame(true, OpCode::Pong, false, payload, &mut self.pending);
        }
    }

    /// The peer's Close arrived: echo its code unless we already sent ours.
    pub(crate) fn on_close_received(&mut self, code: Option<u16>) {
        if self.state == CloseState::Open {
            // §5.5.1: "the endpoint typically echos the status code it received".
            encode_close_frame(code, "", &mut self.pending);
        }
        self.state = CloseState::Closed;
    }

    /// Fail the connection (§7.1.7): queue a Close with the error's code
    /// unless one was already sent.
    pub(crate) fn fail(&mut self, err: ProtocolError) {
        if self.state == CloseState::Open {
            encode_close_frame(Some(err.close_code()), err.as_str(), &mut self.pending);
        }
        if self.state != CloseState::Closed {
            self.state = CloseState::Failed;
        }
        self.deflater = None;
    }

    /// Keep-alive: queue an empty Ping.
    pub(crate) fn keepalive_ping(&mut self) {
        encode_frame(true, OpCode::Ping, false, &[], &mut self.pending);
        self.ping_outstanding = true;
    }
}
