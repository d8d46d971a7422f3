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
        Ok(AccessLog { logger: Logger::new("weir-access-log", Box::new(out), LogConfig::default())? })
    }

    /// Lines dropped so far because the writer could not keep up.
    pub fn dropped(&self) -> u64 {
        self.logger.dropped()
    }
}

/// One access-log line.
#[derive(serde::Serialize)]
struct AccessLine<'a> {
    method: &'a str,
    path: &'a str,
    status: u16,
    /// `null` for a streamed body.
    bytes: Option<u64>,
}

impl Middleware for AccessLog {
    fn after(&self, req: &Request<'_>, resp: &mut Response) {
        let line = AccessLine {
            method: req.method_str(),
            path: req.path(),
            status: resp.status(),
            bytes: resp.body().len(),
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
