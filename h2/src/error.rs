//! Error codes (RFC 9113 §7) and the two scopes an error has (§5.4):
//! a **connection error** ends the connection with GOAWAY, a **stream
//! error** ends one stream with RST_STREAM and leaves the others alone.

/// An HTTP/2 error code (RFC 9113 §7). Unknown codes received from the
/// peer are kept as [`ErrorCode::Other`] ("MUST NOT trigger any special
/// behavior").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 0x0: graceful shutdown, or a stream no longer needed.
    NoError,
    /// 0x1: a protocol violation with no more specific code.
    ProtocolError,
    /// 0x2: an unexpected internal error.
    InternalError,
    /// 0x3: the peer broke the flow-control rules.
    FlowControlError,
    /// 0x4: a SETTINGS frame was not acknowledged in time.
    SettingsTimeout,
    /// 0x5: a frame on a half-closed or closed stream.
    StreamClosed,
    /// 0x6: a frame of invalid size.
    FrameSizeError,
    /// 0x7: the stream was refused before any processing.
    RefusedStream,
    /// 0x8: the stream is no longer needed.
    Cancel,
    /// 0x9: the HPACK state cannot be maintained.
    CompressionError,
    /// 0xa: a CONNECT tunnel failed.
    ConnectError,
    /// 0xb: the peer is generating excessive load.
    EnhanceYourCalm,
    /// 0xc: transport properties below the minimum security.
    InadequateSecurity,
    /// 0xd: the peer must use HTTP/1.1.
    Http11Required,
    /// Any other code.
    Other(u32),
}

impl ErrorCode {
    /// The code on the wire.
    pub fn to_u32(self) -> u32 {
        match self {
            ErrorCode::NoError => 0x0,
            ErrorCode::ProtocolError => 0x1,
            ErrorCode::InternalError => 0x2,
            ErrorCode::FlowControlError => 0x3,
            ErrorCode::SettingsTimeout => 0x4,
            ErrorCode::StreamClosed => 0x5,
            ErrorCode::FrameSizeError => 0x6,
            ErrorCode::RefusedStream => 0x7,
            ErrorCode::Cancel => 0x8,
            ErrorCode::CompressionError => 0x9,
            ErrorCode::ConnectError => 0xa,
            ErrorCode::EnhanceYourCalm => 0xb,
            ErrorCode::InadequateSecurity => 0xc,
            ErrorCode::Http11Required => 0xd,
            ErrorCode::Other(c) => c,
        }
    }

    /// The code for a value on the wire.
    pub fn from_u32(code: u32) -> ErrorCode {
        match code {
            0x0 => ErrorCode::NoError,
            0x1 => ErrorCode::ProtocolError,
            0x2 => ErrorCode::InternalError,
            0x3 => ErrorCode::FlowControlError,
            0x4 => ErrorCode::SettingsTimeout,
            0x5 => ErrorCode::StreamClosed,
            0x6 => ErrorCode::FrameSizeError,
            0x7 => ErrorCode::RefusedStream,
            0x8 => ErrorCode::Cancel,
            0x9 => ErrorCode::CompressionError,
            0xa => ErrorCode::ConnectError,
            0xb => ErrorCode::EnhanceYourCalm,
            0xc => ErrorCode::InadequateSecurity,
            0xd => ErrorCode::Http11Required,
            c => ErrorCode::Other(c),
        }
    }
}

/// An error found in the peer's input, with its scope (RFC 9113 §5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum H2Error {
    /// Ends the connection: GOAWAY with this code.
    Connection(ErrorCode),
    /// Ends one stream: RST_STREAM with this code.
    Stream(u32, ErrorCode),
}

impl H2Error {
    /// The error code, whatever the scope.
    pub fn code(self) -> ErrorCode {
        match self {
            H2Error::Connection(c) | H2Error::Stream(_, c) => c,
        }
    }
}

impl std::fmt::Display for H2Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            H2Error::Connection(c) => write!(f, "connection error {c:?}"),
            H2Error::Stream(id, c) => write!(f, "stream {id} error {c:?}"),
        }
    }
}

impl std::error::Error for H2Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for v in 0..=0xe {
            assert_eq!(ErrorCode::from_u32(v).to_u32(), v);
        }
        assert_eq!(ErrorCode::from_u32(0xdead), ErrorCode::Other(0xdead));
        assert_eq!(H2Error::Stream(3, ErrorCode::Cancel).code(), ErrorCode::Cancel);
    }
}
