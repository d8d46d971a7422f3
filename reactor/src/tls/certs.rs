//! Certificates: loading a PEM chain and its key, checking them, grouping
//! them into certificate sets by name, and choosing a set by SNI.
//!
//! A **certificate set** is every certificate served for the same names —
//! typically one ECDSA and one RSA certificate. A set becomes one
//! `SSL_CTX` holding both; OpenSSL then sends whichever the client's
//! `signature_algorithms` allow (RFC 8446 §4.4.2.2), ECDSA first.
//!
//! Before a set is served, each certificate is checked as a careful
//! operator would: the key matches the certificate, the certificate is
//! valid today, and the chain in the file builds (each certificate is
//! issued and signed by the next). A set that fails is refused with the
//! file and the reason, at start and at reload alike.
//!
//! Names come from the certificate's `subjectAltName` DNS entries (the
//! subject's CN only when there are none, as RFC 6125 §6.4.4 allows).
//! Choosing by SNI (RFC 6066 §3): an exact name first, then a wildcard
//! `*.example.com` for exactly one more label (`a.example.com`, not
//! `a.b.example.com` nor `example.com`, RFC 6125 §6.4.3); else the default
//! set, the first one configured.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use openssl::asn1::Asn1Time;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Private};
use openssl::x509::{X509VerifyResult, X509};

use super::TlsError;

/// A certificate chain file and its private key file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertPair {
    /// PEM: the certificate, then its intermediates in order.
    pub cert: PathBuf,
    /// PEM: the private key.
    pub key: PathBuf,
}

impl CertPair {
    /// A pair of files.
    pub fn new(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> CertPair {
        CertPair { cert: cert.into(), key: key.into() }
    }
}

/// The kind of key a certificate has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// An ECDSA key (P-256, P-384, ...).
    Ecdsa,
    /// An RSA key.
    Rsa,
    /// Ed25519 or another kind OpenSSL accepts.
    Other,
}

/// A loaded, checked certificate.
#[derive(Debug, Clone)]
pub(crate) struct Loaded {
    pub(crate) pair: CertPair,
    pub(crate) chain: Vec<X509>,
    pub(crate) key: PKey<Private>,
    pub(crate) names: Vec<String>,
    pub(crate) kind: KeyKind,
    /// Seconds since the Unix epoch at which the certificate expires.
    pub(crate) not_after_unix: i64,
}

/// What a served certificate is (for `/stats` and metrics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// The certificate file.
    pub file: PathBuf,
    /// The names it serves.
    pub names: Vec<String>,
    /// Its key's kind.
    pub kind: KeyKind,
    /// When it expires, in seconds since the Unix epoch.
    pub not_after_unix: i64,
}

impl CertInfo {
    /// Whole days from `now_unix` until it expires (negative once expired).
    pub fn days_left(&self, now_unix: i64) -> i64 {
        (self.not_after_unix - now_unix).div_euclid(86_400)
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    fs::read(path).map_err(|e| TlsError::new(path, format!("cannot read: {e}")))
}

/// Loads `pair` and checks it (key matches, valid now, chain builds).
pub(crate) fn load(pair: &CertPair) -> Result<Loaded, TlsError> {
    let pem = read(&pair.cert)?;
    let chain = X509::stack_from_pem(&pem)
        .map_err(|e| TlsError::new(&pair.cert, format!("not a PEM certificate chain: {e}")))?;
    let Some(leaf) = chain.first() else {
        return Err(TlsError::new(&pair.cert, "no certificate in the file"));
    };
    let key = PKey::private_key_from_pem(&read(&pair.key)?)
        .map_err(|e| TlsError::new(&pair.key, format!("not a PEM private key: {e}")))?;
    let public =
        leaf.public_key().map_err(|e| TlsError::new(&pair.cert, format!("unreadable public key: {e}")))?;
    if !public.public_eq(&key) {
        return Err(TlsError::new(
            &pair.key,
            format!("the private key does not match the certificate {}", pair.cert.display()),
        ));
    }
    let now = Asn1Time::days_from_now(0).map_err(|e| TlsError::new(&pair.cert, e.to_string()))?;
    if leaf.not_after() < now {
        return Err(TlsError::new(&pair.cert, format!("the certificate expired on {}", leaf.not_after())));
    }
    if leaf.not_before() > now {
        return Err(TlsError::new(
            &pair.cert,
            format!("the certificate is not valid before {}", leaf.not_before()),
        ));
    }
    for (i, pair_of) in chain.windows(2).enumerate() {
        let (cert, issuer) = (&pair_of[0], &pair_of[1]);
        let signed = issuer.public_key().ok().and_then(|k| cert.verify(&k).ok()).unwrap_or(false);
        if issuer.issued(cert) != X509VerifyResult::OK || !signed {
            return Err(TlsError::new(
                &pair.cert,
                format!(
                    "the chain does not build: certificate {} is not issued by certificate {}",
                    i + 1,
                    i + 2
                ),
            ));
        }
    }
    let names = names_of(leaf);
    if names.is_empty() {
        return Err(TlsError::new(
            &pair.cert,
            "the certificate names no host (no subjectAltName DNS entry or CN)",
        ));
    }
    let kind = match key.id() {
        Id::EC => KeyKind::Ecdsa,
        Id::RSA => KeyKind::Rsa,
        _ => KeyKind::Other,
    };
    let epoch = Asn1Time::from_unix(0).map_err(|e| TlsError::new(&pair.cert, e.to_string()))?;
    let left = epoch.diff(leaf.not_after()).map_err(|e| TlsError::new(&pair.cert, e.to_string()))?;
    let not_after_unix = i64::from(left.days) * 86_400 + i64::from(left.secs);
    Ok(Loaded { pair: pair.clone(), chain, key, names, kind, not_after_unix })
}

/// The DNS names a certificate serves, lowercased.
fn names_of(cert: &X509) -> Vec<String> {
    let mut names: Vec<String> = cert
        .subject_alt_names()
        .map(|sans| sans.iter().filter_map(|n| n.dnsname().map(str::to_ascii_lowercase)).collect())
        .unwrap_or_default();
    if names.is_empty() {
        names = cert
            .subject_name()
            .entries_by_nid(Nid::COMMONNAME)
            .filter_map(|e| e.data().to_string().ok().map(|s| s.to_ascii_lowercase()))
            .collect();
    }
    names.sort();
    names.dedup();
    names
}

/// Groups certificates into sets by their names (the order of first
/// appearance is kept: set 0 is the default). Two certificates of one kind
/// for the same names are an error: which one to serve would be a guess.
pub(crate) fn group(loaded: Vec<Loaded>) -> Result<Vec<Vec<Loaded>>, TlsError> {
    let mut sets: Vec<Vec<Loaded>> = Vec::new();
    for cert in loaded {
        match sets.iter_mut().find(|s| s[0].names == cert.names) {
            Some(set) => {
                if set.iter().any(|c| c.kind == cert.kind && c.kind != KeyKind::Other) {
                    return Err(TlsError::new(
                        &cert.pair.cert,
                        format!(
                            "a second {:?} certificate for the same names as {}",
                            cert.kind,
                            set[0].pair.cert.display()
                        ),
                    ));
                }
                set.push(cert);
            }
            None => sets.push(vec![cert]),
        }
    }
    Ok(sets)
}

/// SNI name → certificate set.
#[derive(Debug, Default)]
pub(crate) struct NameMap {
    exact: HashMap<String, usize>,
    /// `*.example.com` is stored as `example.com`.
    wildcard: HashMap<String, usize>,
}

impl NameMap {
    /// The map of `sets`' names; a name claimed by two sets goes to the first.
    pub(crate) fn new<'a>(sets: impl IntoIterator<Item = &'a [String]>) -> NameMap {
        let mut map = NameMap::default();
        for (i, names) in sets.into_iter().enumerate() {
            for name in names {
                match name.strip_prefix("*.") {
                    Some(parent) => map.wildcard.entry(parent.to_owned()).or_insert(i),
                    None => map.exact.entry(name.clone()).or_insert(i),
                };
            }
        }
        map
    }

    /// The set serving `host` (already lowercased, no trailing dot), if any.
    pub(crate) fn find(&self, host: &str) -> Option<usize> {
        if let Some(&i) = self.exact.get(host) {
            return Some(i);
        }
        let (first, parent) = host.split_once('.')?;
        if first.is_empty() || parent.is_empty() {
            return None;
        }
        self.wildcard.get(parent).copied()
    }
}

/// The host name of a ClientHello's `server_name` extension body (RFC 6066
/// §3), lowercased and without a trailing dot; `None` if absent or malformed.
pub(crate) fn parse_sni(ext: &[u8]) -> Option<String> {
    let list_len = usize::from(u16::from_be_bytes([*ext.first()?, *ext.get(1)?]));
    let mut list = ext.get(2..2 + list_len)?;
    while list.len() >= 3 {
        let kind = list[0];
        let len = usize::from(u16::from_be_bytes([list[1], list[2]]));
        let name = list.get(3..3 + len)?;
        if kind == 0 {
            let name = std::str::from_utf8(name).ok()?;
            let name = name.strip_suffix('.').unwrap_or(name);
            let valid = !name.is_empty()
                && name.len() <= 253
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
            return valid.then(|| name.to_ascii_lowercase());
        }
        list = &list[3 + len..];
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sni(host: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        let entry_len = 3 + host.len();
        v.extend_from_slice(&u16::try_from(entry_len).unwrap().to_be_bytes());
        v.push(0);
        v.extend_from_slice(&u16::try_from(host.len()).unwrap().to_be_bytes());
        v.extend_from_slice(host);
        v
    }

    #[test]
    fn sni_is_parsed_lowercased_and_bounded() {
        assert_eq!(parse_sni(&sni(b"Example.COM")).as_deref(), Some("example.com"));
        assert_eq!(parse_sni(&sni(b"example.com.")).as_deref(), Some("example.com"));
        assert_eq!(parse_sni(&sni(b"bad host")), None);
        assert_eq!(parse_sni(&sni(b"")), None);
        let mut cut = sni(b"example.com");
        cut.truncate(8);
        assert_eq!(parse_sni(&cut), None);
        assert_eq!(parse_sni(&[]), None);
        assert_eq!(parse_sni(&[0, 9, 0]), None);
    }

    #[test]
    fn exact_beats_wildcard_and_wildcards_cover_one_label() {
        let a = vec!["a.example.com".to_owned()];
        let star = vec!["*.example.com".to_owned()];
        let other = vec!["other.test".to_owned(), "a.example.com".to_owned()];
        let map = NameMap::new([a.as_slice(), star.as_slice(), other.as_slice()]);
        assert_eq!(map.find("a.example.com"), Some(0)); // exact, and first claim wins
        assert_eq!(map.find("b.example.com"), Some(1));
        assert_eq!(map.find("x.b.example.com"), None);
        assert_eq!(map.find("example.com"), None);
        assert_eq!(map.find("other.test"), Some(2));
        assert_eq!(map.find("nothing"), None);
    }
}
