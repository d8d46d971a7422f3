//! Fuzz the request parser: the input is split at random points (taken from
//! its first bytes) and fed as a growing buffer; the result must equal the
//! whole-buffer parse (and so must a byte-by-byte feed, which takes the
//! general path where the whole buffer takes the one-pass fast paths), and a
//! parsed head's spans must lie inside the buffer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_http::{BodyDecoder, Decoded, Limits, RequestParser};

fn summary(r: &Result<Option<weir_http::RequestHead>, weir_http::ParseError>, buf: &[u8]) -> String {
    match r {
        Ok(Some(h)) => format!(
            "{:?} {:?} {:?} {:?} {} {:?} {}{}{}{}",
            h.method_bytes(buf),
            h.target(buf),
            h.version(),
            h.headers(buf).collect::<Vec<_>>(),
            h.head_len(),
            h.framing(),
            h.keep_alive(),
            h.expect_continue(),
            h.upgrade(),
            h.plain_path()
        ),
        Ok(None) => "need more".into(),
        Err(e) => format!("{e:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let small = data[0] & 1 == 1;
    let limits = if small {
        Limits::default().max_request_line(64).max_head(256).max_headers(8).max_body(64)
    } else {
        Limits::default()
    };
    let step = usize::from(data[1]) + 1;
    let input = &data[2..];

    let whole = RequestParser::new(limits).parse(input);
    let want = summary(&whole, input);

    let mut p = RequestParser::new(limits);
    let mut end = 0;
    let got = loop {
        end = (end + step).min(input.len());
        let r = p.parse(&input[..end]);
        if !matches!(r, Ok(None)) || end == input.len() {
            break summary(&r, &input[..end]);
        }
    };
    assert_eq!(got, want);

    // Byte by byte, no line is ever complete when first looked at, so the
    // one-pass fast paths (taken by the whole-buffer parse) never run: this
    // compares them with the general path.
    let mut p = RequestParser::new(limits);
    let got = (1..=input.len())
        .map(|end| (end, p.parse(&input[..end])))
        .find(|(end, r)| !matches!(r, Ok(None)) || *end == input.len())
        .map(|(end, r)| summary(&r, &input[..end]));
    if let Some(got) = got {
        assert_eq!(got, want);
    }

    // The lending API, on a parser that has just finished another request,
    // must agree too (it resets and reuses its storage).
    let mut reused = RequestParser::new(limits);
    let _ = reused.parse_ref(b"POST /warm HTTP/1.1\r\nHost: w\r\nContent-Length: 1\r\n\r\n");
    let lent = reused.parse_ref(input).map(|h| h.cloned());
    assert_eq!(summary(&lent, input), want);

    // A path the parser calls plain is already normalised.
    if let Ok(Some(h)) = &whole {
        if h.plain_path() {
            let target = h.target(input);
            assert_eq!(weir_http::normalize_path(target).ok().as_deref().map(str::as_bytes), Some(target));
        }
    }

    // Decode whatever body follows, to exercise the decoders on parser output.
    if let Ok(Some(h)) = whole {
        let _ = h.parsed_target(input);
        let mut d = BodyDecoder::new(h.framing(), &limits);
        let mut pos = h.head_len();
        while let Ok((n, r)) = d.decode(&input[pos..]) {
            if let Decoded::Data(r) = &r {
                assert!(r.end <= n);
            }
            pos += n;
            if matches!(r, Decoded::Done | Decoded::NeedMore) {
                break;
            }
        }
    }
});
