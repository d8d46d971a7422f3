//! From a complete request to its handler: the target, the routing path,
//! the route, and the ways a handler answers (inline, on the worker pool,
//! deferred, async: see `tasks`), or the WebSocket upgrade.
//!
//! Routing uses one path for everything that asks "which route?": dispatch
//! and the early answer to `Expect: 100-continue` both go through
//! [`route_target`] and [`routing_path`], so `/%61pi/x` or `/a/../api/x`
//! reach the same route (or the same 404) with or without `Expect`.

use std::borrow::Cow;
use std::sync::Arc;

use weir_http::{normalize_path, LookupError, Method, RequestHead, Target, Version};
use weir_reactor::Ctx;

use super::{Meta, H1};
use crate::app::{CompiledApp, Route};
use crate::conn::ws::WsConnState;
use crate::conn::{HttpShard, TAG_ADMIN, TAG_KIND, TAG_PLAIN};
use crate::handler::{Handler, Responder};
use crate::middleware::{run_after, run_chain, Middleware};
use crate::msg::{ConnAddr, Msg};
use crate::request::{Params, Request, MAX_PARAMS};
use crate::response::Response;

/// What a request target means for routing.
pub(in crate::conn) enum Routed<'b> {
    /// A path (still raw) and its query; `needs_norm`: the path must be
    /// percent-decoded or have dot segments removed before routing.
    Path { raw: &'b [u8], query: Option<&'b [u8]>, needs_norm: bool },
    /// Not a path to route (`*`, an authority): answered as it is.
    Answer(Special),
    /// A malformed target: this status, then close.
    Fail(u16),
}

/// A target that is not a path (rare): small, so the common return of
/// [`route_target`] stays a few words.
#[derive(Debug, Clone, Copy)]
pub(in crate::conn) enum Special {
    /// `OPTIONS *` (RFC 9110 §9.3.7): the server as a whole.
    OptionsAsterisk,
    /// `*` with another method.
    Asterisk,
    /// `CONNECT host:port`: weir is not a forward proxy (and never tunnels).
    Authority,
}

impl Special {
    #[cold]
    pub(in crate::conn) fn answer(self) -> Response {
        match self {
            Special::OptionsAsterisk => {
                Response::new(204).with_header("Allow", "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS")
            }
            Special::Asterisk => Response::error(400),
            // The answer closes, so nothing after it is read.
            Special::Authority => Response::error(501).with_close(),
        }
    }
}

/// Splits the target of `head` for routing. (Inlined: called once per
/// request, and its result is a few words the caller takes apart.)
#[inline(always)]
pub(in crate::conn) fn route_target<'b>(head: &RequestHead, buf: &'b [u8]) -> Routed<'b> {
    let raw_target = head.target(buf);
    let connect = head.method() == Method::Connect;
    let (raw, query, needs_norm) = match raw_target.first() {
        // The parser saw a path with nothing to decode or normalise.
        Some(_) if head.plain_path() && !connect => (raw_target, None, false),
        // Origin form, the common case: one pass splits off the query
        // and spots anything that needs normalising.
        Some(b'/') if !connect => split_origin(raw_target),
        _ => match head.parsed_target(buf) {
            Ok(Target::Origin { path, query }) | Ok(Target::Absolute { path, query, .. }) => {
                (path, query, true)
            }
            Ok(Target::Asterisk) if head.method() == Method::Options => {
                return Routed::Answer(Special::OptionsAsterisk)
            }
            Ok(Target::Asterisk) => return Routed::Answer(Special::Asterisk),
            Ok(Target::Authority(_)) => return Routed::Answer(Special::Authority),
            Err(e) => return Routed::Fail(e.status()),
        },
    };
    Routed::Path { raw, query, needs_norm }
}

/// The path routes match against: the raw path when it is plain UTF-8, the
/// normalised one otherwise (so `/a/../admin` or `/%61dmin` cannot slip past
/// a route or a middleware guarding `/admin`). `None`: not a valid path (400).
pub(in crate::conn) fn routing_path(raw: &[u8], needs_norm: bool) -> Option<Cow<'_, str>> {
    if !needs_norm {
        if let Ok(p) = std::str::from_utf8(raw) {
            return Some(Cow::Borrowed(p));
        }
    }
    normalize_path(raw).ok().map(Cow::Owned)
}

/// Splits an origin-form target (`/path?query`) at the first `?`, and says
/// whether the path needs percent-decoding or dot-segment removal before
/// routing (rare: most paths are plain). One pass over the bytes.
fn split_origin(target: &[u8]) -> (&[u8], Option<&[u8]>, bool) {
    let mut needs = false;
    let mut prev = 0u8;
    for (i, &b) in target.iter().enumerate() {
        match b {
            b'?' => return (&target[..i], Some(&target[i + 1..]), needs),
            b'%' | b'\\' => needs = true,
            b'.' | b'/' if prev == b'/' => needs = true,
            _ => {}
        }
        prev = b;
    }
    (target, None, needs)
}

impl HttpShard {
    /// For `Expect: 100-continue`: the status to answer instead of reading
    /// the body (no such route, wrong method, a bad target), if any. The
    /// same routing as [`HttpShard::dispatch`].
    pub(super) fn early_rejection(&self, head: &RequestHead, buf: &[u8]) -> Option<u16> {
        let (raw, needs_norm) = match route_target(head, buf) {
            Routed::Path { raw, needs_norm, .. } => (raw, needs_norm),
            Routed::Answer(_) => return None,
            Routed::Fail(status) => return Some(status),
        };
        let Some(path) = routing_path(raw, needs_norm) else {
            return Some(400);
        };
        match self.shared.app.router.lookup(head.method_bytes(buf), &path) {
            Ok(_) => None,
            Err(LookupError::NotFound) => Some(404),
            Err(LookupError::MethodNotAllowed { .. }) => Some(405),
        }
    }

    /// True if `head` goes to a route that reads its body as it arrives
    /// ([`Handler::AsyncBody`]): dispatched at the head, not at the body's end.
    pub(super) fn streams_body(&self, head: &RequestHead, buf: &[u8]) -> bool {
        if self.shared.site.is_some() {
            return false; // a site decides per location: whole bodies there
        }
        let Routed::Path { raw, needs_norm, .. } = route_target(head, buf) else { return false };
        let Some(path) = routing_path(raw, needs_norm) else { return false };
        matches!(self.shared.app.router.lookup(head.method_bytes(buf), &path),
            Ok(m) if matches!(m.value.handler, Handler::AsyncBody(_)))
    }

    /// Runs a complete request: routes it and answers (or starts answering).
    pub(super) fn dispatch(
        &mut self,
        conn: &mut H1,
        cx: &mut Ctx<'_, Msg>,
        buf: &[u8],
        head: &RequestHead,
        body: &[u8],
    ) {
        let meta = Meta {
            is_head: head.is_head(),
            keep_alive: head.keep_alive(),
            http10: head.version() == Version::Http10,
        };
        if !meta.keep_alive {
            // `Connection: close` (or HTTP/1.0 without keep-alive): this is
            // the last request, whatever follows it (RFC 9112 §9.6).
            conn.stop_reading();
        }
        if let Some(port) = self.shared.config.redirect_https {
            if cx.tag() & TAG_KIND == TAG_PLAIN {
                let resp = https_redirect(head, buf, port);
                return self.complete(conn, cx, resp, meta);
            }
        }
        let (raw_path, query, needs_norm) = match route_target(head, buf) {
            Routed::Path { raw, query, needs_norm } => (raw, query, needs_norm),
            Routed::Answer(special) => return self.complete(conn, cx, special.answer(), meta),
            Routed::Fail(status) => return self.fail(conn, cx, status),
        };
        let query = query.and_then(|q| std::str::from_utf8(q).ok());
        let admin = self.shared.admin.is_some() && cx.tag() & TAG_KIND == TAG_ADMIN;
        if self.shared.site.is_some() && !admin {
            // A configuration file's hosts and locations (module `site`).
            return self.dispatch_site(conn, cx, buf, head, body, meta, raw_path, query, needs_norm);
        }
        let shared = self.shared.clone();
        let app = match &shared.admin {
            Some(admin_app) if admin => admin_app,
            _ => &shared.app,
        };
        let method = head.method_bytes(buf);
        // A plain path that names a parameter-free route exactly: the
        // route's own pattern is the path, as a `&str`, with no UTF-8 pass.
        let exact = if needs_norm { None } else { app.exact(method, raw_path) };
        let routed;
        let path: &str = match exact {
            Some((pattern, _)) => pattern,
            None => match routing_path(raw_path, needs_norm) {
                Some(p) => {
                    routed = p;
                    &routed
                }
                None => return self.fail(conn, cx, 400),
            },
        };
        let exact = match exact {
            Some((_, route)) => Some(route),
            None if needs_norm => app.exact(method, path.as_bytes()).map(|(_, route)| route),
            None => None,
        };
        let req = Request { buf, head, path, query, params: Params::EMPTY, body };
        self.run_app(conn, cx, app, &req, exact, meta, &[]);
    }

    /// Routes `req` among the app's routes (`exact`: already found by the
    /// fast path) and runs its handler. `rules`: a site's header rules,
    /// run around inline answers (empty without a configuration file).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn run_app(
        &mut self,
        conn: &mut H1,
        cx: &mut Ctx<'_, Msg>,
        app: &CompiledApp,
        req: &Request<'_>,
        exact: Option<&Route>,
        meta: Meta,
        rules: &[Arc<dyn Middleware>],
    ) {
        let Request { buf, head, path, query, body, .. } = *req;
        let method = head.method_bytes(buf);
        let lookup;
        let pairs;
        let (route, params): (&Route, Params<'_>) = match exact {
            Some(route) => (route, Params::EMPTY),
            None => {
                lookup = app.router.lookup(method, path);
                match &lookup {
                    Ok(m) => {
                        let mut list = [("", ""); MAX_PARAMS];
                        let mut n = 0;
                        for (slot, pair) in list.iter_mut().zip(m.params.iter()) {
                            *slot = pair;
                            n += 1;
                        }
                        pairs = list;
                        (m.value, Params::from_slice(&pairs[..n]))
                    }
                    Err(err) => {
                        let mut resp = match err {
                            LookupError::NotFound => run_chain(&app.global, req, || Response::error(404)),
                            LookupError::MethodNotAllowed { allow } => run_chain(&app.global, req, || {
                                Response::error(405).with_header("Allow", allow.as_bytes().to_vec())
                            }),
                        };
                        if !rules.is_empty() {
                            run_after(rules, req, &mut resp);
                        }
                        return self.complete(conn, cx, resp, meta);
                    }
                }
            }
        };
        let req = Request { buf, head, path, query, params, body };

        if let Some(ws_route) = &route.ws {
            if head.has_upgrade_header() {
                return self.upgrade(conn, cx, &req, route, &ws_route.clone(), meta);
            }
        }

        match &route.handler {
            Handler::Inline(f) => {
                let mut resp = run_chain(&route.chain, &req, || f(&req));
                if !rules.is_empty() {
                    run_after(rules, &req, &mut resp);
                }
                self.complete(conn, cx, resp, meta);
            }
            Handler::Workers(f) => {
                let seq = self.push_waiting(conn, meta, None);
                let owned = req.to_owned();
                let f = f.clone();
                let chain = route.chain.clone();
                let shared = self.shared.clone();
                let job = move || {
                    let req = owned.as_request();
                    // A panicking handler answers 500 for its own request
                    // (the reactor's panic notice does not say which one).
                    let run = std::panic::AssertUnwindSafe(|| run_chain(&chain, &req, || f(&req)));
                    let resp = std::panic::catch_unwind(run).unwrap_or_else(|_| Response::error(500));
                    Msg::Response(seq, resp)
                };
                if cx.spawn(&shared.pool, job).is_err() {
                    // The pool is saturated: shed load now rather than queue.
                    self.resolve(conn, cx, seq, Response::error(503).with_header("Retry-After", "1"));
                }
            }
            Handler::Deferred(f) => {
                // `before` hooks run now; `after` hooks when the answer arrives.
                for (i, m) in route.chain.iter().enumerate() {
                    if let Some(mut resp) = m.before(&req) {
                        run_after(&route.chain[..=i], &req, &mut resp);
                        return self.complete(conn, cx, resp, meta);
                    }
                }
                let after =
                    (!route.chain.is_empty()).then(|| (Box::new(req.to_owned()), route.chain.clone()));
                let seq = self.push_waiting(conn, meta, after);
                f(&req, Responder::new(ConnAddr { shard: cx.handle(), token: cx.token() }, seq));
            }
            Handler::Async(f) | Handler::AsyncBody(f) => self.dispatch_async(conn, cx, &req, route, f, meta),
        }
    }

    /// `Upgrade: websocket` on a WebSocket route: on success the
    /// connection's next state is left in `self.upgraded` for the caller to
    /// swap in.
    fn upgrade(
        &mut self,
        conn: &mut H1,
        cx: &mut Ctx<'_, Msg>,
        req: &Request<'_>,
        route: &Route,
        ws_route: &Arc<crate::ws::WsRoute>,
        meta: Meta,
    ) {
        if conn.pipeline.is_some() || conn.is_streaming() {
            // An upgrade must not overtake earlier answers; refuse it.
            return self.complete(conn, cx, Response::error(400).with_close(), meta);
        }
        match WsConnState::accept(self, cx, req, route, ws_route) {
            Ok(state) => {
                let _ = cx.set_nodelay(true);
                self.stats.count_upgrade();
                self.upgraded = Some(state);
            }
            Err(mut resp) => {
                run_after(&route.chain, req, &mut resp);
                self.complete(conn, cx, resp.with_close(), meta);
            }
        }
    }
}

/// `--redirect-https`: `308 Permanent Redirect` to the same host and target
/// over `https://` (RFC 9110 §15.4.9: the method and body are kept). A
/// request without a usable `Host` gets 400; a target that is not a path
/// (`*`, absolute-form) is sent to `/`.
pub(in crate::conn) fn https_redirect(head: &RequestHead, buf: &[u8], port: u16) -> Response {
    let host = head.header(buf, b"host").unwrap_or_default();
    let name = match host.iter().rposition(|&b| b == b':') {
        Some(i) if !host.ends_with(b"]") => &host[..i],
        _ => host,
    };
    let valid = !name.is_empty()
        && name.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'[' | b']' | b':'));
    if !valid {
        return Response::error(400);
    }
    let target = head.target(buf);
    let target: &[u8] = if target.starts_with(b"/") { target } else { b"/" };
    let mut location = b"https://".to_vec();
    location.extend_from_slice(name);
    if port != 443 {
        location.extend_from_slice(format!(":{port}").as_bytes());
    }
    location.extend_from_slice(target);
    Response::text("Moved to HTTPS\n").with_status(308).with_header("Location", location)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_paths_are_normalised_only_when_needed() {
        assert_eq!(routing_path(b"/api/x", false).as_deref(), Some("/api/x"));
        assert_eq!(routing_path(b"/%61pi/x", true).as_deref(), Some("/api/x"));
        assert_eq!(routing_path(b"/a/../api/x", true).as_deref(), Some("/api/x"));
        let (path, query, needs) = split_origin(b"/%61pi/x?y=1");
        assert_eq!((path, query, needs), (&b"/%61pi/x"[..], Some(&b"y=1"[..]), true));
        assert_eq!(split_origin(b"/plain/path"), (&b"/plain/path"[..], None, false));
    }
}
