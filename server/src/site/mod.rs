//! A site described by a configuration file: virtual hosts, locations,
//! rewrites, header rules and rate limits, compiled for lookup.
//!
//! ```text
//!   weir.toml ──(file: read, check every key, compile regexes)──> FileConfig { .., site: Site }
//!
//!   request ──> host (listener's hosts, Host header) ──> host rewrites
//!           ──> location (exact > longest priority prefix > first regex > longest prefix)
//!           ──> rate limit ──> rewrite (internal: choose again; redirect: answer)
//!           ──> action: directory | return | app routes ──> header rules on the answer
//! ```
//!
//! A [`Site`] is immutable once built. The server holds the current one in
//! a [`SiteCell`]; a reload builds a new `Site` and swaps it in, and each
//! shard picks it up at its next request (see `conn::h1::site`): a request
//! runs under the site it started with from its first line to its answer.
//!
//! # Location precedence (as nginx's)
//!
//! 1. an `exact` location equal to the path wins at once;
//! 2. otherwise the longest `prefix` / `priority_prefix` the path starts
//!    with is remembered; if it is a `priority_prefix`, it wins;
//! 3. otherwise the `regex` locations are tried in file order; the first
//!    that matches wins (its captures are `$1`..`$9`);
//! 4. otherwise the remembered longest prefix wins;
//! 5. otherwise the host's own `root` serves, or the app's routes answer.
//!
//! # Host selection
//!
//! The `Host` header (port and a trailing dot removed, lower-cased) is
//! looked up among the hosts the connection's listener serves: an exact
//! name, then the longest `*.suffix` wildcard, then the longest `prefix.*`
//! wildcard, then the default host; with none, the `unknown_host` answer
//! (421, 404, or closing the connection).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use regex::Regex;
use weir_reactor::WorkerPool;

use crate::header::{HeaderName, HeaderValue};
use crate::middleware::{Cors, Middleware};
use crate::request::Request;
use crate::response::{Body, Response};
use crate::static_files::StaticFiles;

pub mod file;
pub mod rate;
mod reader;

pub use self::file::{load, load_str, parse_listen_addr, FileConfig, ListenerSpec, LogLevel};
pub use self::rate::{RateLimiter, Verdict};
pub use self::reader::{ConfigError, ConfigErrors};

/// The most internal rewrites one request may go through (nginx: 10);
/// past it, 500 (a rewrite loop in the file).
const MAX_REWRITES: usize = 10;

/// What a client whose `Host` names no virtual host gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownHost {
    /// `421 Misdirected Request` (the default).
    Misdirected,
    /// `404 Not Found`.
    NotFound,
    /// The connection is closed without an answer.
    Close,
}

/// A compiled site: what the configuration file's hosts say.
pub struct Site {
    pub(crate) hosts: Vec<VHost>,
    exact: HashMap<String, usize>,
    /// `*.example.com` as (`.example.com`, host), longest first.
    leading: Vec<(String, usize)>,
    /// `www.example.*` as (`www.example.`, host), longest first.
    trailing: Vec<(String, usize)>,
    default: Option<usize>,
    /// Per listener (by index): the hosts it serves; `None`: all of them.
    listeners: Vec<Option<Vec<bool>>>,
    pub(crate) unknown: UnknownHost,
    /// The `Server` header added to every answer, as header rules. run around every answer.
    pub(crate) server_rules: Option<Arc<dyn Middleware>>,
}

impl std::fmt::Debug for Site {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Site")
            .field("hosts", &self.host_names())
            .field("unknown", &self.unknown)
            .finish_non_exhaustive()
    }
}

/// One virtual host.
#[derive(Debug)]
pub(crate) struct VHost {
    pub(crate) name: String,
    rewrites: Vec<Rewrite>,
    locations: Vec<Location>,
    exact: HashMap<String, usize>,
    /// (prefix, is priority, location), longest first.
    prefixes: Vec<(String, bool, usize)>,
    /// (regex, location), in file order.
    regexes: Vec<(Regex, usize)>,
    /// The same regexes as one set: a path is scanned once to learn which
    /// match, instead of once per regex (`None` while there are none).
    regex_set: Option<regex::RegexSet>,
    /// The host's own directory, for paths no location matches.
    root: Option<Arc<StaticFiles>>,
    headers: Option<Arc<HeaderRules>>,
    rate: Option<Arc<Limit>>,
    max_body: Option<u64>,
}

/// How a location is matched.
#[derive(Debug)]
pub(crate) enum Match {
    Exact(String),
    Prefix(String),
    PriorityPrefix(String),
    Regex(Regex),
}

/// One location of a host.
#[derive(Debug)]
pub(crate) struct Location {
    rewrites: Vec<Rewrite>,
    action: Action,
    headers: Option<Arc<HeaderRules>>,
    rate: Option<Arc<Limit>>,
    max_body: Option<u64>,
}

/// What a location does with a request.
#[derive(Debug)]
pub(crate) enum Action {
    /// Serve files; the path minus `mount` is looked up under the root
    /// (`root`: mount is empty, the whole path; `alias`: the prefix).
    Files { files: Arc<StaticFiles>, mount: String },
    /// Answer with a status and a body or a `Location`.
    Return(Return),
    /// Hand the request to the application's routes.
    App,
    /// Only rewrites and headers: what the host does otherwise.
    Fallback,
}

/// A `return`.
#[derive(Debug, Clone)]
pub(crate) struct Return {
    pub(crate) status: u16,
    pub(crate) location: Option<String>,
    pub(crate) body: Option<String>,
    pub(crate) content_type: Option<String>,
}

/// A `rewrite` rule: `from` (a regex) to `to` (with `$1`.., `$host`, ...).
#[derive(Debug)]
pub(crate) struct Rewrite {
    pub(crate) from: Regex,
    pub(crate) to: String,
    /// `None`: internal (the location is chosen again); else a redirect.
    pub(crate) redirect: Option<u16>,
}

/// A named rate limit and what it counts by.
#[derive(Debug)]
pub struct Limit {
    pub(crate) name: String,
    /// `None`: the client's address; else this request header's value
    /// (requests without it count by address).
    pub(crate) header: Option<String>,
    pub(crate) limiter: RateLimiter,
}

/// Response header edits, and a CORS preset.
#[derive(Debug, Default)]
pub(crate) struct HeaderRules {
    pub(crate) set: Vec<(HeaderName, HeaderValue)>,
    pub(crate) remove: Vec<String>,
    pub(crate) cors: Option<Cors>,
}

impl Middleware for HeaderRules {
    fn before(&self, req: &Request<'_>) -> Option<Response> {
        self.cors.as_ref()?.before(req)
    }

    fn after(&self, req: &Request<'_>, resp: &mut Response) {
        if !self.remove.is_empty() || !self.set.is_empty() {
            resp.headers.retain(|(n, _)| {
                let n = n.as_str();
                !self.remove.iter().any(|r| r.eq_ignore_ascii_case(n))
                    && !self.set.iter().any(|(s, _)| s.as_str().eq_ignore_ascii_case(n))
            });
            for (n, v) in &self.set {
                resp.add_header(n.clone(), v.clone());
            }
        }
        if let Some(cors) = &self.cors {
            cors.after(req, resp);
        }
    }
}

/// What the site decided for a request.
pub(crate) struct Decision<'s> {
    pub(crate) then: Then<'s>,
    /// Header rules to run around the answer: the host's, then the location's.
    pub(crate) rules: Vec<Arc<dyn Middleware>>,
    /// The path after internal rewrites, if it changed.
    pub(crate) path: Option<String>,
    /// The query after internal rewrites, if it changed.
    pub(crate) query: Option<Option<String>>,
    /// The body limit of the host or location, if tighter than the server's.
    pub(crate) max_body: Option<u64>,
}

/// The action decided.
pub(crate) enum Then<'s> {
    Respond(Response),
    Close,
    Files(&'s StaticFiles, &'s str),
    App,
}

impl std::fmt::Debug for Then<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Then::Respond(r) => write!(f, "Respond({})", r.status()),
            Then::Close => f.write_str("Close"),
            Then::Files(files, mount) => write!(f, "Files({}, {mount:?})", files.root().display()),
            Then::App => f.write_str("App"),
        }
    }
}

/// What the site needs to know of a request.
pub(crate) struct Inbound<'r> {
    /// The listener's index in the file (`None`: a listener the file did
    /// not declare, which serves every host).
    pub(crate) listener: Option<usize>,
    pub(crate) host: Option<&'r [u8]>,
    /// The routing path (decoded, normalised).
    pub(crate) path: &'r str,
    pub(crate) query: Option<&'r str>,
    /// The request target as sent (`$request_uri`).
    pub(crate) target: &'r [u8],
    /// The request header named so, for rate limits by header.
    pub(crate) header: &'r dyn Fn(&str) -> Option<&'r [u8]>,
    /// The client's address, for rate limits (asked for only when needed).
    pub(crate) peer: &'r dyn Fn() -> Option<std::net::IpAddr>,
    /// Now, for rate limits, in nanoseconds of a monotonic clock.
    pub(crate) now_ns: u64,
}

impl Site {
    /// The host index for a `Host` header on `listener`.
    pub(crate) fn select_host(&self, listener: Option<usize>, host: Option<&[u8]>) -> Option<usize> {
        let allowed = listener.and_then(|l| self.listeners.get(l)).and_then(Option::as_ref);
        let ok = |i: &usize| match allowed {
            None => true,
            Some(a) => a.get(*i).copied().unwrap_or(false),
        };
        let name = host.map(normalize_host).unwrap_or_default();
        if !name.is_empty() {
            if let Some(i) = self.exact.get(&name).filter(|i| ok(i)) {
                return Some(*i);
            }
            for (suffix, i) in &self.leading {
                if name.len() > suffix.len() && name.ends_with(suffix.as_str()) && ok(i) {
                    return Some(*i);
                }
            }
            for (prefix, i) in &self.trailing {
                if name.len() > prefix.len() && name.starts_with(prefix.as_str()) && ok(i) {
                    return Some(*i);
                }
            }
        }
        if let Some(i) = self.default.filter(ok) {
            return Some(i);
        }
        // A listener serving one host answers for it whatever the name.
        match allowed {
            Some(a) if a.iter().filter(|x| **x).count() == 1 => a.iter().position(|x| *x),
            _ => None,
        }
    }

    /// Decides what to do with a request.
    pub(crate) fn decide(&self, rq: &Inbound<'_>) -> Decision<'_> {
        let mut d = Decision { then: Then::App, rules: Vec::new(), path: None, query: None, max_body: None };
        let Some(h) = self.select_host(rq.listener, rq.host) else {
            d.then = match self.unknown {
                UnknownHost::Misdirected => Then::Respond(Response::error(421)),
                UnknownHost::NotFound => Then::Respond(Response::error(404)),
                UnknownHost::Close => Then::Close,
            };
            return d;
        };
        let host = &self.hosts[h];
        if let Some(r) = &host.headers {
            d.rules.push(r.clone());
        }
        d.max_body = host.max_body;
        if let Some(limit) = &host.rate {
            if let Some(resp) = limit.check(rq) {
                d.then = Then::Respond(resp);
                return d;
            }
        }
        let mut path = rq.path.to_string();
        let mut query = rq.query.map(str::to_string);
        let mut changed = false;
        // The host's rewrites run once, before a location is chosen.
        match apply_rewrites(&host.rewrites, &path, query.as_deref(), &[], rq) {
            Rewritten::No => {}
            Rewritten::Redirect(resp) => {
                d.then = Then::Respond(resp);
                return d;
            }
            Rewritten::Internal(p, q) => {
                (path, query, changed) = (p, q.unwrap_or(query), true);
            }
        }
        let mut rewrites = 0;
        let then = loop {
            let Some((loc, caps)) = host.select_location(&path) else {
                break host.fallback();
            };
            let location = &host.locations[loc];
            match apply_rewrites(&location.rewrites, &path, query.as_deref(), &caps, rq) {
                Rewritten::No => {}
                Rewritten::Redirect(resp) => break Then::Respond(resp),
                Rewritten::Internal(p, q) => {
                    rewrites += 1;
                    if rewrites > MAX_REWRITES {
                        break Then::Respond(Response::error(500));
                    }
                    (path, query, changed) = (p, q.unwrap_or(query), true);
                    continue;
                }
            }
            if let Some(r) = &location.headers {
                d.rules.push(r.clone());
            }
            if location.max_body.is_some() {
                d.max_body = location.max_body;
            }
            if let Some(limit) = &location.rate {
                if let Some(resp) = limit.check(rq) {
                    break Then::Respond(resp);
                }
            }
            break match &location.action {
                Action::Files { files, mount } => Then::Files(files, mount),
                Action::Return(ret) => Then::Respond(ret.respond(&Vars {
                    rq,
                    path: &path,
                    query: query.as_deref(),
                    caps: &caps,
                })),
                Action::App => Then::App,
                Action::Fallback => host.fallback(),
            };
        };
        d.then = then;
        if changed {
            d.path = Some(path);
            d.query = Some(query);
        }
        d
    }
}

impl VHost {
    /// The location for `path`, and its regex captures (`$1`..).
    pub(crate) fn select_location(&self, path: &str) -> Option<(usize, Vec<String>)> {
        if let Some(i) = self.exact.get(path) {
            return Some((*i, Vec::new()));
        }
        let longest = self.prefixes.iter().find(|(p, _, _)| path.starts_with(p.as_str()));
        if let Some((_, true, i)) = longest {
            return Some((*i, Vec::new()));
        }
        let first = match &self.regex_set {
            Some(set) => set.matches(path).iter().next(),
            None => (0..self.regexes.len()).find(|&k| self.regexes[k].0.is_match(path)),
        };
        if let Some((re, i)) = first.and_then(|k| self.regexes.get(k)) {
            if let Some(c) = re.captures(path) {
                let caps =
                    c.iter().skip(1).map(|m| m.map_or(String::new(), |m| m.as_str().to_string())).collect();
                return Some((*i, caps));
            }
        }
        longest.map(|(_, _, i)| (*i, Vec::new()))
    }

    fn fallback(&self) -> Then<'_> {
        match &self.root {
            Some(files) => Then::Files(files, ""),
            None => Then::App,
        }
    }
}

impl Limit {
    /// `None`: within the limit; else the 429 to answer.
    fn check(&self, rq: &Inbound<'_>) -> Option<Response> {
        let by_header = self.header.as_deref().and_then(|h| (rq.header)(h));
        let key = match by_header {
            Some(v) => {
                // A header key cannot collide with an address key.
                let mut k = b"h:".to_vec();
                k.extend_from_slice(v);
                self.limiter.key(&k)
            }
            None => {
                let ip = (rq.peer)()?;
                let k = match ip {
                    std::net::IpAddr::V4(a) => a.octets().to_vec(),
                    std::net::IpAddr::V6(a) => a.octets().to_vec(),
                };
                self.limiter.key(&k)
            }
        };
        match self.limiter.check(key, rq.now_ns) {
            Verdict::Allow => None,
            Verdict::Deny { retry_after } => {
                Some(Response::error(429).with_header("Retry-After", retry_after.to_string()))
            }
        }
    }
}

/// The outcome of a list of rewrite rules.
enum Rewritten {
    No,
    Redirect(Response),
    /// A new path and, if the replacement had a `?`, a new query.
    Internal(String, Option<Option<String>>),
}

fn apply_rewrites(
    rules: &[Rewrite],
    path: &str,
    query: Option<&str>,
    outer: &[String],
    rq: &Inbound<'_>,
) -> Rewritten {
    for rule in rules {
        let Some(c) = rule.from.captures(path) else { continue };
        let caps: Vec<String> =
            c.iter().skip(1).map(|m| m.map_or(String::new(), |m| m.as_str().to_string())).collect();
        let caps = if caps.is_empty() { outer.to_vec() } else { caps };
        let out = expand(&rule.to, &Vars { rq, path, query, caps: &caps });
        return match rule.redirect {
            Some(status) => {
                // The query goes along unless the replacement sets its own.
                let mut location = out;
                if let (false, Some(q)) = (location.contains('?'), query) {
                    location.push('?');
                    location.push_str(q);
                }
                Rewritten::Redirect(redirect(status, location))
            }
            None => match out.split_once('?') {
                Some((p, q)) => {
                    Rewritten::Internal(p.to_string(), Some((!q.is_empty()).then(|| q.to_string())))
                }
                None => Rewritten::Internal(out, None),
            },
        };
    }
    Rewritten::No
}

/// The variables a `return` or a rewrite's replacement may use.
struct Vars<'v, 'r> {
    rq: &'v Inbound<'r>,
    path: &'v str,
    query: Option<&'v str>,
    caps: &'v [String],
}

/// Replaces `$1`..`$9`, `$host`, `$uri`, `$request_uri`, `$args` in `template`.
/// Anything else after a `$` is kept as it is.
fn expand(template: &str, v: &Vars<'_, '_>) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let name_len = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
        let name = &after[..name_len];
        let digit = after.as_bytes().first().filter(|b| b.is_ascii_digit());
        let (value, used): (Option<String>, usize) = match (digit, name) {
            (Some(d), _) => (Some(v.caps.get(usize::from(d - b'1')).cloned().unwrap_or_default()), 1),
            (None, "host") => (Some(v.rq.host.map(normalize_host).unwrap_or_default()), 4),
            (None, "uri") => (Some(v.path.to_string()), 3),
            (None, "request_uri") => (Some(String::from_utf8_lossy(v.rq.target).into_owned()), 11),
            (None, "args") => (Some(v.query.unwrap_or_default().to_string()), 4),
            _ => (None, 0),
        };
        match value {
            Some(s) => {
                out.push_str(&s);
                rest = &after[used..];
            }
            None => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

impl Return {
    fn respond(&self, v: &Vars<'_, '_>) -> Response {
        if let Some(loc) = &self.location {
            return redirect(self.status, expand(loc, v));
        }
        let mut resp = match &self.body {
            Some(b) => Response::new(self.status)
                .with_content_type("text/plain; charset=utf-8")
                .with_body(Body::Bytes(expand(b, v).into_bytes())),
            None if self.status >= 400 => Response::error(self.status),
            None => Response::new(self.status),
        };
        if let Some(ct) = &self.content_type {
            resp.content_type = None;
            resp.add_header("Content-Type", ct.clone());
        }
        resp
    }
}

fn redirect(status: u16, location: String) -> Response {
    let body = format!("{}\n", weir_http::status_reason(status));
    Response::new(status)
        .with_content_type("text/plain; charset=utf-8")
        .with_body(Body::Bytes(body.into_bytes()))
        .with_header("Location", location)
}

/// `Example.COM.:8080` -> `example.com`; `[::1]:80` -> `[::1]`.
pub(crate) fn normalize_host(raw: &[u8]) -> String {
    let s = String::from_utf8_lossy(raw);
    let s = s.trim();
    let name = if s.starts_with('[') {
        s.find(']').map_or(s, |i| &s[..=i])
    } else {
        s.rsplit_once(':').map_or(s, |(n, _)| n)
    };
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// The site the shards serve now, swapped whole on reload.
pub struct SiteCell {
    current: Mutex<Arc<Site>>,
    generation: AtomicU64,
    pool: std::sync::OnceLock<WorkerPool>,
}

impl std::fmt::Debug for SiteCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SiteCell").field("generation", &self.generation()).finish_non_exhaustive()
    }
}

impl SiteCell {
    /// A cell holding `site`.
    pub fn new(site: Site) -> SiteCell {
        SiteCell {
            current: Mutex::new(Arc::new(site)),
            generation: AtomicU64::new(1),
            pool: std::sync::OnceLock::new(),
        }
    }

    /// Replaces the site; shards take the new one at their next request.
    pub fn replace(&self, site: Site) {
        if let Some(pool) = self.pool.get() {
            site.attach_pool(pool);
        }
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Arc::new(site);
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// How many times a site was installed (1 at start).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Gives the current site's directories the worker pool; a site
    /// installed later by [`SiteCell::replace`] gets it too.
    pub(crate) fn attach_pool(&self, pool: &WorkerPool) {
        let _ = self.pool.set(pool.clone());
        self.load().1.attach_pool(pool);
    }

    /// The current site and its generation.
    pub(crate) fn load(&self) -> (u64, Arc<Site>) {
        let site = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        (self.generation.load(Ordering::Acquire), site.clone())
    }
}

impl Site {
    /// Gives every directory the server's worker pool (background gzip).
    pub(crate) fn attach_pool(&self, pool: &WorkerPool) {
        for h in &self.hosts {
            if let Some(f) = &h.root {
                f.attach_pool(pool);
            }
            for l in &h.locations {
                if let Action::Files { files, .. } = &l.action {
                    files.attach_pool(pool);
                }
            }
        }
    }

    /// Forgets which hosts each listener serves: every listener serves
    /// every host (for a server whose listeners came from the command
    /// line instead of the file).
    pub fn serve_all_hosts_everywhere(&mut self) {
        self.listeners.clear();
    }

    /// The names of the hosts, in file order (for logs).
    pub fn host_names(&self) -> Vec<String> {
        self.hosts.iter().map(|h| h.name.clone()).collect()
    }
}

/// Builds a [`Site`] (used by `file`).
pub(crate) struct SiteBuilder {
    pub(crate) site: Site,
}

/// A host under construction (used by `file`).
pub(crate) struct HostSpec {
    pub(crate) names: Vec<String>,
    pub(crate) default: bool,
    pub(crate) rewrites: Vec<Rewrite>,
    pub(crate) locations: Vec<(Match, LocationSpec)>,
    pub(crate) root: Option<Arc<StaticFiles>>,
    pub(crate) headers: Option<Arc<HeaderRules>>,
    pub(crate) rate: Option<Arc<Limit>>,
    pub(crate) max_body: Option<u64>,
}

/// A location under construction (used by `file`).
pub(crate) struct LocationSpec {
    pub(crate) rewrites: Vec<Rewrite>,
    pub(crate) action: Action,
    pub(crate) headers: Option<Arc<HeaderRules>>,
    pub(crate) rate: Option<Arc<Limit>>,
    pub(crate) max_body: Option<u64>,
}

impl SiteBuilder {
    pub(crate) fn new(unknown: UnknownHost, server_header: Option<String>) -> SiteBuilder {
        SiteBuilder {
            site: Site {
                hosts: Vec::new(),
                exact: HashMap::new(),
                leading: Vec::new(),
                trailing: Vec::new(),
                default: None,
                listeners: Vec::new(),
                unknown,
                server_rules: server_header.as_ref().map(|s| {
                    let rules = HeaderRules {
                        set: vec![(HeaderName::from("Server"), HeaderValue::from(s.clone()))],
                        ..HeaderRules::default()
                    };
                    Arc::new(rules) as Arc<dyn Middleware>
                }),
            },
        }
    }

    /// Adds a host. Names are already checked (lower-case, unique).
    /// Regex locations must compile (checked by the caller).
    pub(crate) fn host(&mut self, spec: HostSpec) {
        let i = self.site.hosts.len();
        for n in &spec.names {
            if let Some(suffix) = n.strip_prefix('*') {
                self.site.leading.push((suffix.to_string(), i));
            } else if let Some(prefix) = n.strip_suffix('*') {
                self.site.trailing.push((prefix.to_string(), i));
            } else {
                self.site.exact.insert(n.clone(), i);
            }
        }
        if spec.default {
            self.site.default = Some(i);
        }
        let mut host = VHost {
            name: spec.names.first().cloned().unwrap_or_else(|| format!("host[{i}]")),
            rewrites: spec.rewrites,
            locations: Vec::new(),
            exact: HashMap::new(),
            prefixes: Vec::new(),
            regexes: Vec::new(),
            regex_set: None,
            root: spec.root,
            headers: spec.headers,
            rate: spec.rate,
            max_body: spec.max_body,
        };
        for (n, (m, l)) in spec.locations.into_iter().enumerate() {
            match m {
                Match::Exact(p) => {
                    host.exact.entry(p).or_insert(n);
                }
                Match::Prefix(p) => host.prefixes.push((p, false, n)),
                Match::PriorityPrefix(p) => host.prefixes.push((p, true, n)),
                Match::Regex(re) => host.regexes.push((re, n)),
            }
            host.locations.push(Location {
                rewrites: l.rewrites,
                action: l.action,
                headers: l.headers,
                rate: l.rate,
                max_body: l.max_body,
            });
        }
        // Longest first; equal lengths keep file order (stable sort).
        host.prefixes.sort_by_key(|(p, _, _)| std::cmp::Reverse(p.len()));
        if !host.regexes.is_empty() {
            // Each pattern compiled alone already, so the set compiles too;
            // if it did not, the regexes are simply tried one by one.
            host.regex_set = regex::RegexSet::new(host.regexes.iter().map(|(re, _)| re.as_str())).ok();
        }
        self.site.hosts.push(host);
    }

    /// The hosts listener `index` serves (by host index); `None`: all.
    pub(crate) fn listener(&mut self, hosts: Option<Vec<usize>>) {
        let n = self.site.hosts.len();
        self.site.listeners.push(hosts.map(|hs| {
            let mut v = vec![false; n];
            for h in hs {
                if let Some(slot) = v.get_mut(h) {
                    *slot = true;
                }
            }
            v
        }));
    }

    pub(crate) fn finish(mut self) -> Site {
        self.site.leading.sort_by_key(|(s, _)| std::cmp::Reverse(s.len()));
        self.site.trailing.sort_by_key(|(s, _)| std::cmp::Reverse(s.len()));
        self.site
    }
}

#[cfg(test)]
mod tests;
