//! permessage-deflate through `WsConn`: RSV1 rules, fragmentation, context
//! takeover, bounded inflation, and the send side.

mod common;

use common::*;
use weir_ws::{Deflater, Inflater, Limits, Message, ProtocolError, WsConn};

fn lim() -> Limits {
    Limits::default()
}

#[test]
fn compressed_messages_single_and_fragmented() {
    for (snct, cnct) in [(true, true), (false, false), (true, false)] {
        let cfg = deflate_cfg(snct, cnct);
        let mut d = Deflater::new(6, 15);
        let c1 = client_compress(&mut d, "Hello κόσμε Hello κόσμε".as_bytes());
        if cnct {
            d.reset();
        }
        let c2 = client_compress(&mut d, &[42u8; 1000]);
        let (a, b) = c2.split_at(c2.len() / 2);
        let wire = [
            raw(FIN | RSV1 | TEXT, &c1),
            raw(RSV1 | BINARY, a),
            raw(FIN | PING, b"mid"),
            raw(CONT, b""),
            raw(FIN | CONT, b),
            raw(FIN | TEXT, b"plain too"),
        ]
        .concat();
        let o = all_splits(&wire, lim(), Some(cfg));
        assert_eq!(o.error, None, "{snct} {cnct}");
        assert_eq!(
            o.events,
            [
                Ev::Text("Hello κόσμε Hello κόσμε".into()),
                Ev::Ping(b"mid".to_vec()),
                Ev::Binary(vec![42; 1000]),
                Ev::Text("plain too".into()),
            ]
        );
    }
}

#[test]
fn rsv1_rules_with_deflate() {
    let cfg = Some(deflate_cfg(true, true));
    let mut d = Deflater::new(6, 15);
    let c = client_compress(&mut d, b"abc");
    let cases = [
        ("rsv1 on continuation", [raw(RSV1 | TEXT, &c), raw(FIN | RSV1 | CONT, b"")].concat()),
        ("rsv1 on ping", raw(FIN | RSV1 | PING, b"")),
        ("rsv1 on close", raw(FIN | RSV1 | CLOSE, b"")),
        ("rsv2 with deflate", raw(FIN | 0x20 | TEXT, b"")),
    ];
    for (name, wire) in cases {
        assert_eq!(all_splits(&wire, lim(), cfg).error, Some(ProtocolError::ReservedBits), "{name}");
    }
}

#[test]
fn corrupt_and_invalid_payloads() {
    let cfg = Some(deflate_cfg(true, true));
    let o = all_splits(&raw(FIN | RSV1 | BINARY, &[0xff, 0xff, 0xff]), lim(), cfg);
    assert_eq!(o.error, Some(ProtocolError::InvalidCompressedData));
    assert_eq!(&o.pending[2..4], &[0x03, 0xEF], "1007");
    // Compressed text that inflates to invalid UTF-8.
    let mut d = Deflater::new(6, 15);
    let c = client_compress(&mut d, b"ok \xed\xa0\x80 bad");
    let o = all_splits(&raw(FIN | RSV1 | TEXT, &c), lim(), cfg);
    assert_eq!(o.error, Some(ProtocolError::InvalidUtf8));
}

#[test]
fn zip_bomb_is_bounded() {
    let cfg = Some(deflate_cfg(true, true));
    let mut d = Deflater::new(9, 15);
    let c = client_compress(&mut d, &vec![0u8; 8 << 20]);
    let limits = Limits::default().max_inflated(1 << 20);
    let mut wire = raw(FIN | RSV1 | BINARY, &c);
    let mut conn = WsConn::new(limits, cfg);
    assert_eq!(conn.feed(&mut wire, |_, _| panic!()), Err(ProtocolError::MessageTooLarge));
    let mut out = Vec::new();
    conn.take_pending(&mut out);
    assert_eq!(&out[2..4], &[0x03, 0xF1], "1009");
}

#[test]
fn context_takeover_keeps_history() {
    // The RFC 7692 §7.2.3.2 example: the second "Hello" refers back to the first.
    let cfg = Some(deflate_cfg(false, false));
    let wire = [
        raw(FIN | RSV1 | TEXT, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]),
        raw(FIN | RSV1 | TEXT, &[0xf2, 0x00, 0x11, 0x00, 0x00]),
    ]
    .concat();
    let o = all_splits(&wire, lim(), cfg);
    assert_eq!(o.events, [Ev::Text("Hello".into()), Ev::Text("Hello".into())]);
    let mut conn = WsConn::new(lim(), cfg);
    drive(&mut conn, [&wire[..]]);
    assert!(conn.holds_zlib_state(), "takeover: the window is kept");
}

#[test]
fn sending_compressed() {
    for snct in [true, false] {
        let cfg = Some(weir_ws::DeflateConfig { threshold: 16, ..deflate_cfg(snct, true) });
        let mut conn = WsConn::new(lim(), cfg);
        let mut out = Vec::new();
        let long = "compress me please ".repeat(20);
        conn.writer().encode_message(Message::Text(&long), &mut out).unwrap();
        conn.writer().encode_message(Message::Text(&long), &mut out).unwrap();
        conn.writer().encode_message(Message::Text("short"), &mut out).unwrap();
        // Decode as a client would.
        let mut inf = Inflater::new(15);
        let mut pos = 0;
        let mut got = Vec::new();
        while pos < out.len() {
            let (h, n) = weir_ws::frame::decode_head(&out[pos..]).unwrap().unwrap();
            let payload = &out[pos + n..pos + n + h.payload_len as usize];
            pos += n + h.payload_len as usize;
            if h.rsv1 {
                let mut m = Vec::new();
                inf.inflate(payload, &mut m, 1 << 20).unwrap();
                inf.finish_message(&mut m, 1 << 20).unwrap();
                if snct {
                    inf.reset();
                }
                got.push((true, String::from_utf8(m).unwrap()));
            } else {
                got.push((false, String::from_utf8(payload.to_vec()).unwrap()));
            }
        }
        assert_eq!(got, [(true, long.clone()), (true, long.clone()), (false, "short".into())]);
        assert_eq!(conn.holds_zlib_state(), !snct);
    }
}

#[test]
fn window_8_means_no_compression() {
    let cfg = weir_ws::DeflateConfig { server_max_window_bits: Some(8), ..deflate_cfg(true, true) };
    let mut conn = WsConn::new(lim(), Some(cfg));
    let mut out = Vec::new();
    conn.writer().encode_message(Message::Binary(&[0; 1000]), &mut out).unwrap();
    assert_eq!(out[0], 0x82, "sent uncompressed");
    // Still decompresses what the client sends.
    let mut d = Deflater::new(6, 9);
    let mut wire = raw(FIN | RSV1 | BINARY, &client_compress(&mut d, &[1; 100]));
    let mut got = None;
    conn.feed(&mut wire, |ev, _| got = Some(own(ev))).unwrap();
    assert_eq!(got, Some(Ev::Binary(vec![1; 100])));
}

#[test]
fn shared_encoding() {
    let mut shard = Deflater::new(6, 15);
    let nct = WsConn::new(lim(), Some(deflate_cfg(true, true)));
    let takeover = WsConn::new(lim(), Some(deflate_cfg(false, true)));
    let small_window = WsConn::new(
        lim(),
        Some(weir_ws::DeflateConfig { server_max_window_bits: Some(10), ..deflate_cfg(true, true) }),
    );
    let mut nct = nct;
    assert!(nct.writer().can_share_compressed(&shard));
    let mut takeover = takeover;
    assert!(!takeover.writer().can_share_compressed(&shard));
    let mut small_window = small_window;
    assert!(!small_window.writer().can_share_compressed(&shard));
    // The level is the route's choice: a shard compressor of another level
    // is not used for it.
    let mut fast = WsConn::new(lim(), Some(weir_ws::DeflateConfig { level: 1, ..deflate_cfg(true, true) }));
    assert!(!fast.writer().can_share_compressed(&shard));
    assert!(fast.writer().can_share_compressed(&Deflater::new(1, 15)));
    let frame =
        weir_ws::encode_message_once(weir_ws::OpCode::Text, "same for everyone".as_bytes(), Some(&mut shard))
            .unwrap();
    let mut out = Vec::new();
    nct.writer().encode_message_shared(Message::Text("same for everyone"), &mut shard, &mut out).unwrap();
    assert_eq!(out, frame);
}

#[test]
fn compressed_text_error_order_is_split_independent() {
    // Found by fuzz/ws_frame: inflated bytes are invalid UTF-8 *and* the
    // DEFLATE data is corrupt later on. Whole input used to report the
    // inflate error, split input the UTF-8 one; now the first problem in
    // stream order wins either way.
    let wire = [
        0xc1, 0x8b, 0x37, 0xfa, 0xdf, 0xc2, 0xac, 0x4d, 0x13, 0x0b, 0x01, 0x4d, 0xfa, 0xdf, 0xc2, 0xac, 0x4d,
        0x13, 0x0b, 0x01, 0x41, 0x7d, 0xa7,
    ];
    let o = all_splits(&wire, lim(), Some(deflate_cfg(true, false)));
    assert_eq!(o.error, Some(ProtocolError::InvalidUtf8));
}
