//! Negotiating permessage-deflate from `Sec-WebSocket-Extensions` (RFC 7692 §5, §7.1).
//!
//! The client lists offers in preference order; the server accepts at most
//! one per extension and answers with the agreed parameters:
//!
//! ```text
//! Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, permessage-deflate
//! Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover
//! ```
//!
//! Grammar (RFC 6455 §9.1, values per RFC 7692 §7.1):
//!
//! ```text
//! Sec-WebSocket-Extensions = extension-list
//! extension-list = 1#extension
//! extension = extension-token *( ";" extension-param )
//! extension-param = token [ "=" (token | quoted-string) ]
//! ```
//!
//! # Rules per parameter (RFC 7692 §7.1)
//!
//! An offer is *declined* (we look at the next one) if it has an unknown
//! parameter, a parameter twice, or an invalid value (§7.1: "A server MUST
//! decline an extension negotiation offer for this extension if any of the
//! following conditions are met ...").
//!
//! | parameter | in the offer means | our response |
//! |---|---|---|
//! | `server_no_context_takeover` | client wants us to reset per message | echoed; also sent unasked when [`DeflateOptions::server_no_context_takeover`] (allowed by §7.1.1.1) |
//! | `client_no_context_takeover` | client will reset per message (hint) | echoed if offered or configured (§7.1.1.2 lets the server send it unasked) |
//! | `server_max_window_bits=N` | our window must be ≤ N | `min(N, our max)`; never sent unasked; N = 8 is accepted but then we never compress |
//! | `client_max_window_bits[=N]` | client can limit its window | `min(N, our wish)` if that is < 15; must not be sent when not offered |

use crate::deflate::DeflateConfig;
use crate::handshake::DeflateOptions;

/// The parameters of one `permessage-deflate` offer, checked for syntax.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Offer {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: offered without a value.
    client_max_window_bits: Option<Option<u8>>,
}

/// Picks the first acceptable permessage-deflate offer from the
/// `Sec-WebSocket-Extensions` header values (in order), or `None`.
pub(crate) fn negotiate<'a>(
    values: impl IntoIterator<Item = &'a [u8]>,
    opts: &DeflateOptions,
) -> Option<DeflateConfig> {
    for value in values {
        let mut found = None;
        let parsed = parse_extension_list(value, &mut |name, params| {
            if found.is_some() || !name.eq_ignore_ascii_case(b"permessage-deflate") {
                return;
            }
            if let Some(offer) = parse_offer(params) {
                found = Some(accept(&offer, opts));
            }
        });
        // A malformed header value is ignored as a whole: no offer in it is trusted.
        if parsed.is_ok() {
            if let Some(cfg) = found {
                return Some(cfg);
            }
        }
    }
    None
}

fn accept(offer: &Offer, opts: &DeflateOptions) -> DeflateConfig {
    let local_server = opts.server_max_window_bits.clamp(9, 15);
    let server_max_window_bits = offer.server_max_window_bits.map(|n| n.min(local_server));
    let client_max_window_bits = offer.client_max_window_bits.and_then(|offered| {
        let want = offered.unwrap_or(15).min(opts.client_max_window_bits.clamp(8, 15));
        (want < 15).then_some(want)
    });
    DeflateConfig {
        server_no_context_takeover: offer.server_no_context_takeover || opts.server_no_context_takeover,
        client_no_context_takeover: offer.client_no_context_takeover || opts.client_no_context_takeover,
        server_max_window_bits,
        client_max_window_bits,
        local_max_window_bits: local_server,
        threshold: u32::try_from(opts.threshold).unwrap_or(u32::MAX),
        level: opts.level.min(9),
    }
}

/// Checks one offer's parameters; `None` declines it.
fn parse_offer(params: &[(&[u8], Option<Vec<u8>>)]) -> Option<Offer> {
    let mut o = Offer::default();
    let mut seen = [false; 4];
    for (name, value) in params {
        let idx = match &name.to_ascii_lowercase()[..] {
            b"server_no_context_takeover" => {
                value.is_none().then_some(())?;
                o.server_no_context_takeover = true;
                0
            }
            b"client_no_context_takeover" => {
                value.is_none().then_some(())?;
                o.client_no_context_takeover = true;
                1
            }
            b"server_max_window_bits" => {
                o.server_max_window_bits = Some(parse_window_bits(value.as_deref()?)?);
                2
            }
            b"client_max_window_bits" => {
                o.client_max_window_bits = Some(match value {
                    None => None,
                    Some(v) => Some(parse_window_bits(v)?),
                });
                3
            }
            _ => return None,
        };
        if std::mem::replace(&mut seen[idx], true) {
            return None; // duplicate parameter
        }
    }
    Some(o)
}

/// `1*DIGIT` without leading zeros, 8..=15 (§7.1.2.1).
fn parse_window_bits(v: &[u8]) -> Option<u8> {
    match v {
        [d @ b'8'..=b'9'] => Some(d - b'0'),
        [b'1', d @ b'0'..=b'5'] => Some(10 + d - b'0'),
        _ => None,
    }
}

fn is_tchar(c: u8) -> bool {
    // RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "."
    //                          / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn ows(&mut self) {
        while matches!(self.s.get(self.i), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn token(&mut self) -> Result<&'a [u8], ()> {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        if self.i == start {
            Err(())
        } else {
            Ok(&self.s[start..self.i])
        }
    }
    /// quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE, unescaped.
    fn quoted(&mut self) -> Result<Vec<u8>, ()> {
        self.i += 1; // opening quote
        let mut out = Vec::new();
        loop {
            match self.peek().ok_or(())? {
                b'"' => {
                    self.i += 1;
                    return Ok(out);
                }
                b'\\' => {
                    let c = *self.s.get(self.i + 1).ok_or(())?;
                    out.push(c);
                    self.i += 2;
                }
                c if c == b'\t' || c >= 0x20 && c != 0x7f => {
                    out.push(c);
                    self.i += 1;
                }
                _ => return Err(()),
            }
        }
    }
}

type Params<'a> = Vec<(&'a [u8], Option<Vec<u8>>)>;

/// Parses one header value, calling `on_ext(name, params)` per extension.
/// Empty list elements (`a, , b`) are allowed as in RFC 9110 §5.6.1.
fn parse_extension_list<'a>(
    value: &'a [u8],
    on_ext: &mut dyn FnMut(&'a [u8], &Params<'a>),
) -> Result<(), ()> {
    let mut c = Cursor { s: value, i: 0 };
    loop {
        c.ows();
        match c.peek() {
            None => return Ok(()),
            Some(b',') => {
                c.i += 1;
                continue;
            }
            Some(_) => {}
        }
        let name = c.token()?;
        let mut params: Params<'a> = Vec::new();
        loop {
            c.ows();
            match c.peek() {
                Some(b';') => {
                    c.i += 1;
                    c.ows();
                    let pname = c.token()?;
                    c.ows();
                    let mut pvalue = None;
                    if c.peek() == Some(b'=') {
                        c.i += 1;
                        c.ows();
                        pvalue = Some(if c.peek() == Some(b'"') {
                            // RFC 7692 §7.1: a quoted value must still be a token.
                            let v = c.quoted()?;
                            if v.is_empty() || !v.iter().all(|&b| is_tchar(b)) {
                                return Err(());
                            }
                            v
                        } else {
                            c.token()?.to_vec()
                        });
                    }
                    params.push((pname, pvalue));
                }
                Some(b',') | None => break,
                Some(_) => return Err(()),
            }
        }
        on_ext(name, &params);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> DeflateOptions {
        DeflateOptions {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            ..DeflateOptions::default()
        }
    }

    fn neg(values: &[&str], o: &DeflateOptions) -> Option<String> {
        negotiate(values.iter().map(|v| v.as_bytes()), o).map(|c| {
            let mut out = Vec::new();
            c.write_response_value(&mut out);
            String::from_utf8(out).unwrap()
        })
    }

    #[test]
    fn offers_and_responses() {
        let o = opts();
        let cases: &[(&[&str], Option<&str>)] = &[
            (&["permessage-deflate"], Some("permessage-deflate")),
            (&["x-webkit-deflate-frame"], None),
            (&["foo, permessage-deflate; client_max_window_bits"], Some("permessage-deflate")),
            (
                &["permessage-deflate; server_max_window_bits=10"],
                Some("permessage-deflate; server_max_window_bits=10"),
            ),
            (
                &["permessage-deflate; server_max_window_bits=\"12\""],
                Some("permessage-deflate; server_max_window_bits=12"),
            ),
            // 8 is agreed (we then send uncompressed messages).
            (
                &["permessage-deflate; server_max_window_bits=8"],
                Some("permessage-deflate; server_max_window_bits=8"),
            ),
            (
                &["permessage-deflate; client_max_window_bits=9"],
                Some("permessage-deflate; client_max_window_bits=9"),
            ),
            (
                &["permessage-deflate; server_no_context_takeover; client_no_context_takeover"],
                Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
            ),
            // Declined offers fall through to the next one.
            (
                &["permessage-deflate; server_max_window_bits=16, permessage-deflate"],
                Some("permessage-deflate"),
            ),
            (&["permessage-deflate; server_max_window_bits=08"], None),
            (&["permessage-deflate; server_max_window_bits"], None),
            (&["permessage-deflate; server_no_context_takeover=1"], None),
            (&["permessage-deflate; server_no_context_takeover; server_no_context_takeover"], None),
            (&["permessage-deflate; mystery"], None),
            (&["permessage-deflate; client_max_window_bits=7"], None),
            // Several header fields: the first acceptable offer wins.
            (
                &["permessage-deflate; bogus", "permessage-deflate; client_no_context_takeover"],
                Some("permessage-deflate; client_no_context_takeover"),
            ),
            // Malformed header value: ignored entirely.
            (&["permessage-deflate; =", "permessage-deflate"], Some("permessage-deflate")),
            (&["permessage-deflate;;"], None),
            (&["permessage-deflate; a=\"b"], None),
        ];
        for (values, want) in cases {
            assert_eq!(neg(values, &o).as_deref(), *want, "{values:?}");
        }
    }

    #[test]
    fn autobahn_13_offers() {
        // Autobahn 13.x offers (requestNoContextTakeover, requestMaxWindowBits) pairs
        // as "server_*" params, always with a bare client_max_window_bits.
        let o = opts();
        let cases: &[(&str, &str)] = &[
            ("permessage-deflate; client_max_window_bits", "permessage-deflate"),
            ("permessage-deflate; client_no_context_takeover; client_max_window_bits", "permessage-deflate; client_no_context_takeover"),
            ("permessage-deflate; server_max_window_bits=9; client_max_window_bits", "permessage-deflate; server_max_window_bits=9"),
            ("permessage-deflate; server_max_window_bits=15; client_max_window_bits", "permessage-deflate; server_max_window_bits=15"),
            (
                "permessage-deflate; server_no_context_takeover; server_max_window_bits=8; client_max_window_bits",
                "permessage-deflate; server_no_context_takeover; server_max_window_bits=8",
            ),
        ];
        for (offer, want) in cases {
            assert_eq!(neg(&[offer], &o).as_deref(), Some(*want), "{offer}");
        }
    }

    #[test]
    fn server_preferences() {
        let o = DeflateOptions {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: 12,
            client_max_window_bits: 10,
            ..DeflateOptions::default()
        };
        // Not offered: window params are not sent; no-context-takeover is.
        let c = negotiate([&b"permessage-deflate"[..]], &o).unwrap();
        assert_eq!(c.server_max_window_bits, None);
        assert_eq!(c.client_max_window_bits, None);
        assert!(c.server_no_context_takeover && c.client_no_context_takeover);
        assert_eq!(c.compress_window_bits(), Some(12));
        assert_eq!(c.inflate_window_bits(), 15);
        // Offered: clamped to our wishes.
        let c =
            negotiate([&b"permessage-deflate; server_max_window_bits=14; client_max_window_bits"[..]], &o)
                .unwrap();
        assert_eq!(c.server_max_window_bits, Some(12));
        assert_eq!(c.client_max_window_bits, Some(10));
        assert_eq!(c.inflate_window_bits(), 10);
        let c = negotiate([&b"permessage-deflate; server_max_window_bits=8"[..]], &o).unwrap();
        assert_eq!(c.compress_window_bits(), None);
    }
}
