//! Shared helpers for the integration tests (included with `mod common;`).
#![allow(dead_code)]

use weir_http::{BodyFraming, Limits, ParseError, RequestHead, RequestParser, Version};

/// Everything observable about a parse, owned, for comparisons.
#[derive(Debug, PartialEq, Eq, Clone)]
pub struct Summary {
    pub method: Vec<u8>,
    pub target: Vec<u8>,
    pub version: Version,
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    pub head_len: usize,
    pub framing: BodyFraming,
    pub flags: [bool; 6],
}

pub fn summarize(h: &RequestHead, buf: &[u8]) -> Summary {
    Summary {
        method: h.method_bytes(buf).to_vec(),
        target: h.target(buf).to_vec(),
        version: h.version(),
        headers: h.headers(buf).map(|(n, v)| (n.to_vec(), v.to_vec())).collect(),
        head_len: h.head_len(),
        framing: h.framing(),
        flags: [
            h.keep_alive(),
            h.expect_continue(),
            h.upgrade(),
            h.has_host(),
            h.has_upgrade_header(),
            h.plain_path(),
        ],
    }
}

pub type Outcome = Result<Option<Summary>, ParseError>;

/// Parses `input` given whole.
pub fn whole(limits: Limits, input: &[u8]) -> Outcome {
    let mut p = RequestParser::new(limits);
    p.parse(input).map(|o| o.map(|h| summarize(&h, input)))
}

/// Parses `input` fed as growing prefixes ending at each of `cuts` (sorted),
/// then the whole input; stops at the first non-`None` answer.
pub fn split(limits: Limits, input: &[u8], cuts: &[usize]) -> Outcome {
    let mut p = RequestParser::new(limits);
    for &c in cuts.iter().chain(core::iter::once(&input.len())) {
        let c = c.min(input.len());
        match p.parse(&input[..c]) {
            Ok(None) => continue,
            Ok(Some(h)) => {
                // A head completes exactly when its last byte arrives.
                return Ok(Some(summarize(&h, &input[..c])));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// A small corpus of valid and invalid requests.
pub const CORPUS: &[&[u8]] = &[
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"\r\nGET /x?y=z HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello",
    b"POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nX:\t\x80\xff v \t\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.1\nHost: a\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\rX\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
    b"GET / HTTP/2.0\r\n\r\n",
    b"GET /\0 HTTP/1.1\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\n",
    b"GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: a\r\n\r\n",
    b"\r\n\r\n\r\n\r\n\r\n\r\n",
    b"",
    b"\r",
];
