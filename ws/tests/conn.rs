//! `WsConn` rules, each checked whole, byte by byte and split at every index.

mod common;

use common::*;
use weir_ws::{close::codes, Keepalive, Limits, Message, ProtocolError, SendError, WsConn};

fn lim() -> Limits {
    Limits::default()
}

fn cat(frames: &[Vec<u8>]) -> Vec<u8> {
    frames.concat()
}

fn close_frame(code: u16) -> Vec<u8> {
    let mut v = vec![0x88, 2];
    v.extend_from_slice(&code.to_be_bytes());
    v
}

#[test]
fn single_frames() {
    let o = all_splits(&raw(FIN | TEXT, b"Hello"), lim(), None);
    assert_eq!(o.events, [Ev::Text("Hello".into())]);
    assert_eq!((o.error, o.leftover, o.pending.len()), (None, 0, 0));
    let o = all_splits(&raw(FIN | BINARY, &[]), lim(), None);
    assert_eq!(o.events, [Ev::Binary(vec![])]);
    let big: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
    let o = all_splits(&raw(FIN | BINARY, &big), lim(), None);
    assert_eq!(o.events, [Ev::Binary(big)]);
}

#[test]
fn fragmented_with_interleaved_controls() {
    // Autobahn 5.x: fragments with Pings and Pongs between them.
    let wire = cat(&[
        raw(TEXT, "fragment1 κό".as_bytes()),
        raw(FIN | PING, b"ping!"),
        raw(CONT, &"σμε".as_bytes()[..3]), // code point split across frames
        raw(FIN | PONG, b"pong"),
        raw(CONT, &"σμε".as_bytes()[3..]),
        raw(FIN | CONT, b" end"),
    ]);
    let o = all_splits(&wire, lim(), None);
    assert_eq!(
        o.events,
        [Ev::Ping(b"ping!".to_vec()), Ev::Pong(b"pong".to_vec()), Ev::Text("fragment1 κόσμε end".into())]
    );
    assert_eq!(o.pending, [&[0x8A, 5][..], b"ping!"].concat(), "pong echoes the ping payload");
    assert_eq!(o.error, None);
}

#[test]
fn empty_fragments() {
    let wire = cat(&[raw(BINARY, b""), raw(CONT, b""), raw(FIN | CONT, b"")]);
    assert_eq!(all_splits(&wire, lim(), None).events, [Ev::Binary(vec![])]);
}

#[test]
fn framing_errors_fail_with_1002() {
    let cases: Vec<(&str, Vec<u8>, ProtocolError)> = vec![
        ("unmasked", raw_with(FIN | TEXT, b"hi", None), ProtocolError::UnmaskedFrame),
        ("rsv1 without extension", raw(FIN | RSV1 | TEXT, b"hi"), ProtocolError::ReservedBits),
        ("rsv2", raw(FIN | 0x20 | TEXT, b"hi"), ProtocolError::ReservedBits),
        ("rsv3", raw(FIN | 0x10 | BINARY, b"hi"), ProtocolError::ReservedBits),
        ("rsv on ping", raw(FIN | 0x70 | PING, b""), ProtocolError::ReservedBits),
        ("continuation first", raw(FIN | CONT, b"x"), ProtocolError::UnexpectedContinuation),
        (
            "new text inside fragmented",
            cat(&[raw(TEXT, b"a"), raw(FIN | TEXT, b"b")]),
            ProtocolError::ExpectedContinuation,
        ),
        (
            "new binary inside fragmented",
            cat(&[raw(BINARY, b"a"), raw(BINARY, b"b")]),
            ProtocolError::ExpectedContinuation,
        ),
        ("fragmented ping", raw(PING, b""), ProtocolError::FragmentedControlFrame),
        ("ping 126 bytes", raw(FIN | PING, &[0; 126]), ProtocolError::ControlFrameTooLong),
        ("close 1 byte", raw(FIN | CLOSE, &[3]), ProtocolError::CloseFrameTooShort),
        (
            "64-bit length msb",
            vec![0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4],
            ProtocolError::InvalidLength,
        ),
    ];
    let mut all = cases;
    for op in [3u8, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
        all.push(("reserved opcode", raw(FIN | op, b""), ProtocolError::ReservedOpcode));
    }
    for (name, wire, err) in all {
        let o = all_splits(&wire, lim(), None);
        assert_eq!(o.error, Some(err), "{name}");
        assert_eq!(err.close_code(), 1002, "{name}");
        assert_eq!(&o.pending[..4], &[0x88, o.pending[1], 0x03, 0xEA], "{name}: Close 1002 queued");
        assert!(o.closed, "{name}");
    }
}

#[test]
fn events_before_an_error_are_delivered() {
    let wire = cat(&[raw(FIN | TEXT, b"ok"), raw(FIN | PING, b"p"), raw(FIN | CONT, b"bad")]);
    let o = all_splits(&wire, lim(), None);
    assert_eq!(o.events, [Ev::Text("ok".into()), Ev::Ping(b"p".to_vec())]);
    assert_eq!(o.error, Some(ProtocolError::UnexpectedContinuation));
    // Pong first, then the Close.
    assert_eq!(&o.pending[..3], &[0x8A, 1, b'p']);
    assert_eq!(&o.pending[3..7], &[0x88, o.pending[4], 0x03, 0xEA]);
}

#[test]
fn invalid_utf8_fails_fast_with_1007() {
    // Autobahn 6.4.1: invalid sequence in the 2nd of 3 fragments: fail
    // before the 3rd fragment is even sent.
    let part1 = "κόσμε".as_bytes();
    let part2 = b"\xf4\x90\x80\x80"; // > U+10FFFF
    let wire = cat(&[raw(TEXT, part1), raw(CONT, part2)]);
    let o = all_splits(&wire, lim(), None);
    assert_eq!(o.error, Some(ProtocolError::InvalidUtf8));
    assert_eq!(&o.pending[2..4], &[0x03, 0xEF], "Close 1007");
    // Autobahn 6.4.3: one frame, the bad byte arrives before the frame ends.
    let frame = raw(FIN | TEXT, &[part1, &part2[..], b"edited"].concat());
    let bad_at = frame.len() - 6 - 2; // just past \xf4\x90
    let o = drive(&mut new_conn(lim(), None), [&frame[..bad_at]]);
    assert_eq!(o.error, Some(ProtocolError::InvalidUtf8), "failed before the frame completed");
    // Single-frame and truncated-at-end cases.
    for bad in [
        &b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited"[..],
        b"\xc0\xaf",
        b"abc\xce",
        b"\xff",
    ] {
        let o = all_splits(&raw(FIN | TEXT, bad), lim(), None);
        assert_eq!(o.error, Some(ProtocolError::InvalidUtf8), "{bad:x?}");
        let o = all_splits(&cat(&[raw(TEXT, b""), raw(FIN | CONT, bad)]), lim(), None);
        assert_eq!(o.error, Some(ProtocolError::InvalidUtf8), "{bad:x?}");
    }
    // Binary messages are not checked.
    assert_eq!(all_splits(&raw(FIN | BINARY, b"\xff"), lim(), None).error, None);
}

#[test]
fn close_handshake() {
    // Valid codes are echoed; the conn is then closed and ignores the rest.
    for code in
        [1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]
    {
        let wire =
            cat(&[raw(FIN | CLOSE, &[&code.to_be_bytes()[..], b"bye"].concat()), raw(FIN | TEXT, b"after")]);
        let o = all_splits(&wire, lim(), None);
        assert_eq!(o.events, [Ev::Close(Some(code), "bye".into())], "{code}");
        assert_eq!(o.pending, close_frame(code), "{code} echoed");
        assert!(o.closed && o.error.is_none());
    }
    // Empty close -> empty echo.
    let o = all_splits(&raw(FIN | CLOSE, b""), lim(), None);
    assert_eq!((o.events, o.pending), (vec![Ev::Close(None, String::new())], vec![0x88, 0]));
    // Autobahn 7.9.x invalid codes -> 1002.
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535] {
        let o = all_splits(&raw(FIN | CLOSE, &code.to_be_bytes()), lim(), None);
        assert_eq!(o.error, Some(ProtocolError::InvalidCloseCode), "{code}");
        assert_eq!(&o.pending[2..4], &[0x03, 0xEA]);
    }
    // Invalid UTF-8 reason -> 1007.
    let o = all_splits(&raw(FIN | CLOSE, b"\x03\xe8\xce\xba\xed\xa0\x80"), lim(), None);
    assert_eq!(o.error, Some(ProtocolError::InvalidUtf8));
    // A Close in the middle of a fragmented message is still a Close.
    let o = all_splits(&cat(&[raw(TEXT, b"frag"), raw(FIN | CLOSE, &1000u16.to_be_bytes())]), lim(), None);
    assert_eq!(o.events, [Ev::Close(Some(1000), String::new())]);
}

#[test]
fn server_initiated_close() {
    let mut conn = WsConn::new(lim(), None);
    conn.close(codes::GOING_AWAY, "shutdown").unwrap();
    assert!(conn.is_closing() && !conn.can_send() && !conn.is_closed());
    assert_eq!(conn.close(1000, ""), Err(SendError::Closed));
    let mut out = Vec::new();
    assert_eq!(conn.writer().encode_message(Message::Text("x"), &mut out), Err(SendError::Closed));
    // Data still arrives and is delivered; a Ping gets no Pong after our Close.
    let wire =
        cat(&[raw(FIN | TEXT, b"late"), raw(FIN | PING, b""), raw(FIN | CLOSE, &1001u16.to_be_bytes())]);
    let o = drive(&mut conn, [&wire[..]]);
    assert_eq!(o.events, [Ev::Text("late".into()), Ev::Ping(vec![]), Ev::Close(Some(1001), String::new())]);
    assert_eq!(&o.pending[..4], &[0x88, 10, 0x03, 0xE9], "only our own Close, no echo");
    assert_eq!(o.pending.len(), 12);
    assert!(conn.is_closed());
    assert_eq!(conn.writer().close(1005, ""), Err(SendError::InvalidCloseCode));
}

#[test]
fn limits_fail_with_1009() {
    let small = Limits::default().max_frame(100).max_message(150);
    let o = all_splits(&raw(FIN | BINARY, &[0; 100]), small, None);
    assert_eq!(o.error, None);
    let o = all_splits(&raw(FIN | BINARY, &[0; 101]), small, None);
    assert_eq!(o.error, Some(ProtocolError::FrameTooLarge));
    assert_eq!(&o.pending[2..4], &[0x03, 0xF1], "Close 1009");
    let o = all_splits(&cat(&[raw(TEXT, &[b'a'; 100]), raw(FIN | CONT, &[b'a'; 50])]), small, None);
    assert_eq!(o.events.len(), 1);
    let o = all_splits(&cat(&[raw(TEXT, &[b'a'; 100]), raw(FIN | CONT, &[b'a'; 51])]), small, None);
    assert_eq!(o.error, Some(ProtocolError::MessageTooLarge));
    // The length is checked from the head alone: no payload needed.
    let head = &raw(FIN | BINARY, &[0; 101])[..8];
    assert_eq!(drive(&mut new_conn(small, None), [head]).error, Some(ProtocolError::FrameTooLarge));
}

#[test]
fn feed_keeps_only_incomplete_heads_and_control_frames() {
    let big = vec![7u8; 70_000];
    let frame = raw(FIN | BINARY, &big);
    let mut conn = WsConn::new(lim(), None);
    // Partial head: nothing consumed.
    let mut part = frame[..5].to_vec();
    assert_eq!(conn.feed(&mut part, |_, _| panic!()).unwrap(), 0);
    // Head + some payload: everything consumed, message in progress.
    let mut part = frame[..1000].to_vec();
    assert_eq!(conn.feed(&mut part, |_, _| panic!()).unwrap(), 1000);
    assert!(conn.message_in_progress());
    let mut rest = frame[1000..].to_vec();
    let mut got = None;
    assert_eq!(conn.feed(&mut rest, |ev, _| got = Some(own(ev))).unwrap(), rest.len());
    assert_eq!(got, Some(Ev::Binary(big)));
    assert!(!conn.message_in_progress(), "assembly buffer released");
    // A partial control frame waits whole in the caller's buffer.
    let ping = raw(FIN | PING, &[1; 100]);
    let mut part = ping[..50].to_vec();
    assert_eq!(conn.feed(&mut part, |_, _| panic!()).unwrap(), 0);
}

#[test]
fn whole_messages_are_delivered_from_the_input_buffer() {
    let mut wire = raw(FIN | BINARY, b"zero copy");
    let range = wire.as_ptr_range();
    let mut conn = WsConn::new(lim(), None);
    conn.feed(&mut wire, |ev, _| {
        let weir_ws::Event::Message(Message::Binary(b)) = ev else { panic!() };
        assert!(range.contains(&b.as_ptr()), "payload borrowed from the input");
        assert_eq!(b, b"zero copy");
    })
    .unwrap();
    assert_eq!(&wire[wire.len() - 9..], b"zero copy", "unmasked in place");
}

#[test]
fn echo_from_the_callback() {
    let mut conn = WsConn::new(lim(), None);
    let mut out = Vec::new();
    let mut wire = cat(&[raw(FIN | TEXT, b"echo me"), raw(FIN | PING, b"")]);
    conn.feed(&mut wire, |ev, tx| {
        if let weir_ws::Event::Message(m) = ev {
            tx.encode_message(m, &mut out).unwrap();
        }
    })
    .unwrap();
    conn.take_pending(&mut out);
    assert_eq!(out, [&[0x81, 7][..], b"echo me", &[0x8A, 0]].concat());
    assert!(!conn.has_pending());
    let h = conn.writer().message_header(weir_ws::OpCode::Binary, 70_000).unwrap();
    assert_eq!(h.as_bytes(), [0x82, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
}

#[test]
fn keepalive() {
    let mut conn = WsConn::new(lim(), None);
    assert_eq!(conn.keepalive_tick(), Keepalive::PingQueued);
    let mut out = Vec::new();
    conn.take_pending(&mut out);
    assert_eq!(out, [0x89, 0]);
    assert_eq!(conn.keepalive_tick(), Keepalive::TimedOut);
    let mut conn = WsConn::new(lim(), None);
    assert_eq!(conn.keepalive_tick(), Keepalive::PingQueued);
    let mut pong = raw(FIN | PONG, b"");
    conn.feed(&mut pong, |_, _| {}).unwrap();
    assert_eq!(conn.keepalive_tick(), Keepalive::Active);
    assert_eq!(conn.keepalive_tick(), Keepalive::PingQueued);
}

#[test]
fn idle_connection_is_small_and_holds_no_heap() {
    let size = std::mem::size_of::<WsConn>();
    assert!(size <= 112, "WsConn is {size} bytes");
    let mut conn = WsConn::new(lim(), Some(deflate_cfg(true, true)));
    let mut d = weir_ws::Deflater::new(6, 15);
    let mut wire = raw(FIN | RSV1 | TEXT, &client_compress(&mut d, b"compressed hello"));
    conn.feed(&mut wire, |_, _| {}).unwrap();
    let mut out = Vec::new();
    conn.writer().encode_message(Message::Text(&"x".repeat(500)), &mut out).unwrap();
    assert!(!conn.message_in_progress());
    assert!(!conn.holds_zlib_state(), "no-context-takeover drops zlib state after each message");
}

#[test]
fn after_failure_input_is_ignored() {
    let mut conn = WsConn::new(lim(), None);
    let mut bad = raw(FIN | CONT, b"x");
    assert!(conn.feed(&mut bad, |_, _| {}).is_err());
    let mut more = raw(FIN | TEXT, b"ignored");
    let n = conn.feed(&mut more, |_, _| panic!("no events after failure")).unwrap();
    assert_eq!(n, more.len());
    assert!(conn.is_closed());
}
