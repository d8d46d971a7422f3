//! Differential test against httparse: the two parsers must agree on every
//! valid request, field by field.
//!
//! The generator builds requests that are valid (RFC 9112 §3, §5) and inside
//! weir's documented strictness, so both parsers must accept every one, and
//! then agree on method, target, version, each header name and value, and
//! the head's length. A rejection by either parser fails the test (and
//! proptest shrinks it to a small request): a generated request is valid by
//! construction, so a rejection is a finding, not noise.
//!
//! ## Where the two parsers legitimately differ
//!
//! weir is stricter than httparse by design, and httparse (a head tokenizer)
//! checks no semantics. The generator leaves these shapes out on purpose:
//!
//! - **Host**: weir requires exactly one valid `Host` in HTTP/1.1 (RFC 9112
//!   §3.2); httparse accepts none, several, or any value. The generator
//!   writes exactly one valid Host for 1.1, at most one for 1.0, and renames
//!   a random header name that happens to be `host`.
//! - **Framing**: weir rejects an invalid or repeated `Content-Length`, one
//!   over `Limits::max_body`, and every `Transfer-Encoding` mistake (RFC 9112
//!   §6.1, §6.3); httparse does not look at them. The generator writes at most
//!   one Content-Length within the body limit, no Transfer-Encoding, and
//!   renames random names that collide with either.
//! - **Target bytes**: httparse accepts any byte in `!`..=`~` and obs-text in
//!   the target; weir accepts the RFC 3986 characters only and checks `%XX`.
//!   The generator writes origin-form targets of RFC 3986 `pchar`s, `%XX`
//!   escapes and a query, plus `*` for OPTIONS.
//! - **Target form**: weir checks the form against the method (`CONNECT`
//!   takes authority-form only, `*` is for OPTIONS only, RFC 9112 §3.2);
//!   httparse does not. CONNECT is not in the method set.
//! - **Line endings and folding**: httparse accepts a bare LF and obs-fold;
//!   weir rejects both (RFC 9112 §2.2, §5.2). The generator writes CRLF only.
//!   [`mutated_requests_agree_where_both_accept`] reaches these shapes and
//!   only compares where both accept.
//! - **Version**: the one place weir is the more lenient: it takes any
//!   `HTTP/1.x` as 1.1 (a higher minor version of 1.1 is understood as 1.1,
//!   RFC 9110 §6.2), httparse only `HTTP/1.0` and `HTTP/1.1`. The generator
//!   writes those two.
//!
//! The mutation test and the corpus cover the negative side: requests near
//! valid ones, where only the parses both parsers accept are compared.

mod common;

use std::cell::Cell;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRunner};
use weir_http::{Limits, RequestParser, Version};

/// What both parsers report about a head.
#[derive(Debug, PartialEq, Eq)]
struct Parsed {
    method: Vec<u8>,
    target: Vec<u8>,
    version: Version,
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    head_len: usize,
}

/// Why a parser did not produce a head: its error, or "incomplete".
type Rejection = String;

fn weir_parse(input: &[u8]) -> Result<Parsed, Rejection> {
    match RequestParser::new(Limits::default()).parse(input) {
        Ok(Some(h)) => {
            let s = common::summarize(&h, input);
            Ok(Parsed {
                method: s.method,
                target: s.target,
                version: s.version,
                headers: s.headers,
                head_len: s.head_len,
            })
        }
        Ok(None) => Err("incomplete".into()),
        Err(e) => Err(format!("{e:?}")),
    }
}

/// httparse 1.10 strips OWS on both sides of a value itself, as weir does
/// (RFC 9112 §5: `field-line = field-name ":" OWS field-value OWS`), so the
/// values are compared as each parser returns them.
fn httparse_parse(input: &[u8]) -> Result<Parsed, Rejection> {
    let mut headers = [httparse::EMPTY_HEADER; 128];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(input) {
        Ok(httparse::Status::Complete(n)) => Ok(Parsed {
            method: req.method.expect("complete").as_bytes().to_vec(),
            target: req.path.expect("complete").as_bytes().to_vec(),
            version: if req.version.expect("complete") == 1 { Version::Http11 } else { Version::Http10 },
            headers: req.headers.iter().map(|h| (h.name.as_bytes().to_vec(), h.value.to_vec())).collect(),
            head_len: n,
        }),
        Ok(httparse::Status::Partial) => Err("incomplete".into()),
        Err(e) => Err(format!("{e:?}")),
    }
}

/// Both parses of `input`; where both accept, they must agree.
fn compare(input: &[u8]) -> (Result<Parsed, Rejection>, Result<Parsed, Rejection>) {
    let ours = weir_parse(input);
    let theirs = httparse_parse(input);
    if let (Ok(o), Ok(t)) = (&ours, &theirs) {
        assert_eq!(o, t, "weir vs httparse for {:?}", String::from_utf8_lossy(input));
    }
    (ours, theirs)
}

#[test]
fn corpus_agrees() {
    let mut both = 0;
    for input in common::CORPUS {
        let (a, b) = compare(input);
        both += usize::from(a.is_ok() && b.is_ok());
        // weir never accepts what httparse rejects on this corpus.
        assert!(
            b.is_ok() || a.is_err(),
            "weir accepted, httparse rejected: {:?}",
            String::from_utf8_lossy(input)
        );
    }
    assert!(both >= 5);
}

// ---------------------------------------------------------------- generator

/// Methods seen in practice (RFC 9110 §9, WebDAV, SSDP, cache purges).
/// CONNECT is left out: it takes an authority-form target (see the module doc).
const METHODS: &[&str] = &[
    "GET", "GET", "GET", "HEAD", "POST", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "PROPFIND",
    "MKCOL", "M-SEARCH", "PURGE",
];

/// Field names seen in practice, besides the random tokens.
const NAMES: &[&str] = &[
    "Accept",
    "Accept-Encoding",
    "Accept-Language",
    "User-Agent",
    "Cookie",
    "Referer",
    "Cache-Control",
    "If-None-Match",
    "If-Modified-Since",
    "Authorization",
    "Content-Type",
    "Connection",
    "Upgrade",
    "Expect",
    "Origin",
    "X-Forwarded-For",
    "sec-websocket-key",
];

/// `pchar` less the escapes: unreserved / sub-delims / ":" / "@" (RFC 3986 §3.3).
const PCHAR: &str = "[A-Za-z0-9._~!$&'()*+,;=:@-]";
/// `pct-encoded = "%" HEXDIG HEXDIG`.
const PCT: &str = "%[0-9A-Fa-f]{2}";

/// An origin-form target: `absolute-path [ "?" query ]` (RFC 9112 §3.2.1).
fn origin_form() -> impl Strategy<Value = String> {
    let regex = |r: String| proptest::string::string_regex(&r).expect("a valid regex");
    let segment = regex(format!("({PCHAR}|{PCT}){{0,12}}"));
    let query = regex(format!("({PCHAR}|{PCT}|[/?]){{0,40}}"));
    (proptest::collection::vec(segment, 1..6), proptest::option::of(query)).prop_map(|(segs, q)| {
        let mut t = String::new();
        for s in segs {
            t.push('/');
            t.push_str(&s);
        }
        if let Some(q) = q {
            t.push('?');
            t.push_str(&q);
        }
        t
    })
}

/// `field-value = *field-content` (RFC 9110 §5.5): visible ASCII, obs-text,
/// and SP / HTAB inside (the OWS around it is added by [`field_line`]).
fn field_value() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        8 => 0x21u8..=0x7e,
        2 => 0x80u8..=0xff,
        1 => Just(b' '),
        1 => Just(b'\t'),
    ];
    proptest::collection::vec(byte, 0..40).prop_map(|mut v| {
        // Whitespace at either end would be OWS, not part of the value.
        while v.last().is_some_and(|b| matches!(b, b' ' | b'\t')) {
            v.pop();
        }
        while v.first().is_some_and(|b| matches!(b, b' ' | b'\t')) {
            v.remove(0);
        }
        v
    })
}

/// `OWS = *( SP / HTAB )`.
fn ows() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(prop_oneof![Just(b' '), Just(b'\t')], 0..3)
}

/// `field-name = token`, realistic or random; names that decide framing or
/// the Host rules are renamed (the generator adds those deliberately).
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![proptest::sample::select(NAMES).prop_map(str::to_owned), "[!#$%&'*+.^_`|~0-9A-Za-z-]{1,20}",]
        .prop_map(|n| {
            let l = n.to_ascii_lowercase();
            if matches!(l.as_str(), "host" | "content-length" | "transfer-encoding") {
                format!("X-{n}")
            } else {
                n
            }
        })
}

/// A valid `Host` value: `uri-host [ ":" port ]` with a reg-name, an IPv4
/// address or an IPv6 literal (RFC 9110 §7.2, RFC 3986 §3.2.2).
fn host_value() -> impl Strategy<Value = String> {
    let host = prop_oneof![
        "[a-z0-9-]{1,20}(\\.[a-z0-9-]{1,20}){0,3}",
        "[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}",
        "\\[[0-9a-f]{0,4}(:[0-9a-f]{0,4}){2,7}\\]",
    ];
    (host, proptest::option::of("[0-9]{1,5}")).prop_map(|(h, port)| match port {
        Some(p) => format!("{h}:{p}"),
        None => h,
    })
}

/// One generated request, kept in parts so a failure shrinks readably.
#[derive(Clone, Debug)]
struct Request {
    empty_lines: usize,
    method: &'static str,
    target: String,
    version: &'static str,
    /// Host and Content-Length among them.
    fields: Vec<Field>,
}

/// `field-name ":" OWS field-value OWS`.
#[derive(Clone, Debug)]
struct Field {
    name: String,
    ows_before: Vec<u8>,
    value: Vec<u8>,
    ows_after: Vec<u8>,
}

impl Request {
    fn to_bytes(&self) -> Vec<u8> {
        let mut s = b"\r\n".repeat(self.empty_lines);
        s.extend_from_slice(format!("{} {} {}\r\n", self.method, self.target, self.version).as_bytes());
        for f in &self.fields {
            s.extend_from_slice(f.name.as_bytes());
            s.push(b':');
            s.extend_from_slice(&f.ows_before);
            s.extend_from_slice(&f.value);
            s.extend_from_slice(&f.ows_after);
            s.extend_from_slice(b"\r\n");
        }
        s.extend_from_slice(b"\r\n");
        s
    }
}

/// A valid request within weir's rules: see the module doc for what is left
/// out and why.
fn request() -> impl Strategy<Value = Request> {
    let max_body = Limits::default().max_body;
    let field = (field_name(), ows(), field_value(), ows())
        .prop_map(|(name, ows_before, value, ows_after)| Field { name, ows_before, value, ows_after });
    (
        // weir skips up to `max_empty_lines` (4) empty lines before a
        // request line (RFC 9112 §2.2), httparse any number.
        0usize..3,
        proptest::sample::select(METHODS),
        prop_oneof![9 => origin_form(), 1 => Just("*".to_string())],
        prop_oneof![Just("HTTP/1.1"), Just("HTTP/1.0")],
        proptest::collection::vec(field, 0..30),
        (host_value(), any::<bool>(), any::<prop::sample::Index>(), ows(), ows()),
        proptest::option::of((0..=max_body, 0usize..3, any::<prop::sample::Index>(), ows(), ows())),
    )
        .prop_map(|(empty_lines, method, target, version, mut fields, host, length)| {
            // asterisk-form is for OPTIONS only (RFC 9112 §3.2.4).
            let target = if target == "*" && method != "OPTIONS" { "/".to_string() } else { target };
            let (host, host_in_10, at, ows_before, ows_after) = host;
            if version == "HTTP/1.1" || host_in_10 {
                let at = at.index(fields.len() + 1);
                fields.insert(
                    at,
                    Field { name: "Host".into(), ows_before, value: host.into_bytes(), ows_after },
                );
            }
            if let Some((n, zeros, at, ows_before, ows_after)) = length {
                // 1*DIGIT: leading zeros are allowed.
                let value = format!("{}{n}", "0".repeat(zeros)).into_bytes();
                let at = at.index(fields.len() + 1);
                fields.insert(at, Field { name: "Content-Length".into(), ows_before, value, ows_after });
            }
            Request { empty_lines, method, target, version, fields }
        })
}

/// A runner with `cases` cases; `PROPTEST_CASES` and `PROPTEST_RNG_SEED`
/// still apply. Failures are printed, shrunk, not persisted.
///
/// XorShift, not the default ChaCha: in a debug build ChaCha took most of
/// the test's time, and these cases need variety, not a cryptographic RNG.
fn runner(cases: u32) -> TestRunner {
    let default = Config::default();
    let cases = if std::env::var_os("PROPTEST_CASES").is_some() { default.cases } else { cases };
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        rng_algorithm: RngAlgorithm::XorShift,
        ..default
    })
}

// ------------------------------------------------------------------- tests

#[test]
fn generated_valid_requests_agree() {
    let mut runner = runner(4000);
    let cases = runner.config().cases as usize;
    // Counted only on the first (non-shrinking) pass of each case.
    let (runs, compared) = (Cell::new(0usize), Cell::new(0usize));
    let result = runner.run(&request(), |req| {
        runs.set(runs.get() + 1);
        let input = req.to_bytes();
        match compare(&input) {
            (Ok(_), Ok(_)) => {
                compared.set(compared.get() + 1);
                Ok(())
            }
            (ours, theirs) => Err(TestCaseError::fail(format!(
                "a valid request was rejected: weir {:?}, httparse {:?}, input {:?}",
                ours.err(),
                theirs.err(),
                String::from_utf8_lossy(&input)
            ))),
        }
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let compared = compared.get();
    println!("{compared} of {cases} generated valid requests compared field by field");
    // Every case passed, so every case was compared: this guards against a
    // runner that silently ran fewer cases than asked.
    assert_eq!(runs.get(), cases);
    assert_eq!(compared, cases);
}

/// One edit to a valid request.
#[derive(Clone, Debug)]
enum Edit {
    Replace(prop::sample::Index, u8),
    Insert(prop::sample::Index, u8),
    Delete(prop::sample::Index),
}

/// Bytes that turn a valid request into an edge case more often than a
/// random byte would.
fn interesting_byte() -> impl Strategy<Value = u8> {
    prop_oneof![any::<u8>(), proptest::sample::select(&b"\r\n \t:/%?#\0\x7f\x80\xff"[..]),]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<prop::sample::Index>(), interesting_byte()).prop_map(|(i, b)| Edit::Replace(i, b)),
        (any::<prop::sample::Index>(), interesting_byte()).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<prop::sample::Index>().prop_map(Edit::Delete),
    ]
}

fn apply(input: &mut Vec<u8>, edit: &Edit) {
    match edit {
        Edit::Replace(i, b) if !input.is_empty() => {
            let i = i.index(input.len());
            input[i] = *b;
        }
        Edit::Insert(i, b) => {
            let i = i.index(input.len() + 1);
            input.insert(i, *b);
        }
        Edit::Delete(i) if !input.is_empty() => {
            input.remove(i.index(input.len()));
        }
        _ => {}
    }
}

/// The negative side: valid requests with one to three bytes replaced,
/// inserted or deleted. Many stay valid, many become edge cases (a bare LF,
/// a control byte, a space before a colon, a broken escape); wherever both
/// parsers accept, they must agree. The other outcomes are counted only, as
/// information: weir rejecting what httparse accepts is expected (see the
/// module doc).
#[test]
fn mutated_requests_agree_where_both_accept() {
    let mut runner = runner(4000);
    let cases = runner.config().cases as usize;
    let counts = Cell::new([0usize; 4]);
    let strategy = (request(), proptest::collection::vec(edit(), 1..4));
    let result = runner.run(&strategy, |(req, edits)| {
        let mut input = req.to_bytes();
        for e in &edits {
            apply(&mut input, e);
        }
        let (ours, theirs) = compare(&input);
        let mut c = counts.get();
        c[usize::from(ours.is_ok()) * 2 + usize::from(theirs.is_ok())] += 1;
        counts.set(c);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let [neither, only_httparse, only_weir, both] = counts.get();
    println!(
        "{cases} mutated requests: both accept {both} (compared), only httparse {only_httparse}, \
         only weir {only_weir}, neither {neither}"
    );
    // Enough edits keep the request valid that the comparison means something.
    assert!(both >= cases / 5, "only {both} of {cases} mutated requests were accepted by both");
}
