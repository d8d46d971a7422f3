//! Configurable limits: every one of them bounds memory or CPU a peer can make
//! us spend, and every one maps to a status (see [`ParseError`](crate::ParseError)).
//!
//! Defaults follow nginx's habits (8 KiB request line, 32 KiB head) and are
//! meant to be overridden by the server's configuration:
//!
//! ```
//! let limits = weir_http::Limits::default().max_body(10 << 20).max_headers(64);
//! assert_eq!(limits.max_body, 10 << 20);
//! ```

/// Parser and body-decoder limits. `Default` + builder setters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest request line, CRLF excluded (414 beyond). Default 8 KiB.
    pub max_request_line: usize,
    /// Largest head in bytes, from the first byte to the final CRLF included (431 beyond).
    /// Default 32 KiB. Clamped to `u32::MAX` (ranges are stored as `u32`).
    pub max_head: usize,
    /// Most header fields in the head, and trailer fields after a chunked body (431 beyond).
    /// Default 100.
    pub max_headers: usize,
    /// Largest body, declared (`Content-Length`) or decoded (chunked) (413 beyond). Default 1 MiB.
    pub max_body: u64,
    /// Longest extension of a single chunk-size line, `;` included (400 beyond). Default 1 KiB.
    pub max_chunk_ext: usize,
    /// Largest trailer section in bytes (431 beyond). Default 8 KiB.
    pub max_trailers: usize,
    /// How many framing bytes (size lines, extensions, CRLFs) a chunked body may
    /// spend beyond the data bytes it carries (400 beyond). Stops "1-byte chunk"
    /// floods that cost CPU per byte delivered. Default 16 KiB.
    pub chunk_overhead_allowance: u64,
    /// Empty lines (CRLF) tolerated before the request line (RFC 9112 §2.2). Default 4.
    pub max_empty_lines: u8,
}

/// 8 KiB: longest request line by default (as nginx's `large_client_header_buffers`).
pub const DEFAULT_MAX_REQUEST_LINE: usize = 8 * 1024;
/// 32 KiB: largest head by default (4 of nginx's 8 KiB buffers).
pub const DEFAULT_MAX_HEAD: usize = 32 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_request_line: DEFAULT_MAX_REQUEST_LINE,
            max_head: DEFAULT_MAX_HEAD,
            max_headers: 100,
            max_body: 1 << 20,
            max_chunk_ext: 1024,
            max_trailers: 8 * 1024,
            chunk_overhead_allowance: 16 * 1024,
            max_empty_lines: 4,
        }
    }
}

impl Limits {
    /// Sets [`Limits::max_request_line`].
    #[must_use]
    pub fn max_request_line(mut self, n: usize) -> Self {
        self.max_request_line = n;
        self
    }
    /// Sets [`Limits::max_head`] (clamped to `u32::MAX`).
    #[must_use]
    pub fn max_head(mut self, n: usize) -> Self {
        self.max_head = n.min(u32::MAX as usize);
        self
    }
    /// Sets [`Limits::max_headers`].
    #[must_use]
    pub fn max_headers(mut self, n: usize) -> Self {
        self.max_headers = n;
        self
    }
    /// Sets [`Limits::max_body`].
    #[must_use]
    pub fn max_body(mut self, n: u64) -> Self {
        self.max_body = n;
        self
    }
    /// Sets [`Limits::max_chunk_ext`].
    #[must_use]
    pub fn max_chunk_ext(mut self, n: usize) -> Self {
        self.max_chunk_ext = n;
        self
    }
    /// Sets [`Limits::max_trailers`].
    #[must_use]
    pub fn max_trailers(mut self, n: usize) -> Self {
        self.max_trailers = n;
        self
    }
    /// Sets [`Limits::chunk_overhead_allowance`].
    #[must_use]
    pub fn chunk_overhead_allowance(mut self, n: u64) -> Self {
        self.chunk_overhead_allowance = n;
        self
    }
    /// Sets [`Limits::max_empty_lines`].
    #[must_use]
    pub fn max_empty_lines(mut self, n: u8) -> Self {
        self.max_empty_lines = n;
        self
    }
}
