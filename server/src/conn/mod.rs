//! Connections: a transport carrying a protocol.
//!
//! The reactor owns each connection's transport (plaintext, or TLS on a
//! listener tagged [`TAG_TLS`]: see `weir_reactor::transport` and
//! `weir_reactor::tls`) and hands its bytes to this shard's
//! [`Protocol`], [`HttpShard`]. What the bytes *mean* is the connection's
//! protocol state, a [`Conn`]:
//!
//! ```text
//!   accept ──> Conn::H1 ──(101 Switching Protocols)──> Conn::Ws
//!                 │                                        │
//!           h1: requests, answers in order,          ws: frames, messages,
//!           keep-alive, pipelining                   pub/sub, close handshake
//!
//!   connect ──> Conn::Upstream   an async handler's request to an upstream
//!                                (`crate::task::client`), one exchange
//! ```
//!
//! The shard's async tasks (`crate::task`) are run here too: the executor
//! lives in [`HttpShard`], and the reactor's `on_turn` polls it (module
//! `tasks`).
//!
//! An upgrade replaces the variant and keeps the transport; room is left
//! for HTTP/2 and a proxied tunnel as further variants. Each protocol's
//! callbacks live in its own module (`h1`, `ws`); this module only routes
//! the reactor's callbacks to the state the connection is in.
//!
//! Modules of `weir-server` depend on each other one way only:
//!
//! ```text
//!   request, response, head, config, middleware, static_files
//!     <- msg (what crosses threads)  <- handler, stats, ws (the API)
//!     <- app, builtins  <- site (a configuration file's hosts)
//!     <- conn (the protocols)  <- server
//! ```

use std::sync::Arc;

use weir_reactor::{CloseReason, Ctx, Protocol, ShardCtx, WorkerPool};

use crate::app::CompiledApp;
use crate::config::ServerConfig;
use crate::msg::Msg;
use crate::site::{Site, SiteCell};
use crate::stats::{HttpStats, StatsRegistry};
use crate::task::client::Upstream;
use crate::task::Executor;
use crate::ws::{PubSub, ShardWs};

mod h1;
mod h2;
mod tasks;
mod ws;

use self::h1::{ShardH1, H1};
use self::h2::H2;
use self::ws::WsConnState;

/// The listener tag of plaintext listeners.
pub(crate) const TAG_PLAIN: u16 = 0;
/// The listener tag of TLS listeners.
pub(crate) const TAG_TLS: u16 = 1;
/// The listener tag of admin listeners (plaintext; `Shared::admin` serves them).
pub(crate) const TAG_ADMIN: u16 = 2;
/// The part of a listener tag that says its transport ([`TAG_PLAIN`],
/// [`TAG_TLS`]). On a server with a configuration file, the byte above
/// holds 1 + the listener's index in the file (see [`listener_index`]);
/// compare tags with `tag & TAG_KIND`, never whole.
pub(crate) const TAG_KIND: u16 = 0xff;

/// The tag of the `index`-th listener of a configuration file.
pub(crate) fn numbered_tag(kind: u16, index: usize) -> u16 {
    match u16::try_from(index + 1) {
        Ok(n) if n < 0x100 => kind | (n << 8),
        _ => kind,
    }
}

/// The index in the configuration file of the listener a connection came
/// from (`None`: not numbered, which serves every host).
pub(crate) fn listener_index(tag: u16) -> Option<usize> {
    usize::from(tag >> 8).checked_sub(1)
}

/// Everything the shards share.
pub(crate) struct Shared {
    pub(crate) app: CompiledApp,
    /// What admin listeners serve (`/metrics`, `/healthz`, `/readyz`).
    pub(crate) admin: Option<CompiledApp>,
    pub(crate) config: ServerConfig,
    pub(crate) pool: WorkerPool,
    pub(crate) stats: Arc<StatsRegistry>,
    pub(crate) pubsub: Arc<PubSub>,
    /// The configuration file's site, if the server runs from one.
    pub(crate) site: Option<Arc<SiteCell>>,
}

/// A connection's protocol state.
pub(crate) enum Conn {
    /// HTTP/1.1 (and 1.0): the state every accepted connection starts in.
    H1(H1),
    /// WebSocket, after a successful upgrade.
    Ws(Box<WsConnState>),
    /// HTTP/2: the connection opened with the HTTP/2 preface (h2c, or
    /// ALPN `h2` over TLS); see module `h2`.
    H2(Box<H2>),
    /// An outbound connection of an async handler's HTTP client.
    Upstream(Box<Upstream>),
}

/// The per-shard protocol: shared settings, per-shard caches, and the
/// dispatch of reactor callbacks to the connection's protocol state.
pub(crate) struct HttpShard {
    pub(crate) shared: Arc<Shared>,
    /// HTTP/1's per-shard state: the parser for requests that arrive whole,
    /// the `Date` cache and the response-head memo, timeouts in ms.
    h1: ShardH1,
    pub(crate) stats: Arc<HttpStats>,
    pub(crate) stopping: bool,
    pub(crate) ws: ShardWs,
    /// A WebSocket state made by an upgrade during the current callback;
    /// the callback's caller swaps it into the connection (one slot per
    /// shard, so a connection pays nothing for the possibility).
    upgraded: Option<Box<WsConnState>>,
    /// The shard's async tasks (made in `on_start`, on the shard's thread).
    pub(crate) tasks: Option<Executor>,
    /// The site this shard last served and its generation (see `h1::site`).
    site: Option<(u64, Arc<Site>)>,
    /// `ServerConfig::http2`, copied here so that HTTP/1.1's reads test
    /// one field of the shard before anything else when it is off.
    h2: Option<weir_h2::Config>,
}

impl HttpShard {
    pub(crate) fn new(shared: Arc<Shared>, id: usize) -> HttpShard {
        HttpShard {
            h1: ShardH1::new(&shared.config),
            stats: shared.stats.http[id].clone(),
            stopping: false,
            ws: ShardWs::new(),
            upgraded: None,
            tasks: None,
            site: None,
            h2: shared.config.http2,
            shared,
        }
    }
}

impl Protocol for HttpShard {
    type Conn = Conn;
    type Message = Msg;

    fn on_open(&mut self, cx: &mut Ctx<'_, Msg>) -> Conn {
        // A connection that never sends a byte is closed quietly after the
        // head timeout; over TLS, the handshake timeout (the handshake runs
        // inside the reads, so the first request byte ends it).
        let first = if cx.tag() & TAG_KIND == TAG_TLS {
            // No Nagle over TLS from the start: TLS 1.3 sends its session
            // ticket just before the first response, which would otherwise
            // wait for the client's delayed ACK of it.
            let _ = cx.set_nodelay(true);
            self.h1.timeouts.tls_handshake
        } else {
            self.h1.timeouts.head
        };
        cx.set_deadline_ms(first);
        Conn::H1(H1::new())
    }

    fn on_data(&mut self, conn: &mut Conn, cx: &mut Ctx<'_, Msg>, data: &mut [u8]) -> usize {
        match conn {
            Conn::H1(h1) => {
                // With HTTP/2 on: its preface starts with `P`, and over TLS
                // ALPN may have chosen `h2`. With it off, one test.
                if let Some(cfg) = self.h2 {
                    // The admin listener speaks HTTP/1.1 only: its
                    // endpoints are routed there, not by HTTP/2's dispatch.
                    let kind = cx.tag() & TAG_KIND;
                    if (data.first() == Some(&b'P') || kind == TAG_TLS) && kind != TAG_ADMIN && h1.is_fresh()
                    {
                        // ALPN `h2`: HTTP/2 whatever the bytes (a bad
                        // preface is then answered GOAWAY, RFC 9113 §3.4).
                        let alpn_h2 = kind == TAG_TLS && cx.alpn() == Some(&b"h2"[..]);
                        let sniffed = if alpn_h2 { h2::Sniff::H2 } else { h2::sniff(data) };
                        match sniffed {
                            h2::Sniff::NeedMore => return 0,
                            h2::Sniff::H2 => {
                                *conn = Conn::H2(Box::new(self.h2_start(cx, cfg)));
                                let Conn::H2(state) = conn else { unreachable!("just set") };
                                return self.h2_data(state, cx, data);
                            }
                            h2::Sniff::No => {}
                        }
                    }
                }
                let used = self.h1_data(h1, cx, data);
                match self.upgraded.take() {
                    None => used,
                    Some(state) => {
                        // Upgraded mid-buffer: the rest belongs to the WebSocket.
                        *conn = Conn::Ws(state);
                        let Conn::Ws(state) = conn else { unreachable!("just set") };
                        used + ws::on_data(self, state, cx, &mut data[used..])
                    }
                }
            }
            Conn::Ws(state) => ws::on_data(self, state, cx, data),
            Conn::H2(state) => self.h2_data(state, cx, data),
            Conn::Upstream(up) => up.on_data(cx, data),
        }
    }

    fn on_connected(&mut self, conn: &mut Conn, cx: &mut Ctx<'_, Msg>) {
        if let Conn::Upstream(up) = conn {
            up.on_connected(cx);
        }
    }

    fn on_connect_failed(&mut self, conn: Conn, error: std::io::Error) {
        if let Conn::Upstream(up) = conn {
            up.on_connect_failed(&error);
        }
    }

    fn on_eof(&mut self, conn: &mut Conn, cx: &mut Ctx<'_, Msg>) {
        match conn {
            Conn::H1(h1) => self.h1_eof(h1, cx),
            Conn::Ws(_) | Conn::H2(_) => cx.close(),
            Conn::Upstream(up) => up.on_eof(cx),
        }
    }

    fn on_writable(&mut self, conn: &mut Conn, cx: &mut Ctx<'_, Msg>) {
        match conn {
            Conn::H1(h1) => self.h1_writable(h1, cx),
            Conn::Ws(state) => ws::on_writable(self, state, cx),
            Conn::H2(state) => self.h2_writable(state, cx),
            Conn::Upstream(_) => {}
        }
    }

    fn on_timer(&mut self, conn: &mut Conn, cx: &mut Ctx<'_, Msg>) {
        match conn {
            Conn::H1(h1) => self.h1_timer(h1, cx),
            Conn::Ws(state) => ws::on_timer(self, state, cx),
            Conn::H2(state) => self.h2_timer(state, cx),
            Conn::Upstream(up) => up.on_timer(cx),
        }
    }

    fn on_message(&mut self, conn: &mut Conn, cx: &mut Ctx<'_, Msg>, msg: Msg) {
        match (conn, msg) {
            (Conn::Ws(state), Msg::Ws(m)) => ws::on_message(self, state, cx, m),
            (Conn::H1(h1), msg) => self.h1_message(h1, cx, msg),
            (Conn::H2(state), msg) => self.h2_message(state, cx, msg),
            // A late answer or chunk for a connection that has upgraded since.
            (Conn::Ws(_) | Conn::Upstream(_), _) => {}
        }
    }

    fn on_job_panicked(&mut self, conn: &mut Conn, cx: &mut Ctx<'_, Msg>) {
        if let Conn::H1(h1) = conn {
            self.h1_job_panicked(h1, cx);
        }
    }

    fn on_close(&mut self, conn: Conn, _reason: CloseReason) {
        match conn {
            Conn::Ws(state) => ws::on_close(self, state),
            Conn::Upstream(up) => up.on_close(),
            Conn::H2(state) => self.h2_close(&state),
            // Dropping the state drops the guards of its unanswered async
            // tasks, which cancels them (see `crate::task::TaskGuard`).
            Conn::H1(_) => {}
        }
    }

    fn on_shard_message(&mut self, shard: &mut ShardCtx<'_, Self>, msg: Msg) {
        match msg {
            Msg::Ws(m) => ws::on_shard_message(self, shard, m),
            Msg::Wake(id) => {
                if let Some(tasks) = self.tasks.as_mut() {
                    tasks.wake_from_inbox(id);
                }
            }
            _ => {}
        }
    }

    fn on_start(&mut self, shard: &mut ShardCtx<'_, Self>) {
        let s = &self.shared;
        let max = s.config.max_tasks_per_shard;
        self.tasks = Some(Executor::new(shard.handle(), s.pool.clone(), s.pubsub.clone(), max));
    }

    fn on_turn(&mut self, shard: &mut ShardCtx<'_, Self>) {
        // Most turns of a server without async handlers end here.
        if matches!(&self.tasks, Some(tasks) if !tasks.is_idle()) {
            self.run_tasks(shard);
        }
    }

    fn turn_timeout_ms(&self, now_ms: u64) -> Option<u64> {
        self.tasks.as_ref()?.timeout_ms(now_ms)
    }

    fn on_shutdown(&mut self, shard: &mut ShardCtx<'_, Self>) {
        self.stopping = true;
        self.h1.refresh_date(shard.now_ms());
        for token in shard.tokens() {
            shard.with_conn(token, |conn, cx| match conn {
                Conn::Ws(state) => ws::on_shutdown(&mut self.ws, state, cx),
                Conn::H2(state) => self.h2_shutdown(state, cx),
                // Busy connections finish their request; its answer carries
                // `Connection: close` (see `h1::output`).
                Conn::H1(h1) if h1.is_idle() => cx.close(),
                // Busy ones and upstream exchanges finish (within the grace).
                Conn::H1(_) | Conn::Upstream(_) => {}
            });
        }
    }
}
