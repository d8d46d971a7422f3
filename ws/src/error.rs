//! Errors, each knowing its answer on the wire.
//!
//! - [`ProtocolError`]: the peer broke RFC 6455 / RFC 7692 after the
//!   handshake. The connection is failed (§7.1.7): a Close frame with
//!   [`ProtocolError::close_code`] is queued, then the TCP connection closes.
//! - [`SendError`]: the local application tried to send something it may not
//!   (data after Close, an oversized control frame).
//!
//! Handshake errors live beside the handshake ([`crate::HandshakeError`]).
//!
//! Small `Copy` enums with static messages: an error costs nothing to create,
//! carries no allocation, and a peer cannot make it large.

use core::fmt;

use crate::close::codes;

/// A violation of the WebSocket protocol by the peer (RFC 6455 §7.1.7, §7.4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// §5.1: "a server MUST close the connection upon receiving a frame that is not masked".
    UnmaskedFrame,
    /// §5.2: RSV1-3 "MUST be 0 unless an extension is negotiated that defines meanings".
    ReservedBits,
    /// §5.2: "If an unknown opcode is received, the receiving endpoint MUST _Fail_".
    ReservedOpcode,
    /// §5.5: "All control frames MUST have a payload length of 125 bytes or less".
    ControlFrameTooLong,
    /// §5.5: "All control frames ... MUST NOT be fragmented".
    FragmentedControlFrame,
    /// §5.2: a 64-bit length "the most significant bit MUST be 0".
    InvalidLength,
    /// §5.4: a continuation frame with no message in progress.
    UnexpectedContinuation,
    /// §5.4: a new Text/Binary frame while a fragmented message is open.
    ExpectedContinuation,
    /// §5.5.1: a Close payload of exactly one byte.
    CloseFrameTooShort,
    /// §7.4: a Close status code that may not be sent on the wire.
    InvalidCloseCode,
    /// §8.1: a text message or close reason that is not UTF-8.
    InvalidUtf8,
    /// RFC 7692 §6.2: the compressed payload is not valid DEFLATE data.
    InvalidCompressedData,
    /// A frame payload larger than `Limits::max_frame`.
    FrameTooLarge,
    /// A message larger than `Limits::max_message` (or inflated beyond `Limits::max_inflated`).
    MessageTooLarge,
    /// Our side failed (e.g. the compressor); not the peer's fault.
    Internal,
}

impl ProtocolError {
    /// The Close status code to send (RFC 6455 §7.4.1).
    ///
    /// - 1002 protocol error: framing rules broken;
    /// - 1007 invalid payload data: bad UTF-8 or undecodable DEFLATE data;
    /// - 1009 message too big: a configured limit was exceeded;
    /// - 1011 internal error: our side failed.
    pub fn close_code(self) -> u16 {
        use ProtocolError::*;
        match self {
            UnmaskedFrame
            | ReservedBits
            | ReservedOpcode
            | ControlFrameTooLong
            | FragmentedControlFrame
            | InvalidLength
            | UnexpectedContinuation
            | ExpectedContinuation
            | CloseFrameTooShort
            | InvalidCloseCode => codes::PROTOCOL_ERROR,
            InvalidUtf8 | InvalidCompressedData => codes::INVALID_PAYLOAD,
            FrameTooLarge | MessageTooLarge => codes::MESSAGE_TOO_BIG,
            Internal => codes::INTERNAL_ERROR,
        }
    }

    /// A short static description (also used as the Close reason).
    pub fn as_str(self) -> &'static str {
        use ProtocolError::*;
        match self {
            UnmaskedFrame => "client frame not masked",
            ReservedBits => "reserved bits set",
            ReservedOpcode => "reserved opcode",
            ControlFrameTooLong => "control frame longer than 125 bytes",
            FragmentedControlFrame => "fragmented control frame",
            InvalidLength => "invalid payload length",
            UnexpectedContinuation => "continuation frame without a message",
            ExpectedContinuation => "new message inside a fragmented message",
            CloseFrameTooShort => "close payload of one byte",
            InvalidCloseCode => "invalid close code",
            InvalidUtf8 => "invalid UTF-8",
            InvalidCompressedData => "invalid compressed data",
            FrameTooLarge => "frame too large",
            MessageTooLarge => "message too large",
            Internal => "internal error",
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (close {})", self.as_str(), self.close_code())
    }
}

impl std::error::Error for ProtocolError {}

/// Why the local side may not send a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// A Close frame was already sent or the connection failed (§5.5.1:
    /// "the endpoint MUST NOT send any more data frames").
    Closed,
    /// A control frame payload longer than 125 bytes (§5.5).
    ControlFrameTooLong,
    /// The compressor failed.
    Compression,
    /// A Close code that may not be sent (§7.4.1: e.g. 1005, 1006, 1015).
    InvalidCloseCode,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendError::Closed => "connection closing or closed",
            SendError::ControlFrameTooLong => "control frame payload longer than 125 bytes",
            SendError::Compression => "compression failed",
            SendError::InvalidCloseCode => "close code may not be sent",
        })
    }
}

impl std::error::Error for SendError {}
