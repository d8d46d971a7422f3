//! The target of a run: `http://host[:port][/path][?query]`, `ws://...`,
//! or their TLS forms `https://` and `wss://` (default port 443), resolved
//! to socket addresses, and the loopback guard.
//!
//! A load generator is a small denial-of-service tool, so by default it
//! refuses any target that does not resolve *only* to loopback addresses
//! (`127.0.0.0/8`, `::1`, and `::ffff:127.x.y.z`); `--allow-remote` lifts
//! that. The host as written is also the TLS server name (SNI), unless it
//! is an IP address literal, which SNI cannot carry (RFC 6066 §3).

use std::fmt;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

/// The protocol spoken to the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// HTTP/1.1 requests.
    Http,
    /// A WebSocket echo endpoint.
    Ws,
}

/// A parsed URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `http` or `ws` (with [`Target::tls`]: `https` or `wss`).
    pub scheme: Scheme,
    /// `https://` or `wss://`: the connection speaks TLS.
    pub tls: bool,
    /// The host as written (a name, an IPv4 address, or an IPv6 address without brackets).
    pub host: String,
    /// The port (default 80, or 443 with TLS).
    pub port: u16,
    /// The request target: path and query, at least `/`.
    pub path: String,
}

/// Why a URL was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlError(pub String);

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UrlError {}

fn err(msg: impl Into<String>) -> UrlError {
    UrlError(msg.into())
}

impl Target {
    /// Parses `scheme://authority[/path]`. No user info, no fragments.
    ///
    /// # Errors
    ///
    /// An unsupported scheme, an empty or malformed host, a bad port.
    pub fn parse(url: &str) -> Result<Target, UrlError> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| err(format!("{url:?}: expected http://HOST[:PORT][/PATH] or ws://...")))?;
        let (scheme, tls) = match scheme.to_ascii_lowercase().as_str() {
            "http" => (Scheme::Http, false),
            "ws" => (Scheme::Ws, false),
            "https" => (Scheme::Http, true),
            "wss" => (Scheme::Ws, true),
            other => return Err(err(format!("unsupported scheme {other:?}"))),
        };
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        let path = match path {
            "" => "/".to_string(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_string(),
        };
        if path.contains('#') || path.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(err(format!(
                "{path:?}: fragments, spaces and control bytes are not allowed in the path"
            )));
        }
        if authority.contains('@') {
            return Err(err("user info in the URL is not supported"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(|| err("unterminated [IPv6] address"))?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or_else(|| err(format!("junk after ]: {p:?}")))?),
            };
            host.parse::<std::net::Ipv6Addr>().map_err(|_| err(format!("bad IPv6 address {host:?}")))?;
            (host, port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(err("empty host"));
        }
        let port = match port {
            None => default_port(tls),
            Some(p) => {
                p.parse::<u16>().ok().filter(|&p| p != 0).ok_or_else(|| err(format!("bad port {p:?}")))?
            }
        };
        Ok(Target { scheme, tls, host: host.to_string(), port, path })
    }

    /// The `Host` header value: `host[:port]` (no port when it is the
    /// scheme's default), IPv6 in brackets.
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        if self.port == default_port(self.tls) {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// Resolves the host (DNS or literal) to its socket addresses.
    ///
    /// # Errors
    ///
    /// The resolver's error, or no address at all.
    pub fn resolve(&self) -> std::io::Result<Vec<SocketAddr>> {
        let addrs: Vec<SocketAddr> = (self.host.as_str(), self.port).to_socket_addrs()?.collect();
        if addrs.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{}: no address", self.host),
            ));
        }
        Ok(addrs)
    }
}

/// 443 for `https`/`wss`, 80 otherwise.
fn default_port(tls: bool) -> u16 {
    if tls {
        443
    } else {
        80
    }
}

/// True for `127.0.0.0/8`, `::1` and IPv4-mapped loopback.
pub fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    }
}

/// The loopback guard: `Ok` when every address is loopback or `allow_remote`.
///
/// # Errors
///
/// Names the first address that is not loopback.
pub fn check_loopback(addrs: &[SocketAddr], allow_remote: bool) -> Result<(), UrlError> {
    if allow_remote {
        return Ok(());
    }
    match addrs.iter().find(|a| !is_loopback(a.ip())) {
        None => Ok(()),
        Some(a) => Err(err(format!(
            "{a} is not a loopback address; weir bench only loads remote hosts with --allow-remote"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let t = |s: &str| Target::parse(s).unwrap();
        let cases: &[(&str, Scheme, bool, &str, u16, &str)] = &[
            ("http://127.0.0.1:8080/plaintext", Scheme::Http, false, "127.0.0.1", 8080, "/plaintext"),
            ("http://localhost", Scheme::Http, false, "localhost", 80, "/"),
            ("HTTP://localhost:1/a?b=c", Scheme::Http, false, "localhost", 1, "/a?b=c"),
            ("http://localhost?x=1", Scheme::Http, false, "localhost", 80, "/?x=1"),
            ("ws://[::1]:9000/ws/echo", Scheme::Ws, false, "::1", 9000, "/ws/echo"),
            ("ws://[::1]", Scheme::Ws, false, "::1", 80, "/"),
            ("https://localhost/", Scheme::Http, true, "localhost", 443, "/"),
            ("HTTPS://127.0.0.1:8443/ping", Scheme::Http, true, "127.0.0.1", 8443, "/ping"),
            ("wss://[::1]/ws/echo", Scheme::Ws, true, "::1", 443, "/ws/echo"),
            ("wss://localhost:80", Scheme::Ws, true, "localhost", 80, "/"),
        ];
        for &(url, scheme, tls, host, port, path) in cases {
            let want = Target { scheme, tls, host: host.into(), port, path: path.into() };
            assert_eq!(t(url), want, "{url}");
        }
        assert_eq!(t("http://[::1]:81/").host_header(), "[::1]:81");
        assert_eq!(t("http://a/").host_header(), "a");
        assert_eq!(t("http://a:443/").host_header(), "a:443");
        assert_eq!(t("https://a/").host_header(), "a");
        assert_eq!(t("https://a:443/").host_header(), "a");
        assert_eq!(t("wss://a:80/").host_header(), "a:80");
    }

    #[test]
    fn refuses_bad_urls() {
        for url in [
            "127.0.0.1:80",
            "httpss://localhost/",
            "ftp://localhost/",
            "http://",
            "http://:80/",
            "http://localhost:0/",
            "http://localhost:99999/",
            "http://localhost:x/",
            "http://[::1/",
            "http://[::1]x/",
            "http://[zz]/",
            "http://u@localhost/",
            "http://localhost/a b",
            "http://localhost/#frag",
        ] {
            assert!(Target::parse(url).is_err(), "{url} accepted");
        }
    }

    #[test]
    fn loopback_guard() {
        let a = |s: &str| -> SocketAddr { s.parse().unwrap() };
        assert!(check_loopback(&[a("127.0.0.1:80"), a("127.9.9.9:1"), a("[::1]:80")], false).is_ok());
        assert!(check_loopback(&[a("[::ffff:127.0.0.1]:80")], false).is_ok());
        assert!(check_loopback(&[a("127.0.0.1:80"), a("10.0.0.1:80")], false).is_err());
        assert!(check_loopback(&[a("[::2]:80")], false).is_err());
        assert!(check_loopback(&[a("0.0.0.0:80")], false).is_err());
        assert!(check_loopback(&[a("10.0.0.1:80")], true).is_ok());
        let local = Target::parse("http://localhost:9/").unwrap().resolve().unwrap();
        assert!(check_loopback(&local, false).is_ok());
    }
}
