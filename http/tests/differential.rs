//! Differential test against httparse: wherever both parsers accept a
//! request, method, target, version and headers agree. weir is stricter
//! (Host rules, framing rules, target bytes), so it may reject what httparse
//! accepts; the reverse direction is reported by count only, as information.

mod common;

use proptest::prelude::*;
use weir_http::{Limits, RequestParser, Version};

fn httparse_parse(input: &[u8]) -> Option<common::Summary> {
    let mut headers = [httparse::EMPTY_HEADER; 128];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(input) {
        Ok(httparse::Status::Complete(n)) => Some(common::Summary {
            method: req.method?.as_bytes().to_vec(),
            target: req.path?.as_bytes().to_vec(),
            version: if req.version? == 1 { Version::Http11 } else { Version::Http10 },
            headers: req
                .headers
                .iter()
                .map(|h| (h.name.as_bytes().to_vec(), trim(h.value).to_vec()))
                .collect(),
            head_len: n,
            framing: weir_http::BodyFraming::None,
            flags: [false; 6],
        }),
        _ => None,
    }
}

/// httparse leaves trailing whitespace of a value in some versions; weir trims
/// OWS on both sides (RFC 9110 §5.5), so compare trimmed values.
fn trim(v: &[u8]) -> &[u8] {
    let s = v.iter().position(|b| !matches!(b, b' ' | b'\t')).unwrap_or(v.len());
    let e = v.iter().rposition(|b| !matches!(b, b' ' | b'\t')).map_or(s, |e| e + 1);
    &v[s..e]
}

fn compare(input: &[u8]) -> (bool, bool) {
    let ours = RequestParser::new(Limits::default()).parse(input);
    let theirs = httparse_parse(input);
    if let (Ok(Some(h)), Some(t)) = (&ours, &theirs) {
        let o = common::summarize(h, input);
        assert_eq!(o.method, t.method, "{:?}", String::from_utf8_lossy(input));
        assert_eq!(o.target, t.target, "{:?}", String::from_utf8_lossy(input));
        assert_eq!(o.version, t.version, "{:?}", String::from_utf8_lossy(input));
        assert_eq!(o.headers, t.headers, "{:?}", String::from_utf8_lossy(input));
        assert_eq!(o.head_len, t.head_len, "{:?}", String::from_utf8_lossy(input));
    }
    (matches!(ours, Ok(Some(_))), theirs.is_some())
}

#[test]
fn corpus_agrees() {
    let mut both = 0;
    for input in common::CORPUS {
        let (a, b) = compare(input);
        both += usize::from(a && b);
        // weir never accepts what httparse rejects on this corpus.
        assert!(!a || b, "weir accepted, httparse rejected: {:?}", String::from_utf8_lossy(input));
    }
    assert!(both >= 5);
}

fn request() -> impl Strategy<Value = Vec<u8>> {
    let method = "[A-Z]{1,8}|[!#$%&'*+.^_`|~0-9a-z-]{1,6}";
    let target = "/[!-~]{0,30}";
    let version = prop_oneof![Just("HTTP/1.1"), Just("HTTP/1.0")];
    let name = "[!#$%&'*+.^_`|~0-9A-Za-z-]{1,12}";
    let value = "[\t -~\u{80}-\u{ff}]{0,30}";
    (method, target, version, proptest::collection::vec((name, value), 0..12)).prop_map(|(m, t, v, hs)| {
        let mut s = format!("{m} {t} {v}\r\nHost: h\r\n").into_bytes();
        for (n, val) in hs {
            s.extend_from_slice(n.as_bytes());
            s.extend_from_slice(b": ");
            // Map chars to single bytes so obs-text bytes appear raw.
            s.extend(val.chars().map(|c| c as u32 as u8));
            s.extend_from_slice(b"\r\n");
        }
        s.extend_from_slice(b"\r\n");
        s
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5000))]

    #[test]
    fn random_requests_agree_where_both_accept(input in request()) {
        compare(&input);
    }

    #[test]
    fn random_bytes_agree_where_both_accept(input in proptest::collection::vec(any::<u8>(), 0..120)) {
        let mut s = b"GET /".to_vec();
        s.extend_from_slice(&input);
        compare(&s);
    }
}
