//! # weir-http: sans-IO HTTP/1.1
//!
//! The HTTP/1.1 message layer of weir: a strict, incremental request parser,
//! body decoders, a response encoder and a router. It never sees a socket, a
//! clock or a thread (RFC 9110 semantics, RFC 9112 syntax): the server feeds
//! it bytes and gets back byte ranges, statuses and bytes to write. Fuzzers
//! and property tests feed it everything else.
//!
//! It is **not** an HTTP client, an HTTP/2 implementation, or a connection
//! state machine: keep-alive, timeouts and writing live in `weir-server`.
//!
//! ## Example
//!
//! ```
//! use weir_http::*;
//!
//! let limits = Limits::default();
//! let mut parser = RequestParser::new(limits);
//! let buf = b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
//! let head = parser.parse(buf)?.expect("complete head");          // Ok(None) = need more bytes
//! assert_eq!((head.method(), head.target(buf)), (Method::Post, &b"/echo"[..]));
//! let mut body = BodyDecoder::new(head.framing(), &limits);       // Chunked
//! let (used, data) = body.decode(&buf[head.head_len()..])?;
//! assert_eq!(data, Decoded::Data(3..8));                           // "hello", not copied
//! let mut out = Vec::new();                                        // reused per connection
//! let mut date = DateCache::new();
//! date.update(784_111_777);                                        // the caller's clock
//! ResponseHead { status: 200, reason: "", headers: &[], framing: ResponseFraming::Length(5), keep_alive: head.keep_alive() }
//!     .encode(&mut out, &date)?;
//! assert!(out.starts_with(b"HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Length: 5\r\n"));
//! # let _ = used;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## How it works
//!
//! ```text
//!  bytes ──▶ RequestParser::parse ──▶ RequestHead (spans into the buffer,
//!            (resumable: 2 offsets)    framing, keep-alive, expect, upgrade)
//!                                           │ framing()
//!  bytes ──▶ BodyDecoder::decode ──▶ Data(range of input) / NeedMore / Done
//!  path  ──▶ normalize_path / Target / Router::lookup ──▶ handler + params
//!  ResponseHead::encode ──▶ reused Vec<u8>; chunk headers as separate segments
//! ```
//!
//! - [`RequestParser`] (module `parse`): fed a growing buffer, it resumes at the
//!   byte where it stopped. One word-at-a-time pass finds each line's CRLF and
//!   rejects control bytes; 256-entry tables classify method, target and
//!   field-name bytes. Framing facts are computed during that same pass.
//! - Every rejection is a [`ParseError`] whose [`ParseError::status`] is the
//!   answer a user expects: 414, 431, 413, 501, 505, or 400.
//! - [`ChunkedDecoder`] / [`LengthDecoder`]: sans-IO state machines over any
//!   split of the input, handing out body ranges without copying.
//! - [`ResponseHead`], [`encode_status_line`], [`encode_header`],
//!   [`encode_chunk_header`], [`DateCache`]: response bytes into a reused buffer.
//! - [`Router`]: `:param`, `*rest`, static first, 404 vs 405 with `Allow`,
//!   no allocation per lookup.
//!
//! ## Unsafe code
//!
//! Only the byte scan in the private `table` module uses `unsafe`: 16-byte
//! SSE2 loads (x86_64 baseline) and a 32-byte AVX2 loop behind runtime
//! detection, each block with its `// SAFETY:` argument, both checked against
//! the scalar table for every byte value at every offset. Other targets use
//! a safe SWAR (8 bytes per `u64`) loop.
//!
//! ## API contract for the server
//!
//! - `parse_ref(buf)`: `buf` starts at the request's first byte and only
//!   grows between calls returning `Ok(None)`. `Ok(Some(head))` lends the
//!   head, which stays in the parser; the next call starts the next request
//!   (at `buf[head.head_len() + body..]`) and reuses the header storage, so
//!   there is no allocation and no copy of the head per request. This is what
//!   the server uses.
//! - `parse(buf)`: the same, but hands out an owned [`RequestHead`] (to keep
//!   beyond the next request); give it back with [`RequestParser::recycle`]
//!   to reuse its header storage.
//! - `head.plain_path()`: the target is an origin-form path with nothing to
//!   decode or normalise, usable as is for routing; otherwise run
//!   [`normalize_path`] first.
//! - On `Err(e)`: answer `e.status()` with `Connection: close` and close.
//! - Body: `BodyDecoder::new(head.framing(), &limits)`; loop on `decode` with
//!   the unconsumed input; `Data(r)` is `input[r]`; after `Done`, the bytes
//!   past the consumed count belong to the next request (pipelining).
//! - `head.expect_continue()`: send `100 Continue` before reading the body;
//!   `head.upgrade()`: the client asks to switch protocols (WebSocket).

// Modules are public so that their docs (the RFC walk-through) render;
// everything is also re-exported at the root.
pub mod body;
pub mod date;
pub mod encode;
pub mod error;
pub mod head;
pub mod limits;
pub mod parse;
pub mod path;
pub mod router;
mod scan;
mod table;
pub mod target;

pub use body::{BodyDecoder, ChunkedDecoder, Decoded, LengthDecoder};
pub use date::{format_imf_fixdate, DateCache, IMF_FIXDATE_LEN};
pub use encode::{
    encode_chunk_header, encode_chunked, encode_content_length, encode_date, encode_end_of_head,
    encode_header, encode_status_line, encode_u64, response_has_body, status_allows_body,
    status_allows_framing, status_reason, EncodeError, ResponseFraming, ResponseHead, CHUNK_HEADER_MAX, CRLF,
    LAST_CHUNK,
};
pub use error::ParseError;
pub use head::{
    is_token, list_contains, BodyFraming, HeaderSpan, Headers, Method, RequestHead, Span, Version,
};
pub use limits::{Limits, DEFAULT_MAX_HEAD, DEFAULT_MAX_REQUEST_LINE};
pub use parse::RequestParser;
pub use path::{normalize_path, normalize_path_into, percent_decode_into, PathError};
pub use router::{LookupError, Match, Params, RouteError, Router, MAX_PARAMS};
pub use target::{form_decode, QueryPairs, Target};
