//! # weir-h2: sans-IO HTTP/2
//!
//! The HTTP/2 layer of weir (RFC 9113 framing and streams, RFC 7541
//! HPACK), server side. Like weir-http it never sees a socket, a clock
//! or a thread: the server feeds it bytes, gets back events, and writes
//! the bytes it produces. Fuzzers and tests feed it everything else.
//!
//! It is **not** a client, does not push (SETTINGS_ENABLE_PUSH is 0), and
//! does not know HTTP semantics beyond what RFC 9113 §8 makes an HTTP/2
//! rule (pseudo-header fields, connection-specific fields, content-length).
//!
//! ## Example
//!
//! ```
//! use weir_h2::{frame, Config, Connection, Event};
//!
//! let mut conn = Connection::new(Config::default());
//! let server_preface = conn.take_output();                 // our SETTINGS
//! assert!(!server_preface.is_empty());
//! let mut input = frame::PREFACE.to_vec();
//! frame::encode_settings(&mut input, &[]);
//! // HEADERS on stream 1: GET https://example.com/ (static table indices 2, 7, 4, then :authority).
//! let block = [0x82, 0x87, 0x84, 0x41, 0x0b, b'e', b'x', b'a', b'm', b'p', b'l', b'e', b'.', b'c', b'o', b'm'];
//! frame::encode_headers(&mut input, 1, &block, true, 16_384);
//! let mut at = 0;
//! let mut stream = None;
//! loop {
//!     let (used, event) = conn.recv(&input[at..]);
//!     if let Some(Event::Request { stream: id, head, .. }) = event {
//!         assert_eq!((head.method(), head.path()), (&b"GET"[..], Some(&b"/"[..])));
//!         stream = Some(id);
//!     }
//!     if used == 0 { break }
//!     at += used;
//! }
//! let id = stream.expect("a request");
//! conn.send_response(id, 200, [(&b"content-type"[..], &b"text/plain"[..])].into_iter(), false);
//! assert_eq!(conn.send_data(id, b"hello", true), 5);
//! let bytes = conn.take_output();                           // SETTINGS ACK, HEADERS, DATA
//! assert!(bytes.ends_with(b"hello"));
//! ```
//!
//! ## How it works
//!
//! ```text
//!  bytes ─▶ Connection::recv ─▶ frame::FrameHeader / decode_frame (§4, §6)
//!                │                 header blocks ─▶ hpack::Decoder (bounded)
//!                │                 requests ─▶ request::validate_request (§8)
//!                ├─ streams (§5.1), windows (§5.2), SETTINGS, PING, GOAWAY
//!                └─ budget::Budget: frames that do no work are charged
//!  Event::{Request, Data, Reset, WindowOpened, GoAway, Closed}
//!  send_response / send_data / release ─▶ hpack::Encoder, frames ─▶ take_output
//! ```
//!
//! - [`frame`]: the 9-byte header, each type's fixed rules, encoders.
//! - [`hpack`]: static and dynamic tables, Huffman, integers and strings;
//!   the decoder bounded in list size (32 bytes per field counted) and
//!   field count; the encoder stateless or indexing ([`IndexMode`]).
//! - [`Connection`] (module `conn`): one frame per `recv` call, so the
//!   caller can answer a request before the next frame is read.
//! - [`Budget`]: one allowance per connection for every frame that does no
//!   work; past it, GOAWAY `ENHANCE_YOUR_CALM`, with counters per [`Cost`].
//!
//! ## Unsafe code
//!
//! None: `#![forbid(unsafe_code)]`.

#![forbid(unsafe_code)]

pub mod budget;
mod conn;
pub mod error;
pub mod frame;
pub mod hpack;
pub mod request;

pub use budget::{Budget, Cost};
pub use conn::{Config, Connection, Event};
pub use error::{ErrorCode, H2Error};
pub use hpack::IndexMode;
pub use request::RequestHead;
