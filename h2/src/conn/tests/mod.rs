//! The connection state machine, table-driven: each case is frames sent
//! after the handshake, and the answer RFC 9113 requires (a GOAWAY code,
//! an RST_STREAM code, or nothing). Then flow control, shutdown, the
//! budget against each attack family, and split-point feeding.

use proptest::prelude::*;

use super::*;
use crate::frame::flag;
use crate::hpack::{Encoder, IndexMode};

/// What came out of the connection, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Request(u32, bool),
    Data(u32, Vec<u8>, bool),
    Reset(u32, ErrorCode),
    Window,
    GoAway(u32, ErrorCode),
    Closed(ErrorCode),
}

fn own(e: Event<'_>) -> Ev {
    match e {
        Event::Request { stream, end_stream, .. } => Ev::Request(stream, end_stream),
        Event::Data { stream, data, end_stream } => Ev::Data(stream, data.to_vec(), end_stream),
        Event::Reset { stream, code } => Ev::Reset(stream, code),
        Event::WindowOpened => Ev::Window,
        Event::GoAway { last_stream, code } => Ev::GoAway(last_stream, code),
        Event::Closed { code } => Ev::Closed(code),
    }
}

/// A frame the server wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Out {
    kind: u8,
    flags: u8,
    stream: u32,
    payload: Vec<u8>,
}

impl Out {
    fn code(&self) -> u32 {
        let at = if self.kind == kind::GOAWAY { 4 } else { 0 };
        u32::from_be_bytes(self.payload[at..at + 4].try_into().expect("4 bytes"))
    }
}

fn parse_out(mut b: &[u8]) -> Vec<Out> {
    let mut v = Vec::new();
    while let Some(h) = FrameHeader::parse(b) {
        let end = FRAME_HEADER_LEN + h.len as usize;
        v.push(Out {
            kind: h.kind,
            flags: h.flags,
            stream: h.stream,
            payload: b[FRAME_HEADER_LEN..end].to_vec(),
        });
        b = &b[end..];
    }
    v
}

struct Peer {
    conn: Connection,
    enc: Encoder,
    events: Vec<Ev>,
    /// Bytes consumed and not yet given back, per stream (auto-released unless `hold`).
    hold: bool,
}

impl Peer {
    fn new(cfg: Config) -> Peer {
        let mut p = Peer {
            conn: Connection::new(cfg),
            enc: Encoder::new(IndexMode::Stateless),
            events: Vec::new(),
            hold: false,
        };
        let mut hello = frame::PREFACE.to_vec();
        frame::encode_settings(&mut hello, &[]);
        p.feed(&hello);
        p.out();
        p.events.clear();
        p
    }

    fn feed(&mut self, mut b: &[u8]) {
        loop {
            let (n, ev) = self.conn.recv(b);
            if let Some(ev) = ev {
                if let Event::Data { stream, data, .. } = &ev {
                    if !self.hold {
                        self.conn.release(*stream, data.len());
                    }
                }
                self.events.push(own(ev));
            }
            if n == 0 {
                break;
            }
            b = &b[n..];
        }
        assert!(b.len() < FRAME_HEADER_LEN + 16_384 || self.conn.is_done(), "the rest is a partial frame");
    }

    fn out(&mut self) -> Vec<Out> {
        parse_out(&self.conn.take_output())
    }

    fn block(&mut self, fields: &[(&str, &str)]) -> Vec<u8> {
        let mut b = Vec::new();
        self.enc.begin(&mut b);
        for (n, v) in fields {
            self.enc.encode_field(n.as_bytes(), v.as_bytes(), &mut b);
        }
        b
    }
}

const GET: &[(&str, &str)] = &[(":method", "GET"), (":scheme", "https"), (":path", "/"), (":authority", "a")];
const POST: &[(&str, &str)] =
    &[(":method", "POST"), (":scheme", "https"), (":path", "/"), (":authority", "a")];

fn raw(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    FrameHeader { len: payload.len() as u32, kind, flags, stream }.encode(&mut v);
    v.extend_from_slice(payload);
    v
}

fn headers(p: &mut Peer, stream: u32, fields: &[(&str, &str)], flags: u8) -> Vec<u8> {
    let b = p.block(fields);
    raw(kind::HEADERS, flags, stream, &b)
}

/// The frames of one case, built with the peer's encoder.
type Build = fn(&mut Peer) -> Vec<u8>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    GoAway(ErrorCode),
    Rst(u32, ErrorCode),
    Nothing,
}

fn check(name: &str, build: Build, want: Want) {
    let mut p = Peer::new(Config::default());
    let bytes = build(&mut p);
    p.feed(&bytes);
    let out = p.out();
    let goaway = out.iter().find(|f| f.kind == kind::GOAWAY);
    let rst = out.iter().find(|f| f.kind == kind::RST_STREAM && f.code() != 0);
    match want {
        Want::GoAway(code) => {
            let g = goaway.unwrap_or_else(|| panic!("{name}: no GOAWAY in {out:?}"));
            assert_eq!(ErrorCode::from_u32(g.code()), code, "{name}");
            assert!(p.conn.is_done(), "{name}");
        }
        Want::Rst(id, code) => {
            assert!(goaway.is_none(), "{name}: unexpected GOAWAY {out:?}");
            let r = rst.unwrap_or_else(|| panic!("{name}: no RST_STREAM in {out:?}"));
            assert_eq!((r.stream, ErrorCode::from_u32(r.code())), (id, code), "{name}");
        }
        Want::Nothing => {
            assert!(goaway.is_none() && rst.is_none(), "{name}: {out:?}");
        }
    }
}

const END: u8 = flag::END_STREAM | flag::END_HEADERS;
const EH: u8 = flag::END_HEADERS;

#[test]
fn rules_and_error_codes() {
    use ErrorCode::*;
    let cases: Vec<(&str, Build, Want)> = vec![
        // §5.1 stream states.
        ("DATA on idle", |_| raw(kind::DATA, 0, 1, b"x"), Want::GoAway(ProtocolError)),
        ("RST_STREAM on idle", |_| raw(kind::RST_STREAM, 0, 1, &[0; 4]), Want::GoAway(ProtocolError)),
        (
            "WINDOW_UPDATE on idle",
            |_| raw(kind::WINDOW_UPDATE, 0, 1, &[0, 0, 0, 1]),
            Want::GoAway(ProtocolError),
        ),
        ("CONTINUATION on idle", |_| raw(kind::CONTINUATION, EH, 1, &[]), Want::GoAway(ProtocolError)),
        (
            "DATA on half-closed (remote)",
            |p| {
                let mut v = headers(p, 1, GET, END);
                v.extend(raw(kind::DATA, 0, 1, b"x"));
                v
            },
            Want::Rst(1, StreamClosed),
        ),
        (
            "HEADERS on half-closed (remote)",
            |p| {
                let mut v = headers(p, 1, GET, END);
                v.extend(headers(p, 1, GET, END));
                v
            },
            Want::Rst(1, StreamClosed),
        ),
        (
            "DATA after the peer's RST_STREAM",
            |p| {
                let mut v = headers(p, 1, POST, EH);
                v.extend(raw(kind::RST_STREAM, 0, 1, &[0, 0, 0, 8]));
                v.extend(raw(kind::DATA, 0, 1, b"x"));
                v
            },
            Want::GoAway(StreamClosed),
        ),
        (
            "HEADERS after the peer's RST_STREAM",
            |p| {
                let mut v = headers(p, 1, POST, EH);
                v.extend(raw(kind::RST_STREAM, 0, 1, &[0, 0, 0, 8]));
                v.extend(headers(p, 1, GET, END));
                v
            },
            Want::GoAway(StreamClosed),
        ),
        // §5.1.1 identifiers.
        ("even stream id", |p| headers(p, 2, GET, END), Want::GoAway(ProtocolError)),
        (
            "smaller stream id",
            |p| {
                let mut v = headers(p, 5, GET, END);
                v.extend(headers(p, 3, GET, END));
                v
            },
            Want::GoAway(ProtocolError),
        ),
        // §5.3.1
        (
            "HEADERS depending on itself",
            |p| {
                let b = p.block(GET);
                let mut pl = vec![0, 0, 0, 1, 15];
                pl.extend(b);
                raw(kind::HEADERS, END | flag::PRIORITY, 1, &pl)
            },
            Want::Rst(1, ProtocolError),
        ),
        (
            "PRIORITY depending on itself",
            |_| raw(kind::PRIORITY, 0, 1, &[0, 0, 0, 1, 15]),
            Want::Rst(1, ProtocolError),
        ),
        (
            "PRIORITY of a wrong size",
            |_| raw(kind::PRIORITY, 0, 1, &[0, 0, 0, 3]),
            Want::Rst(1, FrameSizeError),
        ),
        // §4.2, §4.3, §5.5
        (
            "frame over SETTINGS_MAX_FRAME_SIZE",
            |_| raw(kind::DATA, 0, 1, &[0; 16_385]),
            Want::GoAway(FrameSizeError),
        ),
        ("unknown frame type", |_| raw(0x77, 0xff, 0, b"ext"), Want::Nothing),
        (
            "unknown frame inside a header block",
            |p| {
                let b = p.block(GET);
                let mut v = raw(kind::HEADERS, flag::END_STREAM, 1, &b);
                v.extend(raw(0x77, 0, 0, b""));
                v
            },
            Want::GoAway(ProtocolError),
        ),
        ("bad header block", |_| raw(kind::HEADERS, END, 1, &[0x80]), Want::GoAway(CompressionError)),
        // §6.1, §6.2, §6.10
        (
            "DATA with too much padding",
            |p| {
                let mut v = headers(p, 1, POST, EH);
                v.extend(raw(kind::DATA, flag::PADDED, 1, &[5, 0, 0]));
                v
            },
            Want::GoAway(ProtocolError),
        ),
        (
            "HEADERS then DATA before CONTINUATION",
            |p| {
                let b = p.block(POST);
                let mut v = raw(kind::HEADERS, 0, 1, &b);
                v.extend(raw(kind::DATA, 0, 1, b"x"));
                v
            },
            Want::GoAway(ProtocolError),
        ),
        (
            "CONTINUATION on another stream",
            |p| {
                let b = p.block(GET);
                let mut v = raw(kind::HEADERS, flag::END_STREAM, 1, &b[..2]);
                v.extend(raw(kind::CONTINUATION, EH, 3, &b[2..]));
                v
            },
            Want::GoAway(ProtocolError),
        ),
        (
            "CONTINUATION after END_HEADERS",
            |p| {
                let mut v = headers(p, 1, GET, END);
                v.extend(raw(kind::CONTINUATION, EH, 1, &[]));
                v
            },
            Want::GoAway(ProtocolError),
        ),
        (
            "CONTINUATION completes a block",
            |p| {
                let b = p.block(GET);
                let mut v = raw(kind::HEADERS, flag::END_STREAM, 1, &b[..1]);
                v.extend(raw(kind::CONTINUATION, 0, 1, &b[1..2]));
                v.extend(raw(kind::CONTINUATION, EH, 1, &b[2..]));
                v
            },
            Want::Nothing,
        ),
        // §6.5 SETTINGS
        ("ENABLE_PUSH of 2", |_| raw(kind::SETTINGS, 0, 0, &[0, 2, 0, 0, 0, 2]), Want::GoAway(ProtocolError)),
        (
            "INITIAL_WINDOW_SIZE over 2^31-1",
            |_| raw(kind::SETTINGS, 0, 0, &[0, 4, 0x80, 0, 0, 0]),
            Want::GoAway(FlowControlError),
        ),
        (
            "MAX_FRAME_SIZE too small",
            |_| raw(kind::SETTINGS, 0, 0, &[0, 5, 0, 0, 0x3f, 0xff]),
            Want::GoAway(ProtocolError),
        ),
        (
            "MAX_FRAME_SIZE too large",
            |_| raw(kind::SETTINGS, 0, 0, &[0, 5, 1, 0, 0, 0]),
            Want::GoAway(ProtocolError),
        ),
        ("unknown setting", |_| raw(kind::SETTINGS, 0, 0, &[0, 0x77, 0, 0, 0, 1]), Want::Nothing),
        // §6.6, §6.7, §6.8
        (
            "PUSH_PROMISE from a client",
            |_| raw(kind::PUSH_PROMISE, EH, 1, &[0, 0, 0, 2]),
            Want::GoAway(ProtocolError),
        ),
        ("GOAWAY is heard", |_| raw(kind::GOAWAY, 0, 0, &[0; 8]), Want::Nothing),
        // §6.9 WINDOW_UPDATE
        (
            "WINDOW_UPDATE of 0 on the connection",
            |_| raw(kind::WINDOW_UPDATE, 0, 0, &[0; 4]),
            Want::GoAway(ProtocolError),
        ),
        (
            "WINDOW_UPDATE of 0 on a stream",
            |p| {
                let mut v = headers(p, 1, GET, END);
                v.extend(raw(kind::WINDOW_UPDATE, 0, 1, &[0; 4]));
                v
            },
            Want::Rst(1, ProtocolError),
        ),
        (
            "connection window over 2^31-1",
            |_| raw(kind::WINDOW_UPDATE, 0, 0, &[0x7f, 0xff, 0xff, 0xff]),
            Want::GoAway(FlowControlError),
        ),
        (
            "stream window over 2^31-1",
            |p| {
                let mut v = headers(p, 1, GET, END);
                v.extend(raw(kind::WINDOW_UPDATE, 0, 1, &[0x7f, 0xff, 0xff, 0xff]));
                v
            },
            Want::Rst(1, FlowControlError),
        ),
        (
            "DATA over the stream window",
            |p| {
                let mut v = headers(p, 1, POST, EH);
                for _ in 0..4 {
                    v.extend(raw(kind::DATA, 0, 1, &[0; 16_384]));
                }
                v.extend(raw(kind::DATA, 0, 1, &[0; 16]));
                v
            },
            Want::Nothing,
        ), // released as consumed, so the window reopens
        // §8.1, §8.2, §8.3 malformed requests
        (
            "second HEADERS without END_STREAM",
            |p| {
                let mut v = headers(p, 1, POST, EH);
                v.extend(headers(p, 1, &[("x", "y")], EH));
                v
            },
            Want::Rst(1, ProtocolError),
        ),
        (
            "trailers with a pseudo-header",
            |p| {
                let mut v = headers(p, 1, POST, EH);
                v.extend(headers(p, 1, &[(":path", "/")], END));
                v
            },
            Want::Rst(1, ProtocolError),
        ),
        (
            "trailers end the stream",
            |p| {
                let mut v = headers(p, 1, POST, EH);
                v.extend(headers(p, 1, &[("x-sum", "1")], END));
                v
            },
            Want::Nothing,
        ),
        (
            "uppercase field name",
            |p| headers(p, 1, &[GET[0], GET[1], GET[2], ("X-Up", "1")], END),
            Want::Rst(1, ProtocolError),
        ),
        (
            "unknown pseudo-header",
            |p| headers(p, 1, &[GET[0], GET[1], GET[2], (":foo", "1")], END),
            Want::Rst(1, ProtocolError),
        ),
        (
            "pseudo-header after a regular field",
            |p| headers(p, 1, &[GET[0], GET[1], ("x", "1"), GET[2]], END),
            Want::Rst(1, ProtocolError),
        ),
        (
            "duplicate :path",
            |p| headers(p, 1, &[GET[0], GET[1], GET[2], GET[2]], END),
            Want::Rst(1, ProtocolError),
        ),
        ("missing :method", |p| headers(p, 1, &[GET[1], GET[2]], END), Want::Rst(1, ProtocolError)),
        (
            "empty :path",
            |p| headers(p, 1, &[GET[0], GET[1], (":path", "")], END),
            Want::Rst(1, ProtocolError),
        ),
        (
            "connection header",
            |p| headers(p, 1, &[GET[0], GET[1], GET[2], ("connection", "close")], END),
            Want::Rst(1, ProtocolError),
        ),
        (
            "te: gzip",
            |p| headers(p, 1, &[GET[0], GET[1], GET[2], ("te", "gzip")], END),
            Want::Rst(1, ProtocolError),
        ),
        (
            "te: trailers",
            |p| headers(p, 1, &[GET[0], GET[1], GET[2], ("te", "trailers")], END),
            Want::Nothing,
        ),
        (
            "value with a line feed",
            |p| headers(p, 1, &[GET[0], GET[1], GET[2], ("x", "a\nb")], END),
            Want::Rst(1, ProtocolError),
        ),
        (
            "content-length above the DATA",
            |p| {
                let mut v = headers(p, 1, &[POST[0], POST[1], POST[2], ("content-length", "5")], EH);
                v.extend(raw(kind::DATA, flag::END_STREAM, 1, b"abc"));
                v
            },
            Want::Rst(1, ProtocolError),
        ),
        (
            "content-length below the DATA",
            |p| {
                let mut v = headers(p, 1, &[POST[0], POST[1], POST[2], ("content-length", "1")], EH);
                v.extend(raw(kind::DATA, 0, 1, b"ab"));
                v
            },
            Want::Rst(1, ProtocolError),
        ),
        (
            "content-length matches",
            |p| {
                let mut v = headers(p, 1, &[POST[0], POST[1], POST[2], ("content-length", "3")], EH);
                v.extend(raw(kind::DATA, 0, 1, b"ab"));
                v.extend(raw(kind::DATA, flag::END_STREAM, 1, b"c"));
                v
            },
            Want::Nothing,
        ),
        // §5.1.2
        (
            "more streams than allowed",
            |p| {
                let mut v = Vec::new();
                for i in 0..129 {
                    v.extend(headers(p, 1 + 2 * i, POST, EH));
                }
                v
            },
            Want::Rst(257, RefusedStream),
        ),
    ];
    for (name, build, want) in cases {
        check(name, build, want);
    }
}

#[test]
fn the_first_frame_must_be_settings_and_the_preface_exact() {
    let mut c = Connection::new(Config::default());
    let (n, ev) = c.recv(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    assert_eq!((n, ev.is_none()), (24, true));
    let ping = raw(kind::PING, 0, 0, &[0; 8]);
    let (_, ev) = c.recv(&ping);
    assert!(matches!(ev, Some(Event::Closed { code: ErrorCode::ProtocolError })));
    let mut c = Connection::new(Config::default());
    let (_, ev) = c.recv(b"GET / HTTP/1.1\r\n");
    assert!(matches!(ev, Some(Event::Closed { code: ErrorCode::ProtocolError })));
    // A partial preface waits.
    let mut c = Connection::new(Config::default());
    assert_eq!(c.recv(b"PRI * HT").0, 8);
    assert_eq!(c.recv(b"").0, 0);
}

#[test]
fn settings_and_ping_are_acknowledged() {
    let mut p = Peer::new(Config::default());
    p.feed(&raw(kind::SETTINGS, 0, 0, &[0, 3, 0, 0, 0, 9]));
    p.feed(&raw(kind::PING, 0, 0, b"12345678"));
    p.feed(&raw(kind::PING, flag::ACK, 0, b"87654321"));
    let out = p.out();
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!((out[0].kind, out[0].flags, out[0].payload.len()), (kind::SETTINGS, flag::ACK, 0));
    assert_eq!((out[1].kind, out[1].flags, &out[1].payload[..]), (kind::PING, flag::ACK, &b"12345678"[..]));
    assert_eq!(p.conn.peer_max_concurrent_streams(), 9);
}

fn respond(p: &mut Peer, id: u32, body: &[u8]) -> usize {
    assert!(p.conn.send_response(id, 200, std::iter::empty(), false));
    p.conn.send_data(id, body, true)
}

#[test]
fn send_windows_limit_data_and_settings_move_them() {
    let mut p = Peer::new(Config::default());
    // The peer's stream window: 3 bytes.
    p.feed(&raw(kind::SETTINGS, 0, 0, &[0, 4, 0, 0, 0, 3]));
    let h = headers(&mut p, 1, GET, END);
    p.feed(&h);
    assert_eq!(respond(&mut p, 1, b"hello"), 3);
    assert_eq!(p.conn.send_capacity(1), 0);
    p.out();
    // §6.9.2: a smaller initial window makes the stream's window negative.
    p.feed(&raw(kind::SETTINGS, 0, 0, &[0, 4, 0, 0, 0, 1]));
    assert_eq!(p.conn.send_capacity(1), 0);
    p.feed(&raw(kind::SETTINGS, 0, 0, &[0, 4, 0, 0, 0, 5]));
    assert_eq!(p.events.last(), Some(&Ev::Window));
    assert_eq!(p.conn.send_capacity(1), 2);
    assert_eq!(p.conn.send_data(1, b"lo", true), 2);
    let out = p.out();
    let data: Vec<_> = out.iter().filter(|f| f.kind == kind::DATA).collect();
    assert_eq!(data.len(), 1);
    assert_eq!((&data[0].payload[..], data[0].flags), (&b"lo"[..], flag::END_STREAM));
    assert_eq!(p.conn.active_streams(), 0);
    // The connection window: 65,535 to start with, shared by all streams.
    let mut p = Peer::new(Config::default());
    p.feed(&raw(kind::SETTINGS, 0, 0, &[0, 4, 0, 2, 0, 0]));
    let h = headers(&mut p, 1, GET, END);
    p.feed(&h);
    assert_eq!(respond(&mut p, 1, &[0; 70_000]), 65_535);
    p.feed(&raw(kind::WINDOW_UPDATE, 0, 0, &[0, 0, 0x20, 0]));
    assert_eq!(p.conn.send_capacity(1), 0x2000);
}

#[test]
fn window_updates_follow_what_the_application_consumed() {
    let mut p = Peer::new(Config { connection_window: 65_535, ..Config::default() });
    p.hold = true;
    let h = headers(&mut p, 1, POST, EH);
    p.feed(&h);
    for _ in 0..3 {
        p.feed(&raw(kind::DATA, 0, 1, &[7; 16_384]));
    }
    // Not consumed: no WINDOW_UPDATE; the peer may send 16,383 more, no more.
    assert!(p.out().iter().all(|f| f.kind != kind::WINDOW_UPDATE));
    p.feed(&raw(kind::DATA, 0, 1, &[7; 16_383]));
    p.feed(&raw(kind::DATA, 0, 1, &[7; 1]));
    assert!(p.conn.is_done(), "over the connection window");
    assert_eq!(p.events.last(), Some(&Ev::Closed(ErrorCode::FlowControlError)));
    // Consumed: the windows reopen.
    let mut p = Peer::new(Config { connection_window: 65_535, ..Config::default() });
    p.hold = true;
    let h = headers(&mut p, 1, POST, EH);
    p.feed(&h);
    p.feed(&raw(kind::DATA, 0, 1, &[7; 16_384]));
    p.feed(&raw(kind::DATA, 0, 1, &[7; 16_384]));
    p.conn.release(1, 32_768);
    let wu: Vec<(u32, u32)> =
        p.out().iter().filter(|f| f.kind == kind::WINDOW_UPDATE).map(|f| (f.stream, f.code())).collect();
    assert_eq!(wu, [(0, 32_768), (1, 32_768)]);
    // Padding is released at once, without the application.
    let mut p = Peer::new(Config::default());
    p.hold = true;
    let h = headers(&mut p, 1, POST, EH);
    p.feed(&h);
    let mut pad = vec![255u8];
    pad.extend([0; 255 + 10]);
    for _ in 0..200 {
        p.feed(&raw(kind::DATA, flag::PADDED, 1, &pad));
    }
    assert!(p.out().iter().any(|f| f.kind == kind::WINDOW_UPDATE && f.stream == 1));
}

#[test]
fn graceful_shutdown_has_two_phases() {
    let mut p = Peer::new(Config::default());
    let h = headers(&mut p, 1, POST, EH);
    p.feed(&h);
    p.conn.shutdown();
    let out = p.out();
    assert_eq!(
        (out[0].kind, out[0].code(), out[0].payload[..4].to_vec()),
        (kind::GOAWAY, 0, vec![0x7f, 0xff, 0xff, 0xff])
    );
    assert_eq!(out[1].kind, kind::PING);
    // Streams opened before the ACK are still served.
    let h = headers(&mut p, 3, GET, END);
    p.feed(&h);
    p.feed(&raw(kind::PING, flag::ACK, 0, &out[1].payload));
    let out = p.out();
    assert_eq!(
        (out[0].kind, u32::from_be_bytes(out[0].payload[..4].try_into().expect("4"))),
        (kind::GOAWAY, 3)
    );
    // Streams after the final GOAWAY are ignored; open ones finish.
    let h = headers(&mut p, 5, GET, END);
    p.feed(&h);
    assert_eq!(p.events.iter().filter(|e| matches!(e, Ev::Request(..))).count(), 2);
    assert!(!p.conn.is_done());
    respond(&mut p, 3, b"x");
    p.feed(&raw(kind::DATA, flag::END_STREAM, 1, b""));
    respond(&mut p, 1, b"y");
    assert!(p.conn.is_done());
}

#[test]
fn oversized_header_lists_are_answered_431_and_the_table_stays_in_step() {
    let mut p = Peer::new(Config { max_header_list_size: 200, ..Config::default() });
    let big = "v".repeat(300);
    let h = headers(&mut p, 1, &[GET[0], GET[1], GET[2], ("x", &big)], END);
    p.feed(&h);
    let out = p.out();
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!((out[0].kind, out[0].flags & flag::END_STREAM), (kind::HEADERS, flag::END_STREAM));
    let mut list = HeaderList::new();
    let limits = DecodeLimits { max_list_size: 1000, max_fields: 10 };
    Decoder::new(4096).decode(&out[0].payload, limits, &mut list).expect("decodes");
    assert_eq!(list.get(0), Some((&b":status"[..], &b"431"[..])));
    let h = headers(&mut p, 3, GET, END);
    p.feed(&h);
    assert_eq!(p.events, [Ev::Request(3, true)]);
}

mod attacks;
mod splits;
