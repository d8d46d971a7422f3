//! The application builder: routes, scopes, middleware, static files.
//!
//! ```
//! use weir_server::{App, Response, workers, middleware::Cors};
//!
//! let app = App::new()
//!     .middleware(Cors::any())
//!     .get("/", |_req| Response::text("hello"))
//!     .get("/users/:id", |req| Response::text(format!("user {}", req.param("id").unwrap())))
//!     .route("POST", "/hash", workers(|req| Response::text(format!("{}", req.body().len()))))
//!     .scope("/api", |api| api.get("/files/*rest", |req| Response::text(req.param("rest").unwrap().to_string())));
//! # let _ = app;
//! ```
//!
//! Routes are compiled once into a [`weir_http::Router`]: static segments
//! beat `:params`, which beat `*rest`; a path with routes for other methods
//! answers 405 with `Allow`, an unknown path 404. `HEAD` is served by the
//! `GET` route (the body is dropped).

use std::path::PathBuf;
use std::sync::Arc;

use weir_http::{RouteError, Router};
use weir_reactor::WorkerPool;

use crate::handler::{inline, Handler};
use crate::middleware::{Chain, Middleware};
use crate::request::Request;
use crate::response::Response;
use crate::static_files::StaticFiles;

/// A compiled route: its handler and the middleware around it.
#[derive(Clone)]
pub(crate) struct Route {
    pub(crate) handler: Handler,
    pub(crate) chain: Chain,
    /// The route answers WebSocket upgrades (see `App::ws`).
    pub(crate) ws: Option<Arc<crate::ws::WsRoute>>,
}

/// The application: compiled routes plus the app-wide middleware.
pub(crate) struct CompiledApp {
    pub(crate) router: Router<Route>,
    pub(crate) global: Chain,
    /// Routes whose pattern has no parameters, for a fast exact match
    /// before the router walk (see [`CompiledApp::exact`]).
    exact: Vec<ExactRoute>,
    /// The static-file mounts, to be given the server's worker pool.
    statics: Vec<Arc<StaticFiles>>,
}

/// A parameter-free route: its path, its method (`None`: any), the route.
type ExactRoute = (Box<str>, Option<Box<[u8]>>, Route);

/// Above this many parameter-free routes, the linear exact-match pass
/// would cost more than the router walk it saves.
const EXACT_MAX: usize = 32;

impl CompiledApp {
    /// Gives every static-file mount the server's worker pool, for
    /// background compression (see `static_files/compress.rs`).
    pub(crate) fn attach_pool(&self, pool: &WorkerPool) {
        for files in &self.statics {
            files.attach_pool(pool);
        }
    }

    /// The route for `method` at exactly `path` (raw bytes, already known
    /// not to need normalising), with the pattern's own `&str` — equal to
    /// the path, so the caller needs no UTF-8 check — if a parameter-free
    /// pattern matches it. A static route beats any parameter route in the
    /// router too, so this is the router's own answer, found with a few
    /// length and word compares ([`same_bytes`]) instead of a tree walk. Anything
    /// else (no match, 405, parameters) is left to the router.
    #[inline(always)]
    pub(crate) fn exact(&self, method: &[u8], path: &[u8]) -> Option<(&str, &Route)> {
        let mut get = None;
        for (p, m, route) in &self.exact {
            if !same_bytes(p.as_bytes(), path) {
                continue;
            }
            match m.as_deref() {
                Some(m) if same_bytes(m, method) => return Some((p, route)),
                Some(b"GET") if method == b"HEAD" => get = Some((&**p, route)),
                None => get = get.or(Some((&**p, route))),
                Some(_) => {}
            }
        }
        get
    }
}

/// `a == b` for short slices (paths, methods) without a `memcmp` call:
/// word compares, the last word overlapping the one before it.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], k: usize| u64::from_le_bytes(s[k..k + 8].try_into().expect("8 bytes"));
    let half = |s: &[u8], k: usize| u32::from_le_bytes(s[k..k + 4].try_into().expect("4 bytes"));
    match n {
        // First, middle and last byte cover every byte of 1 to 3.
        0 => true,
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=8 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        9..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => a == b,
    }
}

struct RouteDef {
    method: Option<String>,
    pattern: String,
    handler: Handler,
    ws: Option<Arc<crate::ws::WsRoute>>,
}

/// A group of routes under a common prefix, with its own middleware.
pub struct Scope {
    prefix: String,
    middleware: Vec<Arc<dyn Middleware>>,
    routes: Vec<RouteDef>,
    scopes: Vec<Scope>,
    statics: Vec<Arc<StaticFiles>>,
}

impl std::fmt::Debug for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope").field("prefix", &self.prefix).field("routes", &self.routes.len()).finish()
    }
}

macro_rules! method_fns {
    ($($(#[$doc:meta])* $name:ident => $method:literal),* $(,)?) => {$(
        $(#[$doc])*
        #[must_use]
        pub fn $name<F>(self, pattern: &str, handler: F) -> Self
        where
            F: Fn(&Request<'_>) -> Response + Send + Sync + 'static,
        {
            self.route($method, pattern, inline(handler))
        }
    )*};
}

impl Scope {
    fn new(prefix: &str) -> Scope {
        Scope {
            prefix: prefix.trim_end_matches('/').to_string(),
            middleware: Vec::new(),
            routes: Vec::new(),
            scopes: Vec::new(),
            statics: Vec::new(),
        }
    }

    method_fns! {
        /// An inline `GET` route (also answers `HEAD`).
        get => "GET",
        /// An inline `POST` route.
        post => "POST",
        /// An inline `PUT` route.
        put => "PUT",
        /// An inline `DELETE` route.
        delete => "DELETE",
        /// An inline `PATCH` route.
        patch => "PATCH",
    }

    /// A route for `method` (any token, e.g. `"PROPFIND"`) with a handler
    /// built by [`inline`], [`workers`](crate::workers) or [`deferred`](crate::deferred).
    #[must_use]
    pub fn route(mut self, method: &str, pattern: &str, handler: Handler) -> Self {
        self.routes.push(RouteDef {
            method: Some(method.to_string()),
            pattern: pattern.to_string(),
            handler,
            ws: None,
        });
        self
    }

    /// A route for every method.
    #[must_use]
    pub fn any(mut self, pattern: &str, handler: Handler) -> Self {
        self.routes.push(RouteDef { method: None, pattern: pattern.to_string(), handler, ws: None });
        self
    }

    /// Adds middleware around every route of this scope (and nested scopes).
    #[must_use]
    pub fn middleware(mut self, m: impl Middleware) -> Self {
        self.middleware.push(Arc::new(m));
        self
    }

    /// A nested scope under `prefix`.
    #[must_use]
    pub fn scope(mut self, prefix: &str, build: impl FnOnce(Scope) -> Scope) -> Self {
        self.scopes.push(build(Scope::new(prefix)));
        self
    }

    /// Serves the files under `dir` at `prefix` (GET and HEAD).
    #[must_use]
    pub fn static_dir(self, prefix: &str, dir: impl Into<PathBuf>) -> Self {
        self.static_files(prefix, StaticFiles::new(dir))
    }

    /// Serves files with a configured [`StaticFiles`].
    #[must_use]
    pub fn static_files(mut self, prefix: &str, files: StaticFiles) -> Self {
        let files = Arc::new(files);
        self.statics.push(files.clone());
        let base = prefix.trim_end_matches('/').to_string();
        let f = files.clone();
        // The mount point is read off each request (`mount_point`), not
        // taken from `base`: in a scope, the route's full prefix includes
        // the enclosing scopes' prefixes, which `base` does not.
        let s =
            self.route("GET", &format!("{base}/*path"), inline(move |req| f.serve(req, mount_point(req))));
        let f = files;
        let bare = if base.is_empty() { "/".to_string() } else { base };
        s.route("GET", &bare, inline(move |req| f.serve(req, mount_point(req))))
    }

    /// A WebSocket endpoint at `pattern` (see [`crate::ws`]).
    #[must_use]
    pub fn ws(mut self, pattern: &str, route: crate::ws::WsRoute) -> Self {
        let refuse = inline(|_req| {
            Response::error(426)
                .with_header("Sec-WebSocket-Version", "13")
                .with_header("Upgrade", "websocket")
        });
        self.routes.push(RouteDef {
            method: Some("GET".into()),
            pattern: pattern.to_string(),
            handler: refuse,
            ws: Some(Arc::new(route)),
        });
        self
    }

    fn flatten(
        self,
        outer_prefix: &str,
        outer_chain: &[Arc<dyn Middleware>],
        out: &mut Vec<(RouteDef, Chain)>,
        statics: &mut Vec<Arc<StaticFiles>>,
    ) {
        statics.extend(self.statics);
        let prefix = format!("{outer_prefix}{}", self.prefix);
        let mut chain: Vec<Arc<dyn Middleware>> = outer_chain.to_vec();
        chain.extend(self.middleware);
        let shared: Chain = chain.clone().into();
        for mut r in self.routes {
            r.pattern = if r.pattern == "/" && !prefix.is_empty() {
                prefix.clone()
            } else {
                format!("{prefix}{}", r.pattern)
            };
            out.push((r, shared.clone()));
        }
        for s in self.scopes {
            s.flatten(&prefix, &chain, out, statics);
        }
    }
}

/// An application: routes, scopes, middleware and static files. Build it,
/// then run it with [`crate::Server`].
#[derive(Debug)]
pub struct App {
    root: Scope,
}

impl Default for App {
    fn default() -> Self {
        App::new()
    }
}

macro_rules! app_method_fns {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[must_use]
        pub fn $name<F>(self, pattern: &str, handler: F) -> Self
        where
            F: Fn(&Request<'_>) -> Response + Send + Sync + 'static,
        {
            App { root: self.root.$name(pattern, handler) }
        }
    )*};
}

impl App {
    /// An empty application (every request: 404).
    pub fn new() -> App {
        App { root: Scope::new("") }
    }

    app_method_fns! {
        /// An inline `GET` route (also answers `HEAD`).
        get,
        /// An inline `POST` route.
        post,
        /// An inline `PUT` route.
        put,
        /// An inline `DELETE` route.
        delete,
        /// An inline `PATCH` route.
        patch,
    }

    /// A route for `method` with a handler built by [`inline`],
    /// [`workers`](crate::workers) or [`deferred`](crate::deferred).
    #[must_use]
    pub fn route(self, method: &str, pattern: &str, handler: Handler) -> Self {
        App { root: self.root.route(method, pattern, handler) }
    }

    /// A route for every method.
    #[must_use]
    pub fn any(self, pattern: &str, handler: Handler) -> Self {
        App { root: self.root.any(pattern, handler) }
    }

    /// Adds app-wide middleware (it also wraps 404 and 405 answers).
    #[must_use]
    pub fn middleware(self, m: impl Middleware) -> Self {
        App { root: self.root.middleware(m) }
    }

    /// A scope of routes under `prefix`, with its own middleware.
    #[must_use]
    pub fn scope(self, prefix: &str, build: impl FnOnce(Scope) -> Scope) -> Self {
        App { root: self.root.scope(prefix, build) }
    }

    /// Serves the files under `dir` at `prefix`.
    #[must_use]
    pub fn static_dir(self, prefix: &str, dir: impl Into<PathBuf>) -> Self {
        App { root: self.root.static_dir(prefix, dir) }
    }

    /// Serves files with a configured [`StaticFiles`].
    #[must_use]
    pub fn static_files(self, prefix: &str, files: StaticFiles) -> Self {
        App { root: self.root.static_files(prefix, files) }
    }

    /// A WebSocket endpoint.
    #[must_use]
    pub fn ws(self, pattern: &str, route: crate::ws::WsRoute) -> Self {
        App { root: self.root.ws(pattern, route) }
    }

    /// Compiles the routes.
    ///
    /// # Errors
    ///
    /// [`AppError`]: an invalid or duplicate route, with the route named.
    pub(crate) fn compile(self) -> Result<CompiledApp, AppError> {
        let global: Chain = self.root.middleware.clone().into();
        let mut defs = Vec::new();
        let root = Scope { middleware: Vec::new(), ..self.root };
        let mut statics = Vec::new();
        root.flatten("", &global, &mut defs, &mut statics);
        let mut router = Router::new();
        let mut exact = Vec::new();
        for (def, chain) in defs {
            let route = Route { handler: def.handler, chain, ws: def.ws };
            if !def.pattern.contains([':', '*']) {
                let method = def.method.as_ref().map(|m| m.as_bytes().into());
                exact.push((def.pattern.clone().into_boxed_str(), method, route.clone()));
            }
            let res = match &def.method {
                Some(m) => router.insert(m, &def.pattern, route),
                None => router.insert_any(&def.pattern, route),
            };
            res.map_err(|reason| AppError { method: def.method, pattern: def.pattern, reason })?;
        }
        if exact.len() > EXACT_MAX {
            exact.clear();
        }
        // A method-specific route must win over an any-method one (as in the router).
        exact.sort_by_key(|(_, m, _)| m.is_none());
        Ok(CompiledApp { router, global, exact, statics })
    }
}

/// Why an [`App`] could not be compiled: the route (method and full
/// pattern, scope prefixes included) and the router's reason.
///
/// [`ServerBuilder::start`](crate::ServerBuilder::start) returns it inside
/// an `io::Error` of kind `InvalidInput`; `get_ref()` and `downcast_ref`
/// recover it.
///
/// ```
/// use weir_server::{App, AppError, Response, RouteError, Server};
///
/// let app = App::new().get("/a", |_| Response::text("1")).get("/a", |_| Response::text("2"));
/// let err = Server::builder(app).listen("127.0.0.1:0".parse()?).start().unwrap_err();
/// let app_err = err.get_ref().and_then(|e| e.downcast_ref::<AppError>()).unwrap();
/// assert_eq!(app_err.reason(), &RouteError::Duplicate);
/// assert_eq!(err.to_string(), "route GET /a: duplicate route");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppError {
    method: Option<String>,
    pattern: String,
    reason: RouteError,
}

impl AppError {
    /// The route's method; `None` for a route of every method ([`App::any`]).
    pub fn method(&self) -> Option<&str> {
        self.method.as_deref()
    }

    /// The route's full pattern, scope prefixes included.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Why the router refused it (duplicate, invalid pattern, ...).
    pub fn reason(&self) -> &RouteError {
        &self.reason
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let method = self.method.as_deref().unwrap_or("*");
        write!(f, "route {method} {}: {}", self.pattern, self.reason)
    }
}

impl std::error::Error for AppError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.reason)
    }
}

/// Where a static-files route is mounted, read off the request: its path
/// without the `*path` remainder the route captured (the whole path for the
/// bare mount route), without a trailing `/`. Correct at any depth of
/// scopes, since it is the path the router actually matched.
fn mount_point<'r>(req: &'r Request<'_>) -> &'r str {
    let path = req.path();
    let mount = match req.param("path") {
        Some(rest) => path.strip_suffix(rest).unwrap_or(path),
        None => path,
    };
    mount.trim_end_matches('/')
}

#[cfg(test)]
mod tests {
    use super::same_bytes;

    #[test]
    fn same_bytes_matches_slice_equality() {
        let base: Vec<u8> = (0..40u8).map(|i| b'a' + i % 26).collect();
        for n in 0..40 {
            let a = &base[..n];
            assert!(same_bytes(a, a));
            assert!(!same_bytes(a, &base[..n + 1]));
            for k in 0..n {
                let mut b = a.to_vec();
                b[k] ^= 0x20;
                assert!(!same_bytes(a, &b), "len {n} differs at {k}");
            }
        }
    }
}
