//! The configuration file: reading `weir.toml` into a [`FileConfig`].
//!
//! Every key is documented, with its default, in `docs/configuration.md`.
//! Reading never stops at the first problem: each unknown key, wrong type,
//! out-of-range value, missing directory, bad regex or dangling reference
//! is recorded with its place (see `reader`), and [`load`] returns them
//! all, sorted by line.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use weir_reactor::tls::{CertPair, TicketSecret, TlsAcceptor, TlsSettings};

use super::reader::{ConfigError, ConfigErrors, Doc, Table};
use super::{HostSpec, Limit, RateLimiter, Site, SiteBuilder, UnknownHost};
use crate::builtins::Builtins;
use crate::config::ServerConfig;

/// A log level (`--log-level`, `[log] level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Errors only.
    Error,
    /// Errors and warnings (the default).
    Warn,
    /// And one JSON line per request (the access log).
    Info,
    /// Everything.
    Debug,
}

impl LogLevel {
    /// Parses `error`, `warn`, `info` or `debug`.
    ///
    /// # Errors
    ///
    /// Any other word, with the accepted ones named.
    pub fn parse(s: &str) -> Result<LogLevel, String> {
        match s {
            "error" => Ok(LogLevel::Error),
            "warn" => Ok(LogLevel::Warn),
            "info" => Ok(LogLevel::Info),
            "debug" => Ok(LogLevel::Debug),
            other => Err(format!("expected one of error, warn, info, debug, found {other:?}")),
        }
    }
}

/// A listener of the file.
#[derive(Debug, Clone)]
pub struct ListenerSpec {
    /// The address.
    pub address: SocketAddr,
    /// TLS, with its acceptor (certificates loaded and checked).
    pub tls: Option<Arc<TlsAcceptor>>,
    /// The certificate pairs (certificate chain, key).
    pub certs: Vec<(PathBuf, PathBuf)>,
    /// The CA client certificates must verify against (mTLS), if any.
    pub client_ca: Option<PathBuf>,
    /// The `listen(2)` backlog, if set.
    pub backlog: Option<u32>,
}

/// Everything a configuration file says, checked.
#[derive(Debug)]
pub struct FileConfig {
    /// Shards (`[server] threads`); `None`: one per core.
    pub threads: Option<usize>,
    /// Pin shards to CPUs.
    pub pin: bool,
    /// Where to write the process id (for `weir reload`).
    pub pid_file: Option<PathBuf>,
    /// The built-in endpoints to install, and `ws-pubsub`.
    pub builtins: Builtins,
    /// `/ws/pubsub/:topic`.
    pub ws_pubsub: bool,
    /// Serve the built-ins that reveal or store things (echo, stats,
    /// notes) on listeners that are not loopback.
    pub expose_builtins: bool,
    /// Limits and timeouts.
    pub config: ServerConfig,
    /// The log level.
    pub log_level: LogLevel,
    /// The access log: `None` off, `Some("stdout")`, `Some("stderr")` or a file.
    pub access_log: Option<String>,
    /// `[metrics]`, carried for the metrics endpoint (not served yet).
    pub metrics_listen: Option<SocketAddr>,
    /// The listeners, in file order (listener *i* is the server's `i`-th).
    pub listeners: Vec<ListenerSpec>,
    /// The hosts and locations.
    pub site: Site,
}

const ROOT_KEYS: &[&str] =
    &["server", "builtins", "limits", "timeouts", "log", "metrics", "tls", "listener", "host", "rate_limit"];
const SERVER_KEYS: &[&str] =
    &["threads", "pin", "pid_file", "server_header", "unknown_host", "shutdown_grace", "workers"];
const BUILTIN_KEYS: &[&str] = &["enable", "expose"];
const BUILTIN_NAMES: &[&str] = &["healthz", "ping", "echo", "stats", "notes", "ws-echo", "ws-pubsub"];
const LIMIT_KEYS: &[&str] = &[
    "max_request_line",
    "max_head",
    "max_headers",
    "max_body",
    "max_pipeline",
    "max_requests_per_connection",
    "max_connections_per_shard",
];
const TIMEOUT_KEYS: &[&str] = &["head", "body", "idle", "write", "handler", "tls_handshake"];
const LOG_KEYS: &[&str] = &["level", "access", "format"];
const METRICS_KEYS: &[&str] = &["enabled", "listen", "path"];
const TLS_KEYS: &[&str] = &["ticket_key", "client_ca"];
const LISTENER_KEYS: &[&str] = &["address", "tls", "certificates", "client_ca", "hosts", "backlog"];
const CERT_KEYS: &[&str] = &["cert", "key"];
const HOST_KEYS: &[&str] = &[
    "names",
    "default",
    "root",
    "index",
    "listing",
    "hidden",
    "precompressed",
    "gzip",
    "cache_control",
    "headers",
    "rewrite",
    "rate_limit",
    "max_body",
    "location",
];
const LOCATION_KEYS: &[&str] = &[
    "exact",
    "prefix",
    "priority_prefix",
    "regex",
    "root",
    "alias",
    "index",
    "listing",
    "hidden",
    "precompressed",
    "gzip",
    "cache_control",
    "return",
    "rewrite",
    "app",
    "proxy",
    "headers",
    "rate_limit",
    "max_body",
];
const RETURN_KEYS: &[&str] = &["status", "body", "location", "content_type"];
const REWRITE_KEYS: &[&str] = &["from", "to", "redirect"];
const HEADER_KEYS: &[&str] = &["set", "remove", "hsts", "csp", "cors"];
const CACHE_KEYS: &[&str] = &["pattern", "value"];
const RATE_KEYS: &[&str] = &["name", "key", "rate", "burst", "table_size"];

/// Reads and checks the file at `path`; relative paths inside it are
/// relative to the file's directory.
///
/// # Errors
///
/// Every problem found, located; or the file cannot be read (one error at 1:1).
pub fn load(path: &Path) -> Result<FileConfig, ConfigErrors> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: shown.clone(),
            line: 1,
            column: 1,
            key: String::new(),
            message: format!("cannot read the file: {e}"),
        }])
    })?;
    let base = path.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let base = if base.as_os_str().is_empty() { PathBuf::from(".") } else { base };
    load_str(&text, &shown, &base)
}

/// Reads and checks `text` as the file named `file`, resolving relative
/// paths against `base`.
///
/// # Errors
///
/// Every problem found, located.
pub fn load_str(text: &str, file: &str, base: &Path) -> Result<FileConfig, ConfigErrors> {
    let mut doc = Doc::new(text, file);
    let (root, syntax) = toml::de::DeTable::parse_recoverable(text);
    for e in &syntax {
        let at = e.span().map_or(0, |s| s.start);
        doc.error(at, "", format!("TOML syntax: {}", e.message()));
    }
    if !syntax.is_empty() {
        // What the parser recovered is a guess: errors read from it would
        // be noise beside the real ones.
        return Err(ConfigErrors(doc.into_errors()));
    }
    let r = Reader { base: base.to_path_buf() };
    let root = Table::root(&mut doc, &root, ROOT_KEYS);
    let out = r.read(&mut doc, &root);
    let errors = doc.into_errors();
    match out {
        Some(cfg) if errors.is_empty() => Ok(cfg),
        _ => Err(ConfigErrors(errors)),
    }
}

/// `127.0.0.1:8080`, `[::1]:8080`, `:8080` (all IPv4 interfaces),
/// `localhost:8080` (127.0.0.1).
///
/// # Errors
///
/// What was expected.
pub fn parse_listen_addr(s: &str) -> Result<SocketAddr, String> {
    let expected = || {
        format!("expected an address and port such as 127.0.0.1:8080, [::1]:8080, :8080 or localhost:8080, found {s:?}")
    };
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    let (host, port) = s.rsplit_once(':').ok_or_else(expected)?;
    let port: u16 = port.parse().map_err(|_| expected())?;
    let ip = match host {
        "" | "*" => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        h if h.eq_ignore_ascii_case("localhost") => IpAddr::V4(Ipv4Addr::LOCALHOST),
        _ => return Err(expected()),
    };
    Ok(SocketAddr::new(ip, port))
}

struct Reader {
    base: PathBuf,
}

impl Reader {
    fn path(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }

    fn read(&self, doc: &mut Doc<'_>, root: &Table<'_, '_>) -> Option<FileConfig> {
        let mut config = ServerConfig::default();
        let mut threads = None;
        let mut pin = false;
        let mut pid_file = None;
        let mut server_header = None;
        let mut unknown = UnknownHost::Misdirected;
        if let Some(t) = root.table(doc, "server", SERVER_KEYS) {
            threads = t.int(doc, "threads", 1, 1024).map(|n| n as usize);
            pin = t.bool(doc, "pin").unwrap_or(false);
            pid_file = t.str(doc, "pid_file").map(|p| self.path(&p));
            server_header = t.str(doc, "server_header");
            if let Some(v) = t.get("unknown_host") {
                match (v.as_str(), v.v) {
                    (Some("close"), _) => unknown = UnknownHost::Close,
                    (_, toml::de::DeValue::Integer(i)) if i.as_str() == "421" => {
                        unknown = UnknownHost::Misdirected;
                    }
                    (_, toml::de::DeValue::Integer(i)) if i.as_str() == "404" => {
                        unknown = UnknownHost::NotFound;
                    }
                    _ => t.error(doc, "unknown_host", "expected 421, 404 or \"close\""),
                }
            }
            if let Some(d) = t.duration(doc, "shutdown_grace") {
                config.shutdown_grace = d;
            }
            if let Some(n) = t.int(doc, "workers", 1, 4096) {
                config.worker_threads = n as usize;
            }
        }

        let mut builtins = Builtins::default();
        let mut ws_pubsub = true;
        let mut expose = false;
        if let Some(t) = root.table(doc, "builtins", BUILTIN_KEYS) {
            if let Some(names) = t.str_list(doc, "enable") {
                builtins = Builtins::none();
                ws_pubsub = false;
                for n in names {
                    match n.as_str() {
                        "healthz" => builtins.healthz = true,
                        "ping" => builtins.ping = true,
                        "echo" => builtins.echo = true,
                        "stats" => builtins.stats = true,
                        "notes" => builtins.notes = true,
                        "ws-echo" => builtins.ws_echo = true,
                        "ws-pubsub" => ws_pubsub = true,
                        other => t.error(
                            doc,
                            "enable",
                            format!(
                                "unknown built-in {other:?}; expected some of: {}",
                                BUILTIN_NAMES.join(", ")
                            ),
                        ),
                    }
                }
            }
            expose = t.bool(doc, "expose").unwrap_or(false);
        }

        if let Some(t) = root.table(doc, "limits", LIMIT_KEYS) {
            let l = &mut config.limits;
            let big = u64::from(u32::MAX);
            if let Some(n) = t.size(doc, "max_request_line") {
                l.max_request_line = n as usize;
            }
            if let Some(n) = t.size(doc, "max_head") {
                l.max_head = n.min(big) as usize;
            }
            if let Some(n) = t.int(doc, "max_headers", 1, 10_000) {
                l.max_headers = n as usize;
            }
            if let Some(n) = t.size(doc, "max_body") {
                l.max_body = n;
            }
            if let Some(n) = t.int(doc, "max_pipeline", 1, 1024) {
                config.max_pipeline = n as usize;
            }
            if let Some(n) = t.int(doc, "max_requests_per_connection", 0, u64::MAX) {
                config.max_requests_per_connection = n;
            }
            if let Some(n) = t.int(doc, "max_connections_per_shard", 1, 10_000_000) {
                config.max_connections_per_shard = n as usize;
            }
        }
        if let Some(t) = root.table(doc, "timeouts", TIMEOUT_KEYS) {
            let set = |doc: &mut Doc<'_>, key: &str, slot: &mut Duration| {
                if let Some(d) = t.duration(doc, key) {
                    if d.is_zero() {
                        t.error(doc, key, "expected a duration above zero");
                    } else {
                        *slot = d;
                    }
                }
            };
            set(doc, "head", &mut config.head_timeout);
            set(doc, "body", &mut config.body_timeout);
            set(doc, "idle", &mut config.keep_alive_timeout);
            set(doc, "write", &mut config.write_timeout);
            set(doc, "handler", &mut config.handler_timeout);
            set(doc, "tls_handshake", &mut config.tls_handshake_timeout);
        }

        let mut log_level = LogLevel::Warn;
        let mut access_log = None;
        if let Some(t) = root.table(doc, "log", LOG_KEYS) {
            if let Some(l) = t.str(doc, "level") {
                match LogLevel::parse(&l) {
                    Ok(l) => log_level = l,
                    Err(e) => t.error(doc, "level", e),
                }
            }
            if let Some(a) = t.str(doc, "access") {
                access_log = match a.as_str() {
                    "off" => None,
                    "stdout" | "stderr" => Some(a),
                    path => Some(self.path(path).display().to_string()),
                };
            }
            if let Some(f) = t.str(doc, "format") {
                if f != "json" {
                    t.error(doc, "format", format!("expected \"json\" (the one format so far), found {f:?}"));
                }
            }
        }
        let mut metrics_listen = None;
        if let Some(t) = root.table(doc, "metrics", METRICS_KEYS) {
            let enabled = t.bool(doc, "enabled").unwrap_or(false);
            if let Some(a) = t.str(doc, "listen") {
                match parse_listen_addr(&a) {
                    Ok(a) if enabled => metrics_listen = Some(a),
                    Ok(_) => {}
                    Err(e) => t.error(doc, "listen", e),
                }
            }
            if let Some(p) = t.str(doc, "path") {
                if !p.starts_with('/') {
                    t.error(doc, "path", format!("expected a path starting with /, found {p:?}"));
                }
            }
        }

        let (ticket_key, client_ca) = match root.table(doc, "tls", TLS_KEYS) {
            Some(t) => (
                t.str(doc, "ticket_key").map(|p| self.path(&p)),
                t.str(doc, "client_ca").map(|p| self.path(&p)),
            ),
            None => (None, None),
        };

        // Rate limits first: hosts and locations refer to them by name.
        let mut limits: HashMap<String, Arc<Limit>> = HashMap::new();
        for t in root.tables(doc, "rate_limit", RATE_KEYS) {
            if let Some(l) = self.rate_limit(doc, &t) {
                if limits.contains_key(&l.name) {
                    t.error(doc, "name", format!("a rate limit named {:?} is already defined", l.name));
                } else {
                    limits.insert(l.name.clone(), Arc::new(l));
                }
            }
        }

        let mut site = SiteBuilder::new(unknown, server_header);
        let mut names: HashMap<String, usize> = HashMap::new();
        let mut has_default = false;
        let hosts = root.tables(doc, "host", HOST_KEYS);
        for (i, t) in hosts.iter().enumerate() {
            let spec = self.host(doc, t, &limits);
            for n in &spec.names {
                if names.insert(n.clone(), i).is_some() {
                    t.error(doc, "names", format!("{n:?} is already the name of another host"));
                }
            }
            if spec.default {
                if has_default {
                    t.error(doc, "default", "another host is already the default");
                }
                has_default = true;
            }
            site.host(spec);
        }

        let mut listeners = Vec::new();
        let mut seen = HashMap::new();
        let tables = root.tables(doc, "listener", LISTENER_KEYS);
        if tables.is_empty() {
            root.error(doc, "listener", "expected at least one [[listener]] with an address");
        }
        for t in &tables {
            let hosts = t.str_list(doc, "hosts").map(|list| {
                list.iter()
                    .filter_map(|n| {
                        let found = names.get(&n.to_ascii_lowercase()).copied();
                        if found.is_none() {
                            t.error(doc, "hosts", format!("no [[host]] is named {n:?}"));
                        }
                        found
                    })
                    .collect()
            });
            site.listener(hosts);
            let Some(spec) = self.listener(doc, t, ticket_key.as_ref(), client_ca.as_ref()) else { continue };
            if seen.insert(spec.address, ()).is_some() {
                t.error(
                    doc,
                    "address",
                    format!("{} is already the address of another listener", spec.address),
                );
            }
            listeners.push(spec);
        }

        let site = site.finish();
        Some(FileConfig {
            threads,
            pin,
            pid_file,
            builtins,
            ws_pubsub,
            expose_builtins: expose,
            config,
            log_level,
            access_log,
            metrics_listen,
            listeners,
            site,
        })
    }

    fn rate_limit(&self, doc: &mut Doc<'_>, t: &Table<'_, '_>) -> Option<Limit> {
        let name = t.str(doc, "name");
        if name.is_none() && !t.has("name") {
            t.error(doc, "name", "expected a name (hosts and locations refer to it)");
        }
        let header = match t.str(doc, "key").as_deref() {
            None | Some("ip") => None,
            Some(k) => match k.strip_prefix("header:") {
                Some(h) if !h.is_empty() => Some(h.to_ascii_lowercase()),
                _ => {
                    t.error(doc, "key", format!("expected \"ip\" or \"header:NAME\", found {k:?}"));
                    None
                }
            },
        };
        let rate = match t.get("rate") {
            None => {
                t.error(doc, "rate", "expected a rate such as \"10/s\" or \"600/m\"");
                None
            }
            Some(v) => {
                let parsed = v.as_str().and_then(parse_rate).or(match v.v {
                    toml::de::DeValue::Integer(i) => i.as_str().parse::<f64>().ok().filter(|r| *r > 0.0),
                    _ => None,
                });
                if parsed.is_none() {
                    let found = v.as_str().map_or_else(|| v.type_name().to_string(), |s| format!("{s:?}"));
                    t.error(
                        doc,
                        "rate",
                        format!("expected a rate such as \"10/s\" or \"600/m\", found {found}"),
                    );
                }
                parsed
            }
        };
        let burst = t.int(doc, "burst", 1, 1_000_000).unwrap_or(1);
        let table = t.int(doc, "table_size", 8, 1 << 24).unwrap_or(65_536);
        Some(Limit { name: name?, header, limiter: RateLimiter::new(rate?, burst as u32, table as usize) })
    }

    fn host(&self, doc: &mut Doc<'_>, t: &Table<'_, '_>, limits: &HashMap<String, Arc<Limit>>) -> HostSpec {
        let mut names = Vec::new();
        for n in t.str_list(doc, "names").unwrap_or_default() {
            let lower = n.to_ascii_lowercase();
            let body = lower.strip_prefix("*.").or_else(|| lower.strip_suffix(".*")).unwrap_or(&lower);
            let valid = !body.is_empty()
                && body.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'[' | b']' | b':')
                })
                && !body.starts_with('.')
                && !body.ends_with('.')
                && !body.contains("..");
            if valid {
                // `*.example.com` is kept as `*.example.com` (the leading
                // `*` marks it); `www.*` likewise.
                names.push(lower);
            } else {
                t.error(
                    doc,
                    "names",
                    format!("{n:?} is not a host name (expected a name, *.suffix or prefix.*)"),
                );
            }
        }
        let default = t.bool(doc, "default").unwrap_or(false);
        if names.is_empty() && !default && !t.has("names") {
            t.error(doc, "names", "expected names = [\"example.com\", ...] or default = true");
        }
        let root = t.str(doc, "root").and_then(|r| self.files(doc, t, "root", &r));
        let mut locations = Vec::new();
        for l in t.tables(doc, "location", LOCATION_KEYS) {
            if let Some(loc) = self.location(doc, &l, limits) {
                locations.push(loc);
            }
        }
        HostSpec {
            names,
            default,
            rewrites: self.rewrites(doc, t, 0),
            locations,
            root,
            headers: self.headers(doc, t),
            rate: self.rate_ref(doc, t, limits),
            max_body: t.size(doc, "max_body"),
        }
    }

    fn rate_ref(
        &self,
        doc: &mut Doc<'_>,
        t: &Table<'_, '_>,
        limits: &HashMap<String, Arc<Limit>>,
    ) -> Option<Arc<Limit>> {
        let name = t.str(doc, "rate_limit")?;
        let found = limits.get(&name).cloned();
        if found.is_none() {
            t.error(doc, "rate_limit", format!("no [[rate_limit]] is named {name:?}"));
        }
        found
    }

    fn listener(
        &self,
        doc: &mut Doc<'_>,
        t: &Table<'_, '_>,
        ticket_key: Option<&PathBuf>,
        client_ca: Option<&PathBuf>,
    ) -> Option<ListenerSpec> {
        let address = match t.str(doc, "address") {
            Some(a) => match parse_listen_addr(&a) {
                Ok(a) => Some(a),
                Err(e) => {
                    t.error(doc, "address", e);
                    None
                }
            },
            None => {
                if !t.has("address") {
                    t.error(doc, "address", "expected an address such as \"127.0.0.1:8080\"");
                }
                None
            }
        };
        let backlog = t.int(doc, "backlog", 1, 65_535).map(|n| n as u32);
        let tls = t.bool(doc, "tls").unwrap_or(false);
        let mut certs = Vec::new();
        for c in t.tables(doc, "certificates", CERT_KEYS) {
            match (c.str(doc, "cert"), c.str(doc, "key")) {
                (Some(cert), Some(key)) => certs.push((self.path(&cert), self.path(&key))),
                _ => c.error(doc, "", "expected { cert = \"site.pem\", key = \"site.key\" }"),
            }
        }
        let ca = t.str(doc, "client_ca").map(|p| self.path(&p)).or_else(|| client_ca.cloned());
        let acceptor = if tls {
            if certs.is_empty() {
                t.error(
                    doc,
                    "certificates",
                    "a TLS listener needs certificates = [{ cert = ..., key = ... }]",
                );
                None
            } else {
                let mut settings = TlsSettings::new(certs.iter().map(|(c, k)| CertPair::new(c, k)).collect());
                settings.client_ca = ca.clone();
                if let Some(k) = ticket_key {
                    settings.ticket_secret = TicketSecret::File(k.clone());
                }
                match TlsAcceptor::new(settings) {
                    Ok(a) => Some(Arc::new(a)),
                    Err(e) => {
                        t.error(doc, "certificates", format!("TLS: {e}"));
                        None
                    }
                }
            }
        } else {
            if !certs.is_empty() {
                t.error(doc, "certificates", "certificates need tls = true");
            }
            None
        };
        Some(ListenerSpec { address: address?, tls: acceptor, certs, client_ca: ca, backlog })
    }
}

/// `"10/s"`, `"600/m"`, `"1000/h"` -> requests per second.
mod location;

fn parse_rate(s: &str) -> Option<f64> {
    let (n, per) = s.split_once('/')?;
    let n: f64 = n.trim().parse().ok().filter(|n: &f64| *n > 0.0 && n.is_finite())?;
    let secs = match per.trim() {
        "s" | "sec" | "second" => 1.0,
        "m" | "min" | "minute" => 60.0,
        "h" | "hour" => 3600.0,
        _ => return None,
    };
    Some(n / secs)
}

/// The highest `$N` in a replacement.
fn highest_group(to: &str) -> Option<usize> {
    let b = to.as_bytes();
    (0..b.len().saturating_sub(1))
        .filter(|&i| b[i] == b'$' && b[i + 1].is_ascii_digit())
        .map(|i| usize::from(b[i + 1] - b'0'))
        .max()
}

/// The regex crate's multi-line error, on one line.
fn one_line(s: &str) -> String {
    s.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}
