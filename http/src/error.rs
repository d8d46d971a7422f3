//! Errors of the HTTP/1.1 codec, each knowing the status a client should get.
//!
//! A peer can send anything, so every way a request can be wrong is a value
//! here, never a panic. Following httparse, the error is a small `Copy` enum
//! with `&'static str` messages: building one costs nothing, and the server
//! can log it and answer without allocating.
//!
//! "Not enough bytes yet" is **not** an error: the parser returns `Ok(None)`
//! and the body decoders return [`Decoded::NeedMore`](crate::Decoded::NeedMore).
//!
//! Status mapping (RFC 9110 §15):
//!
//! | status | when |
//! |---|---|
//! | 414 URI Too Long | the request line exceeds [`Limits::max_request_line`](crate::Limits) |
//! | 431 Request Header Fields Too Large | head exceeds `max_head`, more than `max_headers` fields, trailers too large |
//! | 413 Content Too Large | declared or decoded body over `max_body` |
//! | 501 Not Implemented | a transfer coding other than `chunked` (RFC 9112 §6.1) |
//! | 505 HTTP Version Not Supported | a well-formed version whose major is not 1 |
//! | 400 Bad Request | everything else that is malformed |

use core::fmt;

/// Why a request (head or body) was rejected. See [`ParseError::status`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParseError {
    /// The request line is longer than `Limits::max_request_line` (414).
    RequestLineTooLong,
    /// The head (request line + fields + final CRLF) exceeds `Limits::max_head` (431).
    HeadTooLarge,
    /// More header fields than `Limits::max_headers` (431).
    TooManyHeaders,
    /// Declared `Content-Length` or decoded chunked data over `Limits::max_body` (413).
    BodyTooLarge,
    /// A transfer coding this server does not implement (501).
    UnsupportedTransferCoding,
    /// `HTTP/x.y` with a major version other than 1 (505).
    UnsupportedVersion,
    /// More empty lines before the request line than allowed (400).
    TooManyEmptyLines,
    /// The method is empty or has a non-token byte (400).
    InvalidMethod,
    /// The request target has a forbidden byte, bad `%XX`, or the wrong form (400).
    InvalidTarget,
    /// The version is not `HTTP/DIGIT.DIGIT` (400).
    InvalidVersion,
    /// The request line is not `method SP target SP version` (400).
    InvalidRequestLine,
    /// A CR not followed by LF (400).
    BareCr,
    /// A LF not preceded by CR (400; RFC 9112 §2.2 allows rejecting it).
    BareLf,
    /// NUL, DEL or another control byte where none is allowed (400).
    ControlByte,
    /// A field line starting with SP/HTAB: obsolete line folding (400).
    ObsFold,
    /// Whitespace between a field name and the colon (400, RFC 9112 §5.1).
    WhitespaceBeforeColon,
    /// An empty field name or one with a non-token byte, or no colon (400).
    InvalidHeaderName,
    /// `Content-Length` is not `1*DIGIT` or overflows `u64` (400).
    InvalidContentLength,
    /// `Content-Length` appears more than once (400).
    DuplicateContentLength,
    /// Both `Content-Length` and `Transfer-Encoding` (400, RFC 9112 §6.3).
    ContentLengthWithTransferEncoding,
    /// `Transfer-Encoding` empty or syntactically bad (400).
    InvalidTransferEncoding,
    /// `chunked` is not the final transfer coding (400, RFC 9112 §6.3).
    ChunkedNotFinal,
    /// `chunked` applied more than once (400, RFC 9112 §7).
    ChunkedTwice,
    /// `Transfer-Encoding` in an HTTP/1.0 request (400, RFC 9112 §6.1).
    TransferEncodingHttp10,
    /// HTTP/1.1 request without `Host` (400, RFC 9112 §3.2).
    MissingHost,
    /// More than one `Host` field (400, RFC 9112 §3.2).
    DuplicateHost,
    /// `Host` value with a byte not allowed in `uri-host [ ":" port ]` (400).
    InvalidHost,
    /// A chunk size that is not hex, or absent (400).
    InvalidChunkSize,
    /// A chunk size that does not fit in 64 bits (400).
    ChunkSizeOverflow,
    /// A chunk extension longer than `Limits::max_chunk_ext` (400).
    ChunkExtensionTooLong,
    /// A chunk extension with a forbidden byte (400).
    InvalidChunkExtension,
    /// Missing CRLF after chunk data (400).
    InvalidChunkDelimiter,
    /// Chunk framing bytes far exceed the data they carry (400).
    ChunkOverhead,
    /// A malformed trailer field (400).
    InvalidTrailer,
    /// The trailer section exceeds `Limits::max_trailers` bytes or `max_headers` fields (431).
    TrailersTooLarge,
}

impl ParseError {
    /// The response status code a server should send for this error.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(weir_http::ParseError::RequestLineTooLong.status(), 414);
    /// assert_eq!(weir_http::ParseError::BareLf.status(), 400);
    /// ```
    pub const fn status(&self) -> u16 {
        match self {
            Self::RequestLineTooLong => 414,
            Self::HeadTooLarge | Self::TooManyHeaders | Self::TrailersTooLarge => 431,
            Self::BodyTooLarge => 413,
            Self::UnsupportedTransferCoding => 501,
            Self::UnsupportedVersion => 505,
            _ => 400,
        }
    }

    /// A short static description, fit for a log line.
    pub const fn message(&self) -> &'static str {
        match self {
            Self::RequestLineTooLong => "request line too long",
            Self::HeadTooLarge => "request head too large",
            Self::TooManyHeaders => "too many header fields",
            Self::BodyTooLarge => "request body too large",
            Self::UnsupportedTransferCoding => "unsupported transfer coding",
            Self::UnsupportedVersion => "unsupported HTTP version",
            Self::TooManyEmptyLines => "too many empty lines before the request line",
            Self::InvalidMethod => "invalid method",
            Self::InvalidTarget => "invalid request target",
            Self::InvalidVersion => "invalid HTTP version",
            Self::InvalidRequestLine => "invalid request line",
            Self::BareCr => "CR not followed by LF",
            Self::BareLf => "LF not preceded by CR",
            Self::ControlByte => "control byte in request head",
            Self::ObsFold => "obsolete line folding",
            Self::WhitespaceBeforeColon => "whitespace between field name and colon",
            Self::InvalidHeaderName => "invalid field name",
            Self::InvalidContentLength => "invalid Content-Length",
            Self::DuplicateContentLength => "several Content-Length values",
            Self::ContentLengthWithTransferEncoding => "Content-Length with Transfer-Encoding",
            Self::InvalidTransferEncoding => "invalid Transfer-Encoding",
            Self::ChunkedNotFinal => "chunked is not the final transfer coding",
            Self::ChunkedTwice => "chunked applied more than once",
            Self::TransferEncodingHttp10 => "Transfer-Encoding in an HTTP/1.0 request",
            Self::MissingHost => "missing Host",
            Self::DuplicateHost => "several Host fields",
            Self::InvalidHost => "invalid Host",
            Self::InvalidChunkSize => "invalid chunk size",
            Self::ChunkSizeOverflow => "chunk size overflow",
            Self::ChunkExtensionTooLong => "chunk extension too long",
            Self::InvalidChunkExtension => "invalid chunk extension",
            Self::InvalidChunkDelimiter => "missing CRLF after chunk data",
            Self::ChunkOverhead => "chunk framing overhead too large",
            Self::InvalidTrailer => "invalid trailer field",
            Self::TrailersTooLarge => "trailer section too large",
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for ParseError {}

#[cfg(test)]
mod tests {
    use super::ParseError as E;

    #[test]
    fn statuses() {
        let table = [
            (E::RequestLineTooLong, 414),
            (E::HeadTooLarge, 431),
            (E::TooManyHeaders, 431),
            (E::TrailersTooLarge, 431),
            (E::BodyTooLarge, 413),
            (E::UnsupportedTransferCoding, 501),
            (E::UnsupportedVersion, 505),
            (E::BareCr, 400),
            (E::ChunkedNotFinal, 400),
        ];
        for (e, s) in table {
            assert_eq!(e.status(), s, "{e}");
            assert!(!e.message().is_empty());
        }
    }
}
