//! Fuzz the chunked decoder: fed whole and in random-size pieces, it must give
//! the same data, the same consumed count and the same error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_http::{ChunkedDecoder, Decoded, Limits, ParseError};

fn run(limits: &Limits, input: &[u8], step: usize) -> Result<(Vec<u8>, usize, bool), ParseError> {
    let mut d = ChunkedDecoder::new(limits);
    let mut out = Vec::new();
    let mut pos = 0;
    let mut avail = step.min(input.len());
    loop {
        let (n, r) = d.decode(&input[pos..avail])?;
        let piece = &input[pos..avail];
        assert!(n <= piece.len());
        match r {
            Decoded::Data(r) => {
                assert!(r.start <= r.end && r.end <= n);
                out.extend_from_slice(&piece[r]);
            }
            Decoded::Done => return Ok((out, pos + n, true)),
            Decoded::NeedMore => {
                assert_eq!(n, piece.len());
                if avail == input.len() {
                    return Ok((out, pos + n, false));
                }
                avail = (avail + step).min(input.len());
            }
        }
        pos += n;
    }
}

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let step = usize::from(data[0] % 32) + 1;
    let input = &data[1..];
    let limits = Limits::default()
        .max_body(4096)
        .max_chunk_ext(16)
        .max_trailers(64)
        .max_headers(4)
        .chunk_overhead_allowance(256);
    assert_eq!(run(&limits, input, step), run(&limits, input, usize::MAX));
});
