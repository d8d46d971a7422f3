//! Shared helpers: a test client that builds masked frames (valid or not),
//! and a driver that feeds a `WsConn` in arbitrary splits like a server would.
#![allow(dead_code)]
// Test code: a failed unwrap is a failed test (the workspace denies unwrap in library code).
#![allow(clippy::unwrap_used)]

use weir_ws::{DeflateConfig, Event, Limits, Message, ProtocolError, WsConn};

pub const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A masked frame with first byte `b0` (FIN, RSV, opcode bits as given).
pub fn raw(b0: u8, payload: &[u8]) -> Vec<u8> {
    raw_with(b0, payload, Some(KEY))
}

/// A frame with explicit mask (None = unmasked).
pub fn raw_with(b0: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = vec![b0];
    let m = if mask.is_some() { 0x80 } else { 0 };
    let n = payload.len();
    if n < 126 {
        out.push(m | n as u8);
    } else if n <= 0xFFFF {
        out.push(m | 126);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(m | 127);
        out.extend_from_slice(&(n as u64).to_be_bytes());
    }
    let start = out.len();
    if let Some(k) = mask {
        out.extend_from_slice(&k);
    }
    let pstart = out.len();
    out.extend_from_slice(payload);
    if let Some(k) = mask {
        weir_ws::mask::apply_mask_reference(&mut out[pstart..], k, 0);
    }
    let _ = start;
    out
}

pub const FIN: u8 = 0x80;
pub const RSV1: u8 = 0x40;
pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
pub const CONT: u8 = 0x0;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xA;

/// An owned copy of an event, for comparing runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ev {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<u16>, String),
}

pub fn own(ev: Event<'_>) -> Ev {
    match ev {
        Event::Message(Message::Text(s)) => Ev::Text(s.to_owned()),
        Event::Message(Message::Binary(b)) => Ev::Binary(b.to_vec()),
        Event::Ping(p) => Ev::Ping(p.to_vec()),
        Event::Pong(p) => Ev::Pong(p.to_vec()),
        Event::Close(c) => Ev::Close(c.code, c.reason.to_owned()),
    }
}

/// Everything observable after a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub events: Vec<Ev>,
    pub error: Option<ProtocolError>,
    /// Bytes the connection queued for the peer (Pongs, Close).
    pub pending: Vec<u8>,
    pub closed: bool,
    /// Bytes left unconsumed in the caller's buffer at the end (0 after an error).
    pub leftover: usize,
}

/// Feeds `chunks` one after another like a server: append to the buffer,
/// feed, drop the consumed prefix.
pub fn drive<'a>(conn: &mut WsConn, chunks: impl IntoIterator<Item = &'a [u8]>) -> Outcome {
    let mut buf = Vec::new();
    let mut events = Vec::new();
    let mut error = None;
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        match conn.feed(&mut buf, |ev, _| events.push(own(ev))) {
            Ok(n) => {
                assert!(n <= buf.len());
                buf.drain(..n);
            }
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    let mut pending = Vec::new();
    conn.take_pending(&mut pending);
    // After an error the server drops its buffer: leftover is meaningless.
    let leftover = if error.is_some() { 0 } else { buf.len() };
    Outcome { events, error, pending, closed: conn.is_closed(), leftover }
}

pub fn new_conn(limits: Limits, deflate: Option<DeflateConfig>) -> WsConn {
    WsConn::new(limits, deflate)
}

/// Runs `wire` whole, byte by byte, and split at every index; asserts all
/// runs agree and returns the outcome.
pub fn all_splits(wire: &[u8], limits: Limits, deflate: Option<DeflateConfig>) -> Outcome {
    let whole = drive(&mut new_conn(limits, deflate), [wire]);
    let bytewise = drive(&mut new_conn(limits, deflate), wire.chunks(1));
    assert_eq!(bytewise, whole, "byte-by-byte differs from whole");
    for i in 0..=wire.len() {
        let two = drive(&mut new_conn(limits, deflate), [&wire[..i], &wire[i..]]);
        assert_eq!(two, whole, "split at {i} differs from whole");
    }
    whole
}

/// The negotiated config for "permessage-deflate" offered bare, with the
/// given context-takeover choices.
pub fn deflate_cfg(server_nct: bool, client_nct: bool) -> DeflateConfig {
    DeflateConfig {
        server_no_context_takeover: server_nct,
        client_no_context_takeover: client_nct,
        server_max_window_bits: None,
        client_max_window_bits: None,
        local_max_window_bits: 15,
        threshold: 0,
        level: 6,
    }
}

/// Compresses `msg` as a client would (raw deflate, sync flush, tail removed).
pub fn client_compress(d: &mut weir_ws::Deflater, msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    d.compress(msg, &mut out).unwrap();
    out
}
