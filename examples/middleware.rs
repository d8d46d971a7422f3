//! Middleware: an API-key check, CORS headers and a timing header.
//!
//! ```text
//! cargo run --example middleware                     # http://127.0.0.1:3004/
//! curl -i localhost:3004/                            # 200, public; Server-Timing: app;dur=0.012
//! curl -i localhost:3004/api/hello                   # 401: no key
//! curl -i -H 'X-Api-Key: let-me-in' localhost:3004/api/hello            # 200
//! curl -i -H 'Origin: http://localhost:8000' -H 'X-Api-Key: let-me-in' \
//!      localhost:3004/api/hello                      # 200 + Access-Control-Allow-Origin
//! curl -i -X OPTIONS -H 'Origin: http://localhost:8000' \
//!      -H 'Access-Control-Request-Method: GET' localhost:3004/api/hello  # 204 preflight
//! ```
//!
//! What it teaches: a [`Middleware`] has two hooks. `before` sees the
//! request first and may answer it itself (here: 401 without a key);
//! `after` sees every response on its way out (here: a header). Hooks run
//! in registration order before the handler and in reverse order after it,
//! app-wide ones ([`App::middleware`]) around scoped ones
//! ([`Scope::middleware`](weir::Scope::middleware)):
//!
//! ```text
//! request ─> Timing.before ─> Cors.before ─> ApiKey.before ─> handler
//! answer  <─ Timing.after  <─ Cors.after  <─ ApiKey.after  <─┘
//! ```
//!
//! Where each one sits matters:
//!
//! * `ApiKey` guards only the `/api` scope; `/` stays public.
//! * [`Cors`] is app-wide and comes before `ApiKey`: a browser's preflight
//!   (`OPTIONS` with `Access-Control-Request-Method`) carries no key, and
//!   has no route either, so it reaches the app-wide chain through the
//!   router's 405, where `Cors` answers it. And because `Cors.after` runs
//!   on the way out of the scope too, even a 401 carries
//!   `Access-Control-Allow-Origin`, so the page can read why it failed.
//! * `Timing` is first, so its figure covers everything after it.
//!
//! weir ships `BearerAuth`, `Cors`, `SecurityHeaders` and `AccessLog` in
//! `weir::middleware`; `ApiKey` and `Timing` are written here to show the
//! trait.

use std::cell::RefCell;
use std::time::Instant;

use weir::middleware::Cors;
use weir::{App, Middleware, Request, Response, Server};

/// The key this demo accepts. A real server would load its keys from its
/// configuration or a secret store.
const DEMO_KEY: &str = "let-me-in";

/// Requests without a known `X-Api-Key` header are answered 401.
struct ApiKey {
    keys: Vec<Vec<u8>>,
}

/// Equal bytes, compared without an early exit, so the time taken does not
/// tell an attacker how much of a key they guessed right.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).map(|(x, y)| x ^ y).fold(0, |acc, d| acc | d) == 0
}

impl Middleware for ApiKey {
    fn before(&self, req: &Request<'_>) -> Option<Response> {
        let given = req.header("x-api-key").unwrap_or_default();
        if self.keys.iter().any(|k| same_secret(k, given)) {
            None // let the handler run
        } else {
            Some(Response::error(401).with_header("WWW-Authenticate", "X-Api-Key"))
        }
    }
}

/// Adds `Server-Timing: app;dur=<ms>`, the time spent after this hook
/// (later middleware and the handler), which browsers' developer tools show.
///
/// The trait keeps no state per request, so the start time waits on a
/// per-thread stack. That is sound for inline and worker-pool routes: their
/// `before` hooks, handler and `after` hooks run back to back on one thread
/// (the shard's or a worker's). It is not for `deferred` routes, whose
/// `after` hooks run later, when the answer arrives.
struct Timing;

thread_local! {
    static STARTED: RefCell<Vec<Instant>> = const { RefCell::new(Vec::new()) };
}

impl Middleware for Timing {
    fn before(&self, _req: &Request<'_>) -> Option<Response> {
        STARTED.with_borrow_mut(|s| s.push(Instant::now()));
        None
    }

    fn after(&self, _req: &Request<'_>, resp: &mut Response) {
        if let Some(start) = STARTED.with_borrow_mut(Vec::pop) {
            let ms = start.elapsed().as_secs_f64() * 1e3;
            resp.add_header("Server-Timing", format!("app;dur={ms:.3}"));
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    weir::block_shutdown_signals()?;
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:3004".into());
    let app = App::new()
        .middleware(Timing)
        .middleware(Cors::origins(["http://localhost:8000"]))
        .get("/", |_| Response::text("public: no key needed\n"))
        .scope("/api", |api| {
            api.middleware(ApiKey { keys: vec![DEMO_KEY.into()] })
                .get("/hello", |_| Response::json(&serde_json::json!({ "hello": "key holder" })))
        });
    let server = Server::builder(app).listen(addr.parse()?).start()?;
    println!("listening on http://{}/", server.local_addrs()[0]);
    Ok(server.run_until_signal()?)
}
