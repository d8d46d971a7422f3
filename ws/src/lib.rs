//! # weir-ws: sans-IO WebSocket (RFC 6455) with permessage-deflate (RFC 7692)
//!
//! This crate is the WebSocket protocol and nothing else: it never sees a
//! socket, a clock or a thread. The server (`weir-server`) reads bytes, hands
//! them over, and writes back what this crate produces.
//!
//! It **is**: the opening handshake ([`handshake::accept`]), the frame codec
//! ([`frame`]) with fast masking ([`mask`]), message reassembly with
//! incremental UTF-8 validation, the close handshake ([`close`]),
//! ping/pong and keep-alive, and permessage-deflate ([`deflate`]) with bounded
//! decompression. It **is not**: an HTTP parser (headers come in as byte
//! slices), an event loop, or a client (it speaks the server role only;
//! [`frame::encode_frame_masked`] exists for tests and tools).
//!
//! # Example
//!
//! ```
//! use weir_ws::{handshake, Event, HandshakeConfig, Limits, Message, WsConn};
//!
//! // 1. Handshake: the HTTP layer parsed the request head.
//! let headers: [(&[u8], &[u8]); 5] = [
//!     (b"Host", b"example.com"), (b"Upgrade", b"websocket"), (b"Connection", b"Upgrade"),
//!     (b"Sec-WebSocket-Key", b"dGhlIHNhbXBsZSBub25jZQ=="), (b"Sec-WebSocket-Version", b"13"),
//! ];
//! let accepted = handshake::accept(b"GET", 1, headers, &HandshakeConfig::default()).unwrap();
//! let mut out = Vec::new();
//! accepted.write_response(&mut out); // "HTTP/1.1 101 Switching Protocols\r\n..."
//!
//! // 2. Frames: a masked "Hello" from the client (RFC 6455 §5.7), then a Ping.
//! let mut conn = WsConn::new(Limits::default(), accepted.deflate());
//! let mut buf = vec![0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
//!                    0x89, 0x80, 1, 2, 3, 4];
//! out.clear();
//! let used = conn.feed(&mut buf, |event, tx| match event {
//!     Event::Message(msg) => tx.encode_message(msg, &mut out).unwrap(), // echo
//!     Event::Ping(_) | Event::Pong(_) | Event::Close(_) => {}            // replies are automatic
//! }).unwrap();
//! assert_eq!(used, buf.len());
//! conn.take_pending(&mut out); // the automatic Pong
//! assert_eq!(out, [&[0x81, 5][..], b"Hello", &[0x8A, 0]].concat());
//! ```
//!
//! # How it works
//!
//! ```text
//!  request head ──> handshake::accept ──> Accepted ──write_response──> 101 head
//!                                            │ .deflate()
//!                                            v
//!  socket bytes ──> WsConn::feed(&mut buf) ──> frame::decode_head ──> mask::apply_mask (in place)
//!                        │                          │
//!                        │            whole unfragmented message in buf? ──yes──> Event (borrows buf)
//!                        │                          │ no
//!                        │                  Assembly buffer (+ utf8::Utf8Validator, deflate::Inflater)
//!                        │                          └── FIN ──> Event (borrows the buffer, then freed)
//!                        └── Ping/Close ──> Writer queues Pong / Close echo ──take_pending──> socket
//! ```
//!
//! - The decoder keeps only the position inside the current frame between
//!   calls; an incomplete frame head stays in the caller's buffer.
//! - Errors know their Close code ([`ProtocolError::close_code`]); the Close
//!   frame is queued for you. Handshake errors know their HTTP status
//!   ([`HandshakeError::status`]).
//! - Sending: [`Writer::message_header`] gives a head on the stack for a
//!   zero-copy `writev`; [`Writer::encode_message`] compresses when agreed;
//!   [`deflate::encode_message_once`] builds one frame for many subscribers.
//! - Memory: an idle [`WsConn`] owns no heap memory at all (with the default
//!   [`handshake::DeflateOptions`], which turn context takeover off).
//!
//! Conformance target: the Autobahn testsuite, server cases 1.* to 13.*.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod base64;
pub mod close;
mod conn;
pub mod deflate;
pub mod error;
mod extension;
pub mod frame;
pub mod handshake;
pub mod mask;
mod sha1;
mod utf8;
mod writer;

pub use close::CloseFrame;
pub use conn::{Event, Keepalive, Limits, Message, WsConn};
pub use deflate::{encode_message_once, DeflateConfig, Deflater, Inflater};
pub use error::{ProtocolError, SendError};
pub use frame::{encode_frame_header, FrameHeader, OpCode};
pub use handshake::{accept, Accepted, DeflateOptions, HandshakeConfig, HandshakeError};
pub use writer::Writer;
