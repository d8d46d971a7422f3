//! Middleware: code around every handler of an app or a scope.
//!
//! A [`Middleware`] has two hooks. `before` sees the request first and may
//! answer it itself (authentication failing, a CORS preflight); `after` sees
//! every response on its way out (add headers, log). Hooks run in order of
//! registration before the handler and in reverse order after it:
//!
//! ```text
//!   before: A -> B -> C -> handler -> after: C -> B -> A
//!   (if B.before answers, only B.after and A.after run)
//! ```
//!
//! Writing one:
//!
//! ```
//! use weir_server::{Middleware, Request, Response};
//!
//! /// Tags every response with the shard-independent app version.
//! struct Version(&'static str);
//!
//! impl Middleware for Version {
//!     fn after(&self, _req: &Request<'_>, resp: &mut Response) {
//!         resp.add_header("X-App-Version", self.0);
//!     }
//! }
//! ```

use std::io::Write;
use std::sync::Arc;

use crate::log::{LogConfig, Logger};
use crate::request::Request;
use crate::response::Response;

/// Code that runs around handlers. Both hooks default to doing nothing.
pub trait Middleware: Send + Sync + 'static {
    /// Runs before the handler; returning a response skips the handler.
    fn before(&self, req: &Request<'_>) -> Option<Response> {
        let _ = req;
        None
    }

    /// Runs after the handler (or after an earlier `before` answered).
    fn after(&self, req: &Request<'_>, resp: &mut Response) {
        let _ = (req, resp);
    }
}

/// An ordered list of middleware.
pub(crate) type Chain = Arc<[Arc<dyn Middleware>]>;

/// Runs `handler` inside `chain`. Most routes have no middleware: that
/// case is inlined into the dispatcher and costs one test.
#[inline(always)]
pub(crate) fn run_chain(
    chain: &[Arc<dyn Middleware>],
    req: &Request<'_>,
    handler: impl FnOnce() -> Response,
) -> Response {
    if chain.is_empty() {
        return handler();
    }
    run_chain_through(chain, req, handler)
}

fn run_chain_through(
    chain: &[Arc<dyn Middleware>],
    req: &Request<'_>,
    handler: impl FnOnce() -> Response,
) -> Response {
    for (i, m) in chain.iter().enumerate() {
        if let Some(mut resp) = m.before(req) {
            for m in chain[..=i].iter().rev() {
                m.after(req, &mut resp);
            }
            return resp;
        }
    }
    let mut resp = handler();
    run_after(chain, req, &mut resp);
    resp
}

/// Runs only the `after` hooks (for responses produced elsewhere).
pub(crate) fn run_after(chain: &[Arc<dyn Middleware>], req: &Request<'_>, resp: &mut Response) {
    for m in chain.iter().rev() {
        m.after(req, resp);
    }
}

/// Cross-origin resource sharing (CORS): answers preflight requests and
/// adds `Access-Control-Allow-Origin` to responses.
#[derive(Debug, Clone)]
pub struct Cors {
    origins: Vec<String>,
    methods: &'static str,
    headers: &'static str,
    max_age: u32,
}

impl Cors {
    /// Allows any origin (`*`).
    pub fn any() -> Cors {
        Cors {
            origins: Vec::new(),
            methods: "GET, POST, PUT, PATCH, DELETE, OPTIONS",
            headers: "*",
            max_age: 600,
        }
    }

    /// Allows exactly these origins (e.g. `https://example.com`).
    pub fn origins<I: IntoIterator<Item = S>, S: Into<String>>(origins: I) -> Cors {
        Cors { origins: origins.into_iter().map(Into::into).collect(), ..Cors::any() }
    }

    fn allowed(&self, origin: &[u8]) -> Option<Vec<u8>> {
        if self.origins.is_empty() {
            return Some(b"*".to_vec());
        }
        self.origins.iter().any(|o| o.as_bytes() == origin).then(|| origin.to_vec())
    }
}

impl Middleware for Cors {
    fn before(&self, req: &Request<'_>) -> Option<Response> {
        let origin = req.header("origin")?;
        if req.method() != weir_http::Method::Options || req.header("access-control-request-method").is_none()
        {
            return None;
        }
        let allow = self.allowed(origin)?;
        Some(
            Response::new(204)
                .with_header("Access-Control-Allow-Origin", allow)
                .with_header("Access-Control-Allow-Methods", self.methods)
                .with_header("Access-Control-Allow-Headers", self.headers)
                .with_header("Access-Control-Max-Age", self.max_age.to_string())
                .with_header("Vary", "Origin"),
        )
    }

    fn after(&self, req: &Request<'_>, resp: &mut Response) {
        if let Some(allow) = req.header("origin").and_then(|o| self.allowed(o)) {
            if resp.header("access-control-allow-origin").is_none() {
                resp.add_header("Access-Control-Allow-Origin", allow);
                if !self.origins.is_empty() {
                    resp.add_header("Vary", "Origin");
                }
            }
        }
    }
}

/// Security headers: HSTS, `X-Content-Type-Options: nosniff`,
/// `X-Frame-Options`, `Referrer-Policy`.
#[derive(Debug, Clone)]
pub struct SecurityHeaders {
    hsts_max_age: Option<u64>,
}

impl SecurityHeaders {
    /// The set without HSTS (for plain HTTP).
    pub fn new() -> SecurityHeaders {
        SecurityHeaders { hsts_max_age: None }
    }

    /// Adds `Strict-Transport-Security: max-age=N; includeSubDomains` (serve over TLS only).
    #[must_use]
    pub fn hsts(mut self, max_age_secs: u64) -> SecurityHeaders {
        self.hsts_max_age = Some(max_age_secs);
        self
    }
}

impl Default for SecurityHeaders {
    fn default() -> Self {
        SecurityHeaders::new()
    }
}

impl Middleware for SecurityHeaders {
    fn after(&self, _req: &Request<'_>, resp: &mut Response) {
        if let Some(age) = self.hsts_max_age {
            resp.add_header("Strict-Transport-Security", format!("max-age={age}; includeSubDomains"));
        }
        if resp.header("x-content-type-options").is_none() {
            resp.add_header("X-Content-Type-Options", "nosniff");
        }
        resp.add_header("X-Frame-Options", "DENY");
        resp.add_header("Referrer-Policy", "no-referrer");
    }
}

/// Bearer-token authentication: requests without `Authorization: Bearer
/// <token>` matching one of the tokens get 401.
#[derive(Debug, Clone)]
pub struct BearerAuth {
    tokens: Vec<Vec<u8>>,
}

impl BearerAuth {
    /// Accepts any of `tokens`.
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(tokens: I) -> BearerAuth {
        BearerAuth { tokens: tokens.into_iter().map(|t| t.into().into_bytes()).collect() }
    }
}

/// Compares without an early exit, so timing does not reveal how much of a secret matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Middleware for BearerAuth {
    fn before(&self, req: &Request<'_>) -> Option<Response> {
        let ok = req
            .header("authorization")
            .and_then(|v| v.strip_prefix(b"Bearer "))
            .is_some_and(|t| self.tokens.iter().any(|k| constant_time_eq(k, t)));
        if ok {
            None
        } else {
            Some(Response::error(401).with_header("WWW-Authenticate", "Bearer"))
        }
    }
}

/// A JSON-lines access log: one line per response, written by its own
/// thread so that a slow terminal or pipe never stalls a shard.
///
/// Each line is appended to a buffer of the thread that answered; a
/// logger thread writes the buffers in batches, at least every 100 ms and
/// when the log is dropped (when the server that owns the app stops). If
/// the writer falls behind by more than about 1 MiB, lines are dropped and
/// counted ([`AccessLog::dropped`]) rather than queued without end or
/// waited for. Clones share one logger.
///
/// ```
/// use weir_server::{middleware::AccessLog, App, Response};
///
/// let app = App::new().middleware(AccessLog::stdout()?).get("/", |_| Response::text("hi"));
/// # let _ = app;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct AccessLog {
    logger: Logger,
    trust_request_id: bool,
}

/// The request id of a response: the client's `X-Request-Id` when trusted
/// and well formed (1 to 64 of `A-Z a-z 0-9 . _ -`), else one made here:
/// 8 hex digits fixed per process (random) and 8 counting per thread,
/// unique without a shared counter on the request path.
fn request_id(req: &Request<'_>, trust: bool) -> String {
    if trust {
        if let Some(id) = req.header("x-request-id").filter(|v| {
            (1..=64).contains(&v.len()) && v.iter().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(b))
        }) {
            return String::from_utf8_lossy(id).into_owned();
        }
    }
    static PROCESS: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    thread_local! {
        static NEXT: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
        static THREAD: u32 = {
            use std::hash::{BuildHasher, Hasher};
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(0);
            h.finish() as u32
        };
    }
    let process = *PROCESS.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        h.finish() as u32
    });
    let n = NEXT.get();
    NEXT.set(n.wrapping_add(1));
    let thread = THREAD.with(|t| *t);
    format!("{process:08x}{:08x}", thread.wrapping_add(n))
}

/// Now as RFC 3339 UTC with seconds (`2026-11-29T14:03:59Z`), formatted
/// once per second per thread.
fn log_time() -> String {
    thread_local! {
        static CACHE: std::cell::RefCell<(u64, String)> = const { std::cell::RefCell::new((u64::MAX, String::new())) };
    }
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.0 != secs {
            let days = secs / 86_400;
            let rem = secs % 86_400;
            let (y, m, d) = civil_from_days(i64::try_from(days).unwrap_or(0));
            *c = (
                secs,
                format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem / 60 % 60, rem % 60),
            );
        }
        c.1.clone()
    })
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

impl AccessLog {
    /// Logs to standard output.
    ///
    /// # Errors
    ///
    /// The logger thread could not be started.
    pub fn stdout() -> std::io::Result<AccessLog> {
        AccessLog::to_writer(std::io::stdout())
    }

    /// Logs to `out` (a file, a pipe, a buffer in a test).
    ///
    /// # Errors
    ///
    /// The logger thread could not be started.
    pub fn to_writer(out: impl Write + Send + 'static) -> std::io::Result<AccessLog> {
        Ok(AccessLog {
            logger: Logger::new("weir-access-log", Box::new(out), LogConfig::default())?,
            trust_request_id: false,
        })
    }

    /// Takes the client's `X-Request-Id` (when well formed) instead of
    /// making one: for a server behind a proxy that sets it. Off by default:
    /// a client could otherwise choose the ids in the log.
    #[must_use]
    pub fn trust_request_id(mut self, trust: bool) -> AccessLog {
        self.trust_request_id = trust;
        self
    }

    /// Lines dropped so far because the writer could not keep up.
    pub fn dropped(&self) -> u64 {
        self.logger.dropped()
    }
}

/// One access-log line.
#[derive(serde::Serialize)]
struct AccessLine<'a> {
    time: String,
    method: &'a str,
    path: &'a str,
    status: u16,
    /// `null` for a streamed body.
    bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_agent: Option<&'a str>,
    request_id: &'a str,
}

impl Middleware for AccessLog {
    fn after(&self, req: &Request<'_>, resp: &mut Response) {
        // The id goes back to the client too, so a report can name the line.
        let id = match resp.header("x-request-id") {
            Some(v) => String::from_utf8_lossy(v).into_owned(),
            None => {
                let id = request_id(req, self.trust_request_id);
                resp.add_header("X-Request-Id", id.clone());
                id
            }
        };
        let line = AccessLine {
            time: log_time(),
            method: req.method_str(),
            path: req.path(),
            status: resp.status(),
            bytes: resp.body().len(),
            host: req.header_str("host"),
            user_agent: req.header_str("user-agent"),
            request_id: &id,
        };
        // Serialising plain fields into a Vec cannot fail.
        self.logger.write_line(|out| {
            let _ = serde_json::to_writer(out, &line);
        });
    }
}

/// Middleware from a `before` closure.
pub fn before<F>(f: F) -> impl Middleware
where
    F: Fn(&Request<'_>) -> Option<Response> + Send + Sync + 'static,
{
    struct Before<F>(F);
    impl<F: Fn(&Request<'_>) -> Option<Response> + Send + Sync + 'static> Middleware for Before<F> {
        fn before(&self, req: &Request<'_>) -> Option<Response> {
            (self.0)(req)
        }
    }
    Before(f)
}

/// Middleware from an `after` closure.
pub fn after<F>(f: F) -> impl Middleware
where
    F: Fn(&Request<'_>, &mut Response) + Send + Sync + 'static,
{
    struct After<F>(F);
    impl<F: Fn(&Request<'_>, &mut Response) + Send + Sync + 'static> Middleware for After<F> {
        fn after(&self, req: &Request<'_>, resp: &mut Response) {
            (self.0)(req, resp);
        }
    }
    After(f)
}

#[cfg(test)]
mod tests {
    use super::civil_from_days;

    #[test]
    fn days_become_calendar_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(59), (1970, 3, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(19_716), (2023, 12, 25));
        assert_eq!(civil_from_days(20_786), (2026, 11, 29));
    }
}
