//! Fuzz the WebSocket frame decoder through `WsConn::feed`.
//!
//! Input: 2 control bytes, then raw wire bytes (as a client would send).
//! Control byte 0 picks the read size (1..=16) used for the split run;
//! bit 0 of byte 1 turns permessage-deflate on (so RSV1 paths are reachable).
//!
//! Checks: no panic; decode_head never claims more bytes than it was given;
//! feeding whole and feeding in chunks give identical events, errors and
//! queued replies (the split-point invariant, on arbitrary bytes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_ws::frame::decode_head;
use weir_ws::{DeflateConfig, Event, Limits, Message, WsConn};

#[derive(Debug, PartialEq)]
struct Outcome {
    events: Vec<(u8, Vec<u8>)>,
    error: Option<weir_ws::ProtocolError>,
    pending: Vec<u8>,
}

fn run<'a>(deflate: Option<DeflateConfig>, chunks: impl Iterator<Item = &'a [u8]>) -> Outcome {
    let limits = Limits::default().max_frame(64 * 1024).max_message(128 * 1024).max_inflated(256 * 1024);
    let mut conn = WsConn::new(limits, deflate);
    let mut buf = Vec::new();
    let mut events = Vec::new();
    let mut error = None;
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        match conn.feed(&mut buf, |ev, _| {
            events.push(match ev {
                Event::Message(Message::Text(s)) => (0, s.as_bytes().to_vec()),
                Event::Message(Message::Binary(b)) => (1, b.to_vec()),
                Event::Ping(p) => (2, p.to_vec()),
                Event::Pong(p) => (3, p.to_vec()),
                Event::Close(c) => {
                    (4, [&c.code.unwrap_or(0).to_be_bytes()[..], c.reason.as_bytes()].concat())
                }
            })
        }) {
            Ok(n) => {
                assert!(n <= buf.len());
                buf.drain(..n);
                // Only an incomplete head or control frame may stay behind.
                assert!(buf.len() <= 14 + 125, "kept {} bytes", buf.len());
            }
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    let mut pending = Vec::new();
    conn.take_pending(&mut pending);
    Outcome { events, error, pending }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (ctl, wire) = data.split_at(2);
    if let Ok(Some((_, n))) = decode_head(wire) {
        assert!(n <= wire.len() && n <= 14);
    }
    let step = usize::from(ctl[0] % 16) + 1;
    let deflate = (ctl[1] & 1 != 0).then_some(DeflateConfig {
        server_no_context_takeover: true,
        client_no_context_takeover: ctl[1] & 2 != 0,
        server_max_window_bits: None,
        client_max_window_bits: None,
        local_max_window_bits: 15,
        threshold: 0,
        level: 1,
    });
    let whole = run(deflate, std::iter::once(wire));
    let split = run(deflate, wire.chunks(step));
    assert_eq!(whole, split);
});
