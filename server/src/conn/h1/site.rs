//! A request on a server run from a configuration file: the site
//! (`crate::site`) decides, and the answer is made here.
//!
//! The shard keeps the site it last used and its generation; a reload
//! bumps the generation, and the next request on this shard takes the new
//! site (one atomic load per request to notice). A request is decided and
//! answered under one site: an answer that comes later (worker pool,
//! deferred, async) was already routed, so a reload in between changes
//! nothing for it. Connections themselves — keep-alive, WebSocket —
//! carry no site, so they live on across reloads.

use std::sync::Arc;

use weir_http::RequestHead;
use weir_reactor::Ctx;

use super::dispatch::routing_path;
use super::{Meta, H1};
use crate::conn::{listener_index, HttpShard};
use crate::middleware::{run_chain, Middleware};
use crate::msg::Msg;
use crate::request::{Params, Request};
use crate::response::Response;
use crate::site::{rate, Inbound, Site, Then};

impl HttpShard {
    /// The current site, taken out of the shard's cache (put it back with
    /// [`HttpShard::put_site`]). Taking it instead of cloning the `Arc`
    /// spares every request an atomic increment on a counter all shards share.
    fn take_site(&mut self) -> Option<(u64, Arc<Site>)> {
        let cell = self.shared.site.as_ref()?;
        let now = cell.generation();
        match self.site.take() {
            Some((generation, site)) if generation == now => Some((generation, site)),
            _ => Some(cell.load()),
        }
    }

    fn put_site(&mut self, site: (u64, Arc<Site>)) {
        self.site = Some(site);
    }

    /// Dispatches a request through the site.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn dispatch_site(
        &mut self,
        conn: &mut H1,
        cx: &mut Ctx<'_, Msg>,
        buf: &[u8],
        head: &RequestHead,
        body: &[u8],
        meta: Meta,
        raw_path: &[u8],
        query: Option<&str>,
        needs_norm: bool,
    ) {
        let Some(site) = self.take_site() else { return };
        self.answer_from_site(conn, cx, &site.1, buf, head, body, meta, raw_path, query, needs_norm);
        self.put_site(site);
    }

    #[allow(clippy::too_many_arguments)]
    fn answer_from_site(
        &mut self,
        conn: &mut H1,
        cx: &mut Ctx<'_, Msg>,
        site: &Site,
        buf: &[u8],
        head: &RequestHead,
        body: &[u8],
        meta: Meta,
        raw_path: &[u8],
        query: Option<&str>,
        needs_norm: bool,
    ) {
        let Some(path) = routing_path(raw_path, needs_norm) else {
            return self.fail(conn, cx, 400);
        };
        let header = |name: &str| head.header(buf, name.as_bytes());
        // The client's address, asked of the kernel (`getpeername`) at
        // most once per connection, and only if a rule needs it.
        let known = std::cell::Cell::new(conn.peer);
        let peer = || {
            if known.get().is_none() {
                known.set(cx.peer_addr().ok().map(|a| a.ip()));
            }
            known.get()
        };
        let inbound = Inbound {
            listener: listener_index(cx.tag()),
            host: head.header(buf, b"host"),
            path: &path,
            query,
            target: head.target(buf),
            header: &header,
            peer: &peer,
            now_ns: rate::now_ns(),
        };
        let decision = site.decide(&inbound);
        conn.peer = known.get();
        let path: &str = decision.path.as_deref().unwrap_or(&path);
        let query = match &decision.query {
            Some(q) => q.as_deref(),
            None => query,
        };
        // The server's rules, then the host's and location's: a new list
        // only when there are server rules to put in front.
        let with_server: Vec<Arc<dyn Middleware>>;
        let rules: &[Arc<dyn Middleware>] = match &site.server_rules {
            None => &decision.rules,
            Some(server) => {
                with_server = std::iter::once(server.clone()).chain(decision.rules.iter().cloned()).collect();
                &with_server
            }
        };
        let req = Request { buf, head, path, query, params: Params::EMPTY, body };
        if let Some(max) = decision.max_body {
            if body.len() as u64 > max {
                let resp = run_chain(rules, &req, || Response::error(413).with_close());
                conn.stop_reading();
                return self.complete(conn, cx, resp, meta);
            }
        }
        let resp = match decision.then {
            Then::Close => {
                conn.stop_reading();
                if conn.pipeline.is_none() && !conn.is_streaming() {
                    cx.close();
                }
                return;
            }
            Then::Respond(resp) => run_chain(rules, &req, || resp),
            Then::Files(files, mount) => run_chain(rules, &req, || files.serve(&req, mount)),
            Then::App => {
                let shared = self.shared.clone();
                let app = &shared.app;
                // A CORS preflight of the location is answered before the app.
                for (i, m) in rules.iter().enumerate() {
                    if let Some(mut resp) = m.before(&req) {
                        crate::middleware::run_after(&rules[..=i], &req, &mut resp);
                        return self.complete(conn, cx, resp, meta);
                    }
                }
                return self.run_app(conn, cx, app, &req, None, meta, rules);
            }
        };
        self.complete(conn, cx, resp, meta);
    }
}
