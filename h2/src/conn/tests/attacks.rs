//! One test per attack family: each must end in GOAWAY ENHANCE_YOUR_CALM
//! (or its own bound) within a fixed amount of the attacker's input.

use super::*;

/// Feeds `unit` until the connection ends; returns how many units it took.
fn until_calm(p: &mut Peer, mut unit: impl FnMut(&mut Peer, u32) -> Vec<u8>, max: u32) -> u32 {
    for i in 0..max {
        let b = unit(p, i);
        p.feed(&b);
        if p.conn.is_done() {
            let out = p.out();
            let g = out.iter().rev().find(|f| f.kind == kind::GOAWAY).expect("GOAWAY");
            assert_eq!(ErrorCode::from_u32(g.code()), ErrorCode::EnhanceYourCalm);
            return i + 1;
        }
        p.out();
    }
    panic!("still open after {max} units");
}

#[test]
fn rapid_reset_is_bounded() {
    let mut p = Peer::new(Config::default());
    let n = until_calm(
        &mut p,
        |p, i| {
            let mut v = headers(p, 1 + 2 * i, GET, END);
            v.extend(raw(kind::RST_STREAM, 0, 1 + 2 * i, &[0, 0, 0, 8]));
            v
        },
        10_000,
    );
    assert!(n <= 257, "{n} resets before GOAWAY");
    assert_eq!(p.conn.budget().count(Cost::PeerReset), u64::from(n));
    assert_eq!(p.events.iter().filter(|e| matches!(e, Ev::Request(..))).count() as u32, n);
}

#[test]
fn made_you_reset_is_bounded() {
    // Each stream is opened, then made to fail (WINDOW_UPDATE overflow).
    let mut p = Peer::new(Config::default());
    let n = until_calm(
        &mut p,
        |p, i| {
            let mut v = headers(p, 1 + 2 * i, GET, END);
            v.extend(raw(kind::WINDOW_UPDATE, 0, 1 + 2 * i, &[0x7f, 0xff, 0xff, 0xff]));
            v
        },
        10_000,
    );
    assert!(n <= 257, "{n}");
    assert!(p.conn.budget().count(Cost::ServerReset) >= u64::from(n) - 1);
}

#[test]
fn continuation_floods_are_bounded() {
    // Never-ending CONTINUATION: bounded by the block size...
    let mut p = Peer::new(Config::default());
    let mut v = raw(kind::HEADERS, 0, 1, &[0x82]);
    for _ in 0..10 {
        v.extend(raw(kind::CONTINUATION, 0, 1, &[0x40; 8000]));
    }
    p.feed(&v);
    assert!(p.conn.is_done());
    assert_eq!(p.events.last(), Some(&Ev::Closed(ErrorCode::EnhanceYourCalm)));
    // ...and tiny ones by the budget.
    let mut p = Peer::new(Config::default());
    p.feed(&raw(kind::HEADERS, 0, 1, &[0x82]));
    let n = until_calm(&mut p, |_, _| raw(kind::CONTINUATION, 0, 1, &[]), 10_000);
    assert!(n <= 257, "{n}");
}

#[test]
fn hpack_bombs_are_bounded() {
    // One large literal indexed, then streams of references to it.
    let mut p = Peer::new(Config::default());
    let mut first = p.block(GET);
    first.extend([0x40, 0x01, b'x', 0x7f, 0xa1, 0x1e]); // "x": 4000 bytes (127 + 0x21 + 30 * 128)
    first.extend([b'a'; 4000]);
    let mut v = raw(kind::HEADERS, END, 1, &first);
    v.extend(headers(&mut p, 3, GET, END)); // fine
    p.feed(&v);
    let n = until_calm(
        &mut p,
        |p, i| {
            let mut b = p.block(GET);
            b.extend([0xbe; 100]); // 100 × 4 KB from 100 bytes
            raw(kind::HEADERS, END, 5 + 2 * i, &b)
        },
        10_000,
    );
    assert!(n <= 40, "{n} bombs before GOAWAY");
}

#[test]
fn control_frame_floods_are_bounded() {
    type Unit = fn(&mut Peer, u32) -> Vec<u8>;
    let floods: [(&str, Unit); 6] = [
        ("SETTINGS", |_, _| raw(kind::SETTINGS, 0, 0, &[])),
        ("PING", |_, _| raw(kind::PING, 0, 0, &[0; 8])),
        ("PRIORITY", |_, i| raw(kind::PRIORITY, 0, 1 + 2 * i, &[0, 0, 0, 0, 1])),
        ("WINDOW_UPDATE", |_, _| raw(kind::WINDOW_UPDATE, 0, 0, &[0, 0, 0, 1])),
        ("unknown frames", |_, _| raw(0x42, 0, 0, b"")),
        ("empty HEADERS fragments", |_, i| {
            let mut v = raw(kind::HEADERS, 0, 1 + 2 * i, &[]);
            v.extend(raw(kind::CONTINUATION, EH, 1 + 2 * i, &[0x82, 0x87, 0x84]));
            v
        }),
    ];
    for (name, unit) in floods {
        let mut p = Peer::new(Config::default());
        let n = until_calm(&mut p, unit, 100_000);
        assert!(n <= 258, "{name}: {n}");
    }
    // Empty DATA frames on an open stream.
    let mut p = Peer::new(Config::default());
    let h = headers(&mut p, 1, POST, EH);
    p.feed(&h);
    let n = until_calm(&mut p, |_, _| raw(kind::DATA, 0, 1, b""), 100_000);
    assert!(n <= 257, "empty DATA: {n}");
}

#[test]
fn useful_work_keeps_the_connection_open() {
    let mut p = Peer::new(Config::default());
    for i in 0..2000u32 {
        let id = 1 + 2 * i;
        let mut v = headers(&mut p, id, GET, END);
        v.extend(raw(kind::WINDOW_UPDATE, 0, 0, &[0, 0, 0, 1])); // one per response
        p.feed(&v);
        respond(&mut p, id, b"ok");
        p.out();
    }
    assert!(!p.conn.is_done());
}

#[test]
fn stream_ids_run_out() {
    let mut p = Peer::new(Config::default());
    let h = headers(&mut p, MAX_WINDOW, GET, END);
    p.feed(&h);
    assert_eq!(p.events, [Ev::Request(MAX_WINDOW, true)]);
    respond(&mut p, MAX_WINDOW, b"");
    // No id is greater: any further HEADERS is a protocol error.
    let h = headers(&mut p, 1, GET, END);
    p.feed(&h);
    assert_eq!(p.events.last(), Some(&Ev::Closed(ErrorCode::ProtocolError)));
}
