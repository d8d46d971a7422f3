//! Split-point tests: every input fed whole, byte by byte, and split at every
//! index gives identical results; proptest adds random multi-way splits,
//! random mutations (no panic, split-invariant) and encode -> parse round trips.

mod common;

use common::{split, summarize, whole, CORPUS};
use proptest::prelude::*;
use weir_http::{
    encode_chunk_header, BodyDecoder, BodyFraming, ChunkedDecoder, Decoded, Limits, RequestParser,
    CHUNK_HEADER_MAX, CRLF, LAST_CHUNK,
};

/// Small limits so the limit paths are split-tested too.
fn limit_sets() -> [Limits; 2] {
    [Limits::default(), Limits::default().max_request_line(40).max_head(90).max_headers(3)]
}

#[test]
fn corpus_whole_bytewise_and_every_split_agree() {
    for limits in limit_sets() {
        for input in CORPUS {
            let want = whole(limits, input);
            let bytewise: Vec<usize> = (0..input.len()).collect();
            assert_eq!(
                split(limits, input, &bytewise),
                want,
                "bytewise {:?}",
                String::from_utf8_lossy(input)
            );
            for i in 0..=input.len() {
                assert_eq!(
                    split(limits, input, &[i]),
                    want,
                    "split at {i} {:?}",
                    String::from_utf8_lossy(input)
                );
            }
        }
    }
}

/// Decodes a chunked body with the input cut at `cuts`; returns the data and
/// the bytes consumed, or the error.
fn chunked(limits: &Limits, input: &[u8], cuts: &[usize]) -> Result<(Vec<u8>, usize), weir_http::ParseError> {
    let mut d = ChunkedDecoder::new(limits);
    let mut out = Vec::new();
    let mut pos = 0;
    for &c in cuts.iter().chain(core::iter::once(&input.len())) {
        let avail = c.clamp(pos, input.len());
        loop {
            let (n, r) = d.decode(&input[pos..avail])?;
            let chunk = &input[pos..avail];
            pos += n;
            match r {
                Decoded::Data(range) => out.extend_from_slice(&chunk[range]),
                Decoded::NeedMore => break,
                Decoded::Done => return Ok((out, pos)),
            }
        }
    }
    Err(weir_http::ParseError::InvalidChunkDelimiter) // truncated: a marker, never a real result here
}

const CHUNKED: &[&[u8]] = &[
    b"5\r\nhello\r\n0\r\n\r\n",
    b"1;ext=\"q\" ;b\r\nx\r\n00\r\nTrailer: v\r\nB: \tc\r\n\r\nNEXT",
    b"A\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n",
    b"5\r\nhelloX",
    b"0\r\n a\r\n\r\n",
    b"fffffffffffffffff\r\n",
    b"5\r\nhel",
];

#[test]
fn chunked_whole_bytewise_and_every_split_agree() {
    let l = Limits::default();
    for input in CHUNKED {
        let want = chunked(&l, input, &[]);
        let bytewise: Vec<usize> = (0..input.len()).collect();
        assert_eq!(chunked(&l, input, &bytewise), want);
        for i in 0..=input.len() {
            assert_eq!(chunked(&l, input, &[i]), want, "split {i}");
        }
    }
}

fn cuts(len: usize) -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(0..=len, 0..8).prop_map(|mut v| {
        v.sort_unstable();
        v
    })
}

/// Pieces of a request a generator can mix, valid and hostile.
fn request() -> impl Strategy<Value = Vec<u8>> {
    let method = prop_oneof![Just("GET"), Just("POST"), Just("HEAD"), Just("PROPFIND"), Just("G(T")];
    let target = "(/[a-z0-9%._~?=&-]{0,20})|\\*|(http://h/[a-z]{0,5})";
    let version = prop_oneof![Just("HTTP/1.1"), Just("HTTP/1.0"), Just("HTTP/2.0"), Just("HTTP/1.1 ")];
    let name = prop_oneof![
        Just("Host".to_string()),
        Just("Content-Length".to_string()),
        Just("Transfer-Encoding".to_string()),
        Just("Connection".to_string()),
        "[A-Za-z-]{1,12}",
        Just("Bad Name".to_string()),
    ];
    let value = prop_oneof![
        Just("chunked".to_string()),
        Just("close".to_string()),
        "[0-9]{1,4}",
        "[ -~\t]{0,20}",
        Just("a\rb".to_string()),
    ];
    let eol = prop_oneof![8 => Just("\r\n"), 1 => Just("\n")];
    (method, target, version, proptest::collection::vec((name, value, eol), 0..8), any::<bool>()).prop_map(
        |(m, t, v, hs, fold)| {
            let mut s = format!("{m} {t} {v}\r\n");
            for (n, val, eol) in hs {
                s.push_str(&format!("{n}: {val}{eol}"));
                if fold {
                    s.push_str(" folded\r\n");
                }
            }
            s.push_str("\r\n");
            s.into_bytes()
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_requests_split_anywhere(input in request(), c in cuts(300)) {
        let l = Limits::default();
        prop_assert_eq!(split(l, &input, &c), whole(l, &input));
    }

    #[test]
    fn random_bytes_never_panic_and_split_invariant(input in proptest::collection::vec(any::<u8>(), 0..200), c in cuts(200)) {
        for l in limit_sets() {
            prop_assert_eq!(split(l, &input, &c), whole(l, &input));
        }
    }

    #[test]
    fn mutated_corpus_split_invariant(idx in 0..CORPUS.len(), pos in any::<usize>(), byte in any::<u8>(), c in cuts(200)) {
        let mut input = CORPUS[idx].to_vec();
        if !input.is_empty() {
            let p = pos % input.len();
            input[p] = byte;
        }
        for l in limit_sets() {
            prop_assert_eq!(split(l, &input, &c), whole(l, &input));
        }
    }

    /// encode -> parse: a request built from parts parses back to the same parts.
    #[test]
    fn request_round_trip(
        target in "/([a-zA-Z0-9._~-]|%20){0,30}(\\?[a-z=&]{0,10})?",
        headers in proptest::collection::vec(("X-[A-Za-z0-9-]{1,10}", "[!-~]([ -~]{0,30}[!-~])?"), 0..10),
        len in proptest::option::of(0u64..1000),
        c in cuts(400),
    ) {
        let mut s = format!("PUT {target} HTTP/1.1\r\nHost: example.com\r\n");
        for (n, v) in &headers {
            s.push_str(&format!("{n}: {v}\r\n"));
        }
        if let Some(n) = len {
            s.push_str(&format!("Content-Length: {n}\r\n"));
        }
        s.push_str("\r\n");
        let buf = s.as_bytes();
        let got = split(Limits::default(), buf, &c).unwrap().unwrap();
        prop_assert_eq!(&got.method, b"PUT");
        prop_assert_eq!(&got.target, target.as_bytes());
        prop_assert_eq!(got.head_len, buf.len());
        prop_assert_eq!(got.framing, len.map_or(BodyFraming::None, BodyFraming::Length));
        for (i, (n, v)) in headers.iter().enumerate() {
            prop_assert_eq!(&got.headers[i + 1].0, n.as_bytes());
            prop_assert_eq!(&got.headers[i + 1].1, v.as_bytes());
        }
    }

    /// Chunked encode (encode_chunk_header + data + CRLF, LAST_CHUNK) -> decode.
    #[test]
    fn chunked_round_trip(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..300), 0..8), c in cuts(3000)) {
        let mut wire = Vec::new();
        let mut body = Vec::new();
        for ch in &chunks {
            let mut h = [0; CHUNK_HEADER_MAX];
            wire.extend_from_slice(encode_chunk_header(ch.len() as u64, &mut h));
            wire.extend_from_slice(ch);
            wire.extend_from_slice(CRLF);
            body.extend_from_slice(ch);
        }
        wire.extend_from_slice(LAST_CHUNK);
        let (got, used) = chunked(&Limits::default(), &wire, &c).unwrap();
        prop_assert_eq!(got, body);
        prop_assert_eq!(used, wire.len());
    }

    #[test]
    fn chunked_random_bytes_split_invariant(input in proptest::collection::vec(any::<u8>(), 0..100), c in cuts(100)) {
        let l = Limits::default().max_chunk_ext(5).max_trailers(20);
        prop_assert_eq!(chunked(&l, &input, &c), chunked(&l, &input, &[]));
    }
}

#[test]
fn pipelined_requests_with_bodies() {
    let buf = b"POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcPOST /b HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\nGET /c HTTP/1.1\r\nHost: a\r\n\r\n";
    let limits = Limits::default();
    let mut p = RequestParser::new(limits);
    let mut pos = 0;
    let mut seen = Vec::new();
    while pos < buf.len() {
        let rest = &buf[pos..];
        let h = p.parse(rest).unwrap().unwrap();
        let s = summarize(&h, rest);
        pos += h.head_len();
        let mut d = BodyDecoder::new(h.framing(), &limits);
        let mut body = Vec::new();
        loop {
            let (n, r) = d.decode(&buf[pos..]).unwrap();
            if let Decoded::Data(range) = &r {
                body.extend_from_slice(&buf[pos..][range.clone()]);
            }
            pos += n;
            if r == Decoded::Done {
                break;
            }
        }
        p.recycle(h);
        seen.push((s.target, body));
    }
    assert_eq!(
        seen,
        [(b"/a".to_vec(), b"abc".to_vec()), (b"/b".to_vec(), b"de".to_vec()), (b"/c".to_vec(), vec![])]
    );
}

#[test]
fn parse_ref_agrees_with_parse_and_resets_between_requests() {
    let warm = b"POST /w HTTP/1.1\r\nHost: w\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n";
    for limits in limit_sets() {
        // One parser for the whole corpus, as a connection would use it: a
        // successful request before each input must leave nothing behind.
        let mut shared = RequestParser::new(limits);
        for input in CORPUS {
            let mut fresh = RequestParser::new(limits);
            let want = fresh.parse(input).map(|h| h.map(|h| summarize(&h, input)));
            if !matches!(shared.parse_ref(warm), Ok(Some(_))) {
                shared.reset();
            }
            let got = shared.parse_ref(input).map(|h| h.map(|h| summarize(h, input)));
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(input));
            if !matches!(got, Ok(Some(_))) {
                shared.reset();
            }
        }
    }
}
