//! Fuzz the HTTP/2 frame decoder: `FrameHeader::parse` + `decode_frame`.
//!
//! Input: raw bytes read as a sequence of frames (header, then the payload
//! the header announces, cut short at the end of the input).
//!
//! Checks: no panic; a decoded frame borrows within its payload (DATA's
//! data and a header block fragment are no longer than the payload);
//! SETTINGS parameters come in whole 6-byte entries; re-encoding a
//! header gives the bytes it was parsed from (reserved bit cleared).
#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_h2::frame::{decode_frame, settings, Frame, FrameHeader, FRAME_HEADER_LEN};

fuzz_target!(|data: &[u8]| {
    let mut at = 0;
    while let Some(h) = FrameHeader::parse(&data[at..]) {
        let mut again = Vec::new();
        h.encode(&mut again);
        let mut orig = data[at..at + FRAME_HEADER_LEN].to_vec();
        orig[5] &= 0x7f;
        assert_eq!(again, orig);
        let start = at + FRAME_HEADER_LEN;
        let end = (start + h.len as usize).min(data.len());
        let payload = &data[start..end];
        if let Ok(f) = decode_frame(&h, payload) {
            match f {
                Frame::Data { data, flow_len, .. } => {
                    assert!(data.len() <= payload.len());
                    assert_eq!(flow_len, h.len);
                }
                Frame::Headers { fragment, .. } | Frame::Continuation { fragment, .. } => {
                    assert!(fragment.len() <= payload.len());
                }
                Frame::Settings { params, .. } => {
                    assert_eq!(settings(params).count() * 6, params.len());
                }
                _ => {}
            }
        }
        at = end;
    }
});
