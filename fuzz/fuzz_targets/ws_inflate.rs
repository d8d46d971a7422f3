//! Fuzz the bounded permessage-deflate inflater.
//!
//! 1. Arbitrary bytes as a compressed message, inflated in fuzzed pieces
//!    with a fuzzed limit: never panics, never returns more than the limit.
//! 2. The same bytes as a *plain* message: compress with `Deflater`, inflate
//!    back in pieces: must round-trip exactly (and respect the limit).
#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_ws::{Deflater, Inflater, ProtocolError};

fn inflate_pieces(
    inf: &mut Inflater,
    data: &[u8],
    step: usize,
    limit: usize,
) -> Result<Vec<u8>, ProtocolError> {
    let mut out = Vec::new();
    for piece in data.chunks(step) {
        inf.inflate(piece, &mut out, limit)?;
        assert!(out.len() <= limit);
    }
    inf.finish_message(&mut out, limit)?;
    assert!(out.len() <= limit);
    Ok(out)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let (ctl, body) = data.split_at(3);
    let step = usize::from(ctl[0]) + 1;
    let limit = usize::from(u16::from_le_bytes([ctl[1], ctl[2]])) * 16;
    let bits = 9 + ctl[0] % 7;

    // 1. Untrusted compressed input.
    let mut inf = Inflater::new(bits);
    if let Err(e) = inflate_pieces(&mut inf, body, step, limit) {
        assert!(matches!(e, ProtocolError::MessageTooLarge | ProtocolError::InvalidCompressedData));
    }

    // 2. Round trip, twice (second message uses the kept context).
    let mut d = Deflater::new(ctl[1] % 10, bits);
    let mut inf = Inflater::new(bits);
    for _ in 0..2 {
        let mut c = Vec::new();
        d.compress(body, &mut c).unwrap();
        match inflate_pieces(&mut inf, &c, step, limit) {
            Ok(back) => assert_eq!(back, body),
            Err(e) => {
                assert_eq!(e, ProtocolError::MessageTooLarge);
                assert!(body.len() > limit);
                return;
            }
        }
    }
});
