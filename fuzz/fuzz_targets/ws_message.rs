//! Fuzz message assembly and incremental UTF-8 validation against a model.
//!
//! The input is read as a list of frame descriptions (flags byte, length
//! byte, payload), turned into valid *masked* frames (so the fuzzer does not
//! waste time on framing errors), fed to `WsConn` in chunks of a fuzzed size,
//! and compared with a straightforward model of RFC 6455 §5.4/§5.5/§8.1:
//! whole-buffer `std::str::from_utf8`, explicit fragmentation state.
//! Events up to the failure and the failure's close code must match.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_ws::frame::{encode_frame_masked, OpCode};
use weir_ws::{Event, Limits, Message, WsConn};

#[derive(Debug, PartialEq, Clone)]
enum Ev {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<u16>, String),
}

struct Frame {
    fin: bool,
    opcode: OpCode,
    payload: Vec<u8>,
}

fn parse_frames(mut data: &[u8]) -> Vec<Frame> {
    let mut frames = Vec::new();
    while data.len() >= 2 && frames.len() < 64 {
        let flags = data[0];
        let opcode = match flags % 6 {
            0 => OpCode::Continuation,
            1 => OpCode::Text,
            2 => OpCode::Binary,
            3 => OpCode::Ping,
            4 => OpCode::Pong,
            _ => OpCode::Close,
        };
        let fin = opcode as u8 >= 8 || flags & 0x80 != 0;
        let len = usize::from(data[1] % 126).min(data.len() - 2);
        frames.push(Frame { fin, opcode, payload: data[2..2 + len].to_vec() });
        data = &data[2 + len..];
    }
    frames
}

/// Close codes allowed on the wire (RFC 6455 §7.4, IANA registry).
fn valid_code(c: u16) -> bool {
    (1000..=1003).contains(&c) || (1007..=1014).contains(&c) || (3000..=4999).contains(&c)
}

/// The model: returns events and the close code of the failure, if any.
fn model(frames: &[Frame], max_message: usize) -> (Vec<Ev>, Option<u16>) {
    let mut evs = Vec::new();
    let mut open: Option<(bool, Vec<u8>)> = None;
    for f in frames {
        match f.opcode {
            OpCode::Ping => evs.push(Ev::Ping(f.payload.clone())),
            OpCode::Pong => evs.push(Ev::Pong(f.payload.clone())),
            OpCode::Close => {
                return match f.payload.as_slice() {
                    [] => {
                        evs.push(Ev::Close(None, String::new()));
                        (evs, None)
                    }
                    [_] => (evs, Some(1002)),
                    [a, b, reason @ ..] => {
                        let code = u16::from_be_bytes([*a, *b]);
                        if !valid_code(code) {
                            return (evs, Some(1002));
                        }
                        match std::str::from_utf8(reason) {
                            Ok(r) => {
                                evs.push(Ev::Close(Some(code), r.to_owned()));
                                (evs, None)
                            }
                            Err(_) => (evs, Some(1007)),
                        }
                    }
                };
            }
            OpCode::Continuation if open.is_none() => return (evs, Some(1002)),
            OpCode::Text | OpCode::Binary if open.is_some() => return (evs, Some(1002)),
            op => {
                let (text, buf) = open.get_or_insert_with(|| (op == OpCode::Text, Vec::new()));
                if buf.len() + f.payload.len() > max_message {
                    return (evs, Some(1009));
                }
                buf.extend_from_slice(&f.payload);
                if *text {
                    if let Err(e) = std::str::from_utf8(buf) {
                        if e.error_len().is_some() || f.fin {
                            return (evs, Some(1007));
                        }
                    }
                }
                if f.fin {
                    let (text, buf) = open.take().unwrap();
                    evs.push(if text { Ev::Text(String::from_utf8(buf).unwrap()) } else { Ev::Binary(buf) });
                }
            }
        }
    }
    (evs, None)
}

fuzz_target!(|data: &[u8]| {
    let Some((&step, rest)) = data.split_first() else { return };
    let frames = parse_frames(rest);
    let mut wire = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        let mask = [i as u8, 0x5a, step, 0xa5];
        encode_frame_masked(f.fin, f.opcode, false, &f.payload, mask, &mut wire);
    }
    let max_message = 300;
    let mut conn = WsConn::new(Limits::default().max_message(max_message), None);
    let mut evs = Vec::new();
    let mut code = None;
    let mut buf = Vec::new();
    for chunk in wire.chunks(usize::from(step) + 1) {
        buf.extend_from_slice(chunk);
        let r = conn.feed(&mut buf, |ev, _| {
            evs.push(match ev {
                Event::Message(Message::Text(s)) => Ev::Text(s.to_owned()),
                Event::Message(Message::Binary(b)) => Ev::Binary(b.to_vec()),
                Event::Ping(p) => Ev::Ping(p.to_vec()),
                Event::Pong(p) => Ev::Pong(p.to_vec()),
                Event::Close(c) => Ev::Close(c.code, c.reason.to_owned()),
            })
        });
        match r {
            Ok(n) => {
                buf.drain(..n);
            }
            Err(e) => {
                code = Some(e.close_code());
                break;
            }
        }
    }
    let (want_evs, want_code) = model(&frames, max_message);
    assert_eq!(evs, want_evs);
    assert_eq!(code, want_code);
    if code.is_none() && !conn.is_closed() {
        assert!(buf.is_empty(), "whole frames were given: nothing should remain");
    }
});
