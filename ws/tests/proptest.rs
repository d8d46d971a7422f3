//! Property tests: encode -> decode round trips, random fragmentation and
//! random read splits must never change what the application sees.

mod common;

use common::*;
use proptest::prelude::*;
use weir_ws::frame::{decode_head, encode_frame_masked, OpCode};
use weir_ws::mask::apply_mask;
use weir_ws::{Deflater, Inflater, Limits, Message, WsConn};

/// Cut points (sorted, deduplicated, within `len`) from random fractions.
fn cuts(len: usize, fracs: &[u16]) -> Vec<usize> {
    let mut c: Vec<usize> = fracs.iter().map(|&f| f as usize * len / u16::MAX as usize).collect();
    c.sort_unstable();
    c.dedup();
    c
}

fn pieces<'a>(data: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    for &c in cuts {
        out.push(&data[start..c]);
        start = c;
    }
    out.push(&data[start..]);
    out
}

/// A message as a client sends it: fragmented at `frag_cuts`, with a Ping
/// after the first fragment when `ping`.
fn client_message(text: bool, payload: &[u8], frag_cuts: &[usize], ping: bool, compressed: bool) -> Vec<u8> {
    let frags = pieces(payload, frag_cuts);
    let mut wire = Vec::new();
    let n = frags.len();
    for (i, f) in frags.iter().enumerate() {
        let op = if i > 0 {
            CONT
        } else if text {
            TEXT
        } else {
            BINARY
        };
        let fin = if i + 1 == n { FIN } else { 0 };
        let rsv = if i == 0 && compressed { RSV1 } else { 0 };
        wire.extend(raw(fin | rsv | op, f));
        if ping && i == 0 {
            wire.extend(raw(FIN | PING, b"keepalive"));
        }
    }
    wire
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn frame_head_round_trip(
        fin: bool, rsv1: bool, op in prop::sample::select(vec![OpCode::Continuation, OpCode::Text, OpCode::Binary]),
        payload in prop::collection::vec(any::<u8>(), 0..300), mask: [u8; 4],
    ) {
        let mut wire = Vec::new();
        encode_frame_masked(fin, op, rsv1, &payload, mask, &mut wire);
        let (h, n) = decode_head(&wire).unwrap().unwrap();
        prop_assert_eq!((h.fin, h.rsv1, h.opcode, h.mask, h.payload_len), (fin, rsv1, op, Some(mask), payload.len() as u64));
        let mut body = wire[n..].to_vec();
        apply_mask(&mut body, mask, 0);
        prop_assert_eq!(body, payload);
    }

    #[test]
    fn messages_survive_fragmentation_and_splits(
        text: bool,
        s in "\\PC{0,200}",
        bin in prop::collection::vec(any::<u8>(), 0..400),
        frag_fracs in prop::collection::vec(any::<u16>(), 0..5),
        read_fracs in prop::collection::vec(any::<u16>(), 0..12),
        ping: bool,
    ) {
        let payload = if text { s.as_bytes().to_vec() } else { bin.clone() };
        let mut wire = client_message(text, &payload, &cuts(payload.len(), &frag_fracs), ping, false);
        wire.extend(raw(FIN | CLOSE, &1000u16.to_be_bytes()));
        let o = drive(&mut WsConn::new(Limits::default(), None), pieces(&wire, &cuts(wire.len(), &read_fracs)));
        let mut want = Vec::new();
        let frags = cuts(payload.len(), &frag_fracs).len() + 1;
        let msg = if text { Ev::Text(s.clone()) } else { Ev::Binary(bin.clone()) };
        let p = Ev::Ping(b"keepalive".to_vec());
        match (ping, frags > 1) {
            (false, _) => want.push(msg),
            (true, true) => want.extend([p, msg]),
            (true, false) => want.extend([msg, p]),
        }
        want.push(Ev::Close(Some(1000), String::new()));
        prop_assert_eq!(o.error, None);
        prop_assert_eq!(o.events, want);
    }

    #[test]
    fn compressed_messages_round_trip(
        payload in prop::collection::vec(prop::sample::select(b"abc \x00\xff".to_vec()), 0..2000),
        frag_fracs in prop::collection::vec(any::<u16>(), 0..4),
        read_fracs in prop::collection::vec(any::<u16>(), 0..8),
        takeover: bool,
    ) {
        let cfg = deflate_cfg(!takeover, !takeover);
        let mut d = Deflater::new(6, 15);
        let mut wire = Vec::new();
        let mut want = Vec::new();
        let m = Ev::Binary(payload.clone());
        let p = Ev::Ping(b"keepalive".to_vec());
        for _ in 0..2 {
            let c = client_compress(&mut d, &payload);
            if !takeover { d.reset(); }
            let frag_cuts = cuts(c.len(), &frag_fracs);
            if frag_cuts.is_empty() { want.extend([m.clone(), p.clone()]) } else { want.extend([p.clone(), m.clone()]) }
            wire.extend(client_message(false, &c, &frag_cuts, true, true));
        }
        let o = drive(&mut WsConn::new(Limits::default(), Some(cfg)), pieces(&wire, &cuts(wire.len(), &read_fracs)));
        prop_assert_eq!(o.error, None);
        prop_assert_eq!(o.events, want);
    }

    #[test]
    fn server_frames_decode_back(
        payload in prop::collection::vec(any::<u8>(), 0..70_000),
        compress: bool,
    ) {
        let cfg = compress.then(|| deflate_cfg(true, true));
        let mut conn = WsConn::new(Limits::default(), cfg);
        let mut out = Vec::new();
        conn.writer().encode_message(Message::Binary(&payload), &mut out).unwrap();
        let (h, n) = decode_head(&out).unwrap().unwrap();
        prop_assert_eq!(h.mask, None);
        prop_assert_eq!(h.rsv1, compress);
        prop_assert_eq!(n + h.payload_len as usize, out.len());
        let body = if compress {
            let mut inf = Inflater::new(15);
            let mut m = Vec::new();
            inf.inflate(&out[n..], &mut m, 1 << 20).unwrap();
            inf.finish_message(&mut m, 1 << 20).unwrap();
            m
        } else {
            out[n..].to_vec()
        };
        prop_assert_eq!(body, payload);
    }
}
