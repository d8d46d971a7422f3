//! Table-driven tests of every parser rule, each beside its RFC section.
//!
//! `accept` rows check the facts the parser computes; `reject` rows check the
//! error and therefore the status the client gets.

use weir_http::{BodyFraming, Limits, Method, ParseError as E, RequestParser, Version};

fn parse_with(limits: Limits, input: &[u8]) -> Result<Option<weir_http::RequestHead>, E> {
    RequestParser::new(limits).parse(input)
}

fn parse(input: &[u8]) -> Result<Option<weir_http::RequestHead>, E> {
    parse_with(Limits::default(), input)
}

#[test]
fn rejects() {
    // (RFC section, input, expected error)
    let table: &[(&str, &[u8], E)] = &[
        // --- RFC 9112 §2.2 message parsing: line endings
        ("9112 §2.2 bare LF ends line", b"GET / HTTP/1.1\nHost: a\r\n\r\n", E::BareLf),
        ("9112 §2.2 bare LF in head", b"GET / HTTP/1.1\r\nHost: a\n\r\n", E::BareLf),
        ("9112 §2.2 bare LF final", b"GET / HTTP/1.1\r\nHost: a\r\n\n", E::BareLf),
        ("9112 §2.2 bare CR in value", b"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", E::BareCr),
        ("9112 §2.2 bare CR in line", b"GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", E::BareCr),
        (
            "9112 §2.2 too many empty lines",
            b"\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
            E::TooManyEmptyLines,
        ),
        ("9112 §2.2 whitespace before request line", b" GET / HTTP/1.1\r\nHost: a\r\n\r\n", E::InvalidMethod),
        // --- RFC 9110 §5.5 / 9112 §2.2 control bytes
        ("9110 §5.5 NUL in value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", E::ControlByte),
        ("9110 §5.5 DEL in value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n", E::ControlByte),
        ("9110 §5.5 VT in value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x0bb\r\n\r\n", E::ControlByte),
        ("9112 §3 NUL in target", b"GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n", E::ControlByte),
        ("9112 §3 NUL in method", b"G\0T / HTTP/1.1\r\nHost: a\r\n\r\n", E::ControlByte),
        // --- RFC 9112 §3 request line
        ("9112 §3 lowercase ok but space in method", b"G T / HTTP/1.1\r\nHost: a\r\n\r\n", E::InvalidTarget),
        ("9110 §9.1 method token", b"GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", E::InvalidMethod),
        ("9110 §9.1 method token obs-text", b"G\xc3\xa9T / HTTP/1.1\r\nHost: a\r\n\r\n", E::InvalidMethod),
        ("9112 §3 empty method", b" / HTTP/1.1\r\nHost: a\r\n\r\n", E::InvalidMethod),
        ("9112 §3 two spaces", b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", E::InvalidTarget),
        ("9112 §3 tab separator", b"GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", E::InvalidMethod),
        ("9112 §3 missing version", b"GET /\r\nHost: a\r\n\r\n", E::InvalidVersion),
        ("9112 §3 trailing space", b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", E::InvalidVersion),
        ("9112 §3.2 space in target", b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", E::InvalidTarget),
        ("9112 §3.2 fragment", b"GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", E::InvalidTarget),
        ("3986 §2.1 bad pct", b"GET /a%zz HTTP/1.1\r\nHost: a\r\n\r\n", E::InvalidTarget),
        ("3986 §2.1 short pct", b"GET /a% HTTP/1.1\r\nHost: a\r\n\r\n", E::InvalidTarget),
        ("3986 §2 unwise char", b"GET /a\"b HTTP/1.1\r\nHost: a\r\n\r\n", E::InvalidTarget),
        ("3986 §2 backslash", b"GET /a\\b HTTP/1.1\r\nHost: a\r\n\r\n", E::InvalidTarget),
        ("3986 §2 obs-text in target", b"GET /\xff HTTP/1.1\r\nHost: a\r\n\r\n", E::InvalidTarget),
        ("9112 §3.2 relative target", b"GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", E::InvalidTarget),
        ("9112 §3.2.4 asterisk not OPTIONS", b"GET * HTTP/1.1\r\nHost: a\r\n\r\n", E::InvalidTarget),
        ("9112 §3.2.3 CONNECT needs authority", b"CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", E::InvalidTarget),
        ("9112 §3.2.3 CONNECT without port", b"CONNECT a HTTP/1.1\r\nHost: a\r\n\r\n", E::InvalidTarget),
        ("9110 §4.2.4 userinfo", b"GET http://u:p@h/ HTTP/1.1\r\nHost: h\r\n\r\n", E::InvalidTarget),
        // --- RFC 9112 §2.3 version
        ("9112 §2.3 lowercase", b"GET / http/1.1\r\nHost: a\r\n\r\n", E::InvalidVersion),
        ("9112 §2.3 two digits", b"GET / HTTP/1.10\r\nHost: a\r\n\r\n", E::InvalidVersion),
        ("9112 §2.3 no minor", b"GET / HTTP/1\r\nHost: a\r\n\r\n", E::InvalidVersion),
        ("9112 §2.3 HTTP/2.0 -> 505", b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", E::UnsupportedVersion),
        ("9112 §2.3 HTTP/0.9 -> 505", b"GET / HTTP/0.9\r\nHost: a\r\n\r\n", E::UnsupportedVersion),
        ("9112 §2.3 HTTP/3.0 -> 505", b"GET / HTTP/3.0\r\n\r\n", E::UnsupportedVersion),
        // --- RFC 9112 §5 field lines
        ("9112 §5.2 obs-fold SP", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", E::ObsFold),
        ("9112 §5.2 obs-fold HTAB", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n", E::ObsFold),
        ("9112 §5.2 fold on first field", b"GET / HTTP/1.1\r\n Host: a\r\n\r\n", E::ObsFold),
        ("9112 §5.1 space before colon", b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", E::WhitespaceBeforeColon),
        ("9112 §5.1 tab before colon", b"GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", E::WhitespaceBeforeColon),
        ("9112 §5.1 no colon", b"GET / HTTP/1.1\r\nHost a\r\n\r\n", E::WhitespaceBeforeColon),
        ("9112 §5.1 no colon at all", b"GET / HTTP/1.1\r\nHosta\r\n\r\n", E::InvalidHeaderName),
        ("9112 §5.1 empty name", b"GET / HTTP/1.1\r\n: a\r\nHost: a\r\n\r\n", E::InvalidHeaderName),
        ("9110 §5.1 name token", b"GET / HTTP/1.1\r\nX(y): a\r\nHost: a\r\n\r\n", E::InvalidHeaderName),
        ("9110 §5.1 name obs-text", b"GET / HTTP/1.1\r\nX\xff: a\r\nHost: a\r\n\r\n", E::InvalidHeaderName),
        // --- RFC 9112 §3.2 Host
        ("9112 §3.2 missing Host on 1.1", b"GET / HTTP/1.1\r\n\r\n", E::MissingHost),
        ("9112 §3.2 two Host", b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", E::DuplicateHost),
        ("9112 §3.2 two Host on 1.0", b"GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", E::DuplicateHost),
        ("9112 §3.2 bad Host", b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", E::InvalidHost),
        ("9112 §3.2 Host with space", b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", E::InvalidHost),
        // --- RFC 9110 §8.6 / 9112 §6.3 Content-Length
        (
            "9110 §8.6 plus sign",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\n",
            E::InvalidContentLength,
        ),
        (
            "9110 §8.6 minus",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -3\r\n\r\n",
            E::InvalidContentLength,
        ),
        (
            "9110 §8.6 hex",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x3\r\n\r\n",
            E::InvalidContentLength,
        ),
        (
            "9110 §8.6 suffix",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3x\r\n\r\n",
            E::InvalidContentLength,
        ),
        (
            "9110 §8.6 empty",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n",
            E::InvalidContentLength,
        ),
        (
            "9110 §8.6 inner space",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n",
            E::InvalidContentLength,
        ),
        (
            "9110 §8.6 overflow",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n",
            E::InvalidContentLength,
        ),
        (
            "9112 §6.3 list",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\n",
            E::InvalidContentLength,
        ),
        (
            "9112 §6.3 repeated",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
            E::DuplicateContentLength,
        ),
        (
            "9112 §6.3 differing",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\ncontent-length: 4\r\n\r\n",
            E::DuplicateContentLength,
        ),
        (
            "413 over max_body",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1048577\r\n\r\n",
            E::BodyTooLarge,
        ),
        // --- RFC 9112 §6.1 / §6.3 Transfer-Encoding
        (
            "9112 §6.3 CL + TE",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            E::ContentLengthWithTransferEncoding,
        ),
        (
            "9112 §6.3 TE + CL",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
            E::ContentLengthWithTransferEncoding,
        ),
        (
            "9112 §6.3 chunked not final",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            E::ChunkedNotFinal,
        ),
        (
            "9112 §6.3 only gzip",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
            E::ChunkedNotFinal,
        ),
        (
            "9112 §6.3 final over two fields",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n",
            E::ChunkedNotFinal,
        ),
        (
            "9112 §7 chunked twice",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
            E::ChunkedTwice,
        ),
        (
            "9112 §7 chunked twice, two fields",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            E::ChunkedTwice,
        ),
        (
            "9112 §6.1 unknown coding -> 501",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            E::UnsupportedTransferCoding,
        ),
        (
            "9112 §6.1 chunked with params -> 501",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: x;q=1, chunked\r\n\r\n",
            E::UnsupportedTransferCoding,
        ),
        (
            "9112 §6.1 TE on HTTP/1.0",
            b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
            E::TransferEncodingHttp10,
        ),
        (
            "9112 §6.1 empty TE",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n",
            E::InvalidTransferEncoding,
        ),
        (
            "9112 §6.1 TE only commas",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , ,\r\n\r\n",
            E::InvalidTransferEncoding,
        ),
        (
            "9112 §6.1 TE bad token",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n",
            E::InvalidTransferEncoding,
        ),
    ];
    for (why, input, want) in table {
        let got = parse(input);
        assert_eq!(
            got.as_ref().err(),
            Some(want),
            "{why}: {:?} gave {got:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn limits() {
    // (why, limits, input, expected error)
    let get = b"GET /aaaaaaaaaa HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nX-B: 2\r\n\r\n";
    let table: &[(&str, Limits, &[u8], E)] = &[
        ("414 request line", Limits::default().max_request_line(20), get, E::RequestLineTooLong),
        (
            "414 incomplete request line",
            Limits::default().max_request_line(20),
            b"GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            E::RequestLineTooLong,
        ),
        ("431 head too large", Limits::default().max_head(40), get, E::HeadTooLarge),
        ("431 incomplete head", Limits::default().max_head(40), &get[..45], E::HeadTooLarge),
        ("431 too many headers", Limits::default().max_headers(2), get, E::TooManyHeaders),
        (
            "413 max_body",
            Limits::default().max_body(2),
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n",
            E::BodyTooLarge,
        ),
    ];
    for (why, limits, input, want) in table {
        let got = parse_with(*limits, input);
        assert_eq!(got.as_ref().err(), Some(want), "{why} gave {got:?}");
        assert!([413, 414, 431].contains(&want.status()));
    }
    // Exactly at the limits is fine.
    let line = b"GET /aaaaaaaaaa HTTP/1.1".len();
    assert!(parse_with(Limits::default().max_request_line(line), get).unwrap().is_some());
    assert!(parse_with(Limits::default().max_head(get.len()), get).unwrap().is_some());
    assert!(parse_with(Limits::default().max_headers(3), get).unwrap().is_some());
    // An incomplete head below the limits just needs more bytes.
    assert!(parse_with(Limits::default().max_head(get.len()), &get[..get.len() - 1]).unwrap().is_none());
}

struct Want {
    method: Method,
    target: &'static [u8],
    version: Version,
    framing: BodyFraming,
    keep_alive: bool,
    expect_continue: bool,
    upgrade: bool,
}

const fn want(method: Method, target: &'static [u8], version: Version) -> Want {
    Want {
        method,
        target,
        version,
        framing: BodyFraming::None,
        keep_alive: version as u8 == Version::Http11 as u8,
        expect_continue: false,
        upgrade: false,
    }
}

#[test]
fn accepts() {
    use Method::*;
    use Version::*;
    let table: &[(&str, &[u8], Want)] = &[
        ("9112 §3 minimal", b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", want(Get, b"/", Http11)),
        (
            "9112 §2.2 leading empty lines",
            b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
            want(Get, b"/", Http11),
        ),
        ("9112 §3.2 HTTP/1.0 needs no Host", b"GET /x HTTP/1.0\r\n\r\n", want(Get, b"/x", Http10)),
        ("9110 §6.2 HTTP/1.2 is 1.1", b"GET / HTTP/1.2\r\nHost: a\r\n\r\n", want(Get, b"/", Http11)),
        ("9110 §9.1 custom method", b"PROPFIND /d HTTP/1.1\r\nHost: a\r\n\r\n", want(Other, b"/d", Http11)),
        (
            "9110 §9.1 lowercase method is Other",
            b"get / HTTP/1.1\r\nHost: a\r\n\r\n",
            want(Other, b"/", Http11),
        ),
        ("9112 §3.2.4 OPTIONS *", b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", want(Options, b"*", Http11)),
        (
            "9112 §3.2.3 CONNECT",
            b"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n",
            want(Connect, b"h:443", Http11),
        ),
        (
            "9112 §3.2.2 absolute-form",
            b"GET http://h/a?b HTTP/1.1\r\nHost: h\r\n\r\n",
            want(Get, b"http://h/a?b", Http11),
        ),
        (
            "3986 pct and sub-delims",
            b"GET /a%20b/!$&'()*+,;=:@?x=[1] HTTP/1.1\r\nHost: a\r\n\r\n",
            want(Get, b"/a%20b/!$&'()*+,;=:@?x=[1]", Http11),
        ),
        ("9112 §3.2 empty Host value ok", b"GET / HTTP/1.1\r\nHost:\r\n\r\n", want(Get, b"/", Http11)),
        (
            "9112 §9.3 close",
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            Want { keep_alive: false, ..want(Get, b"/", Http11) },
        ),
        (
            "9112 §9.3 close in list",
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, Close\r\n\r\n",
            Want { keep_alive: false, ..want(Get, b"/", Http11) },
        ),
        (
            "9112 §9.3 1.0 keep-alive",
            b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
            Want { keep_alive: true, ..want(Get, b"/", Http10) },
        ),
        (
            "9112 §9.3 1.0 default close",
            b"GET / HTTP/1.0\r\nConnection: foo\r\n\r\n",
            want(Get, b"/", Http10),
        ),
        (
            "9110 §10.1.1 100-continue",
            b"PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 5\r\n\r\n",
            Want { expect_continue: true, framing: BodyFraming::Length(5), ..want(Put, b"/", Http11) },
        ),
        (
            "9110 §10.1.1 ignore on 1.0",
            b"PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
            Want { framing: BodyFraming::Length(5), ..want(Put, b"/", Http10) },
        ),
        (
            "9110 §7.8 upgrade",
            b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
            Want { upgrade: true, ..want(Get, b"/ws", Http11) },
        ),
        (
            "9110 §7.8 upgrade needs Connection",
            b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n",
            want(Get, b"/ws", Http11),
        ),
        (
            "9112 §6.3 chunked",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n",
            Want { framing: BodyFraming::Chunked, ..want(Post, b"/", Http11) },
        ),
        (
            "9110 §5.6.1 empty list elements",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , chunked\r\n\r\n",
            Want { framing: BodyFraming::Chunked, ..want(Post, b"/", Http11) },
        ),
        (
            "9112 §6.3 length",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n",
            Want { framing: BodyFraming::Length(7), ..want(Post, b"/", Http11) },
        ),
        (
            "9110 §5.5 obs-text and HTAB in value",
            b"GET / HTTP/1.1\r\nHost: a\r\nX: \t\xe2\x82\xac a\tb \t\r\n\r\n",
            want(Get, b"/", Http11),
        ),
    ];
    for (why, input, w) in table {
        let h = parse(input).unwrap_or_else(|e| panic!("{why}: {e}")).expect(why);
        assert_eq!(h.method(), w.method, "{why}");
        assert_eq!(h.target(input), w.target, "{why}");
        assert_eq!(h.version(), w.version, "{why}");
        assert_eq!(h.framing(), w.framing, "{why}");
        assert_eq!(h.keep_alive(), w.keep_alive, "{why} keep-alive");
        assert_eq!(h.expect_continue(), w.expect_continue, "{why} expect");
        assert_eq!(h.upgrade(), w.upgrade, "{why} upgrade");
        assert_eq!(h.head_len(), input.len(), "{why}");
    }
}

#[test]
fn header_values_are_trimmed_and_case_insensitive() {
    let buf = b"GET / HTTP/1.1\r\nHost:  a \r\nX-Empty:\r\nX-Tab:\tv\t\r\nX-M: 1\r\nx-m: 2\r\n\r\n";
    let h = parse(buf).unwrap().unwrap();
    assert_eq!(h.header(buf, b"HOST"), Some(&b"a"[..]));
    assert_eq!(h.header(buf, b"x-empty"), Some(&b""[..]));
    assert_eq!(h.header(buf, b"x-tab"), Some(&b"v"[..]));
    assert_eq!(h.header_all(buf, b"X-M").collect::<Vec<_>>(), [b"1", b"2"]);
    assert_eq!(h.headers(buf).len(), 5);
    assert_eq!(h.headers(buf).next(), Some((&b"Host"[..], &b"a"[..])));
    assert!(h.has_host());
}

#[test]
fn every_error_status_is_one_of_the_six() {
    for e in [
        E::RequestLineTooLong,
        E::HeadTooLarge,
        E::BodyTooLarge,
        E::UnsupportedTransferCoding,
        E::UnsupportedVersion,
        E::ObsFold,
    ] {
        assert!([400, 413, 414, 431, 501, 505].contains(&e.status()));
    }
}
